--
-- tam_stream: UPDATE and DELETE of a table of the widecol access method
-- change each row as they read it, keeping only the latest row read in
-- memory (context "widecol rows to change"), not every row of the
-- statement; plans that hold rows back (a join that reads the table on
-- its inner side) still keep them all and give the same results; DELETE
-- ... RETURNING still sees the deleted rows.
-- Own keyspace (server tam_stream_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('tam_stream_t');
DROP SCHEMA IF EXISTS tam_stream_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA tam_stream_t;
SET search_path = tam_stream_t, public, widecol;
CREATE SERVER tam_stream_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);
CREATE TABLE big (k int PRIMARY KEY, v text) USING widecol WITH (keyspace = 'tam_stream_t');
INSERT INTO big SELECT i, repeat('x', 200) FROM generate_series(1, 20000) i;
SET widecol.allow_filtering = on;
SET client_min_messages = warning;	-- the tombstones of the DELETEs

-- the memory of the rows kept for an UPDATE or DELETE while it runs: read
-- after every 1000th row it changes, the most of it returned
CREATE FUNCTION rows_bytes() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(sum(total_bytes), 0)::bigint FROM pg_backend_memory_contexts
    WHERE name = 'widecol rows to change' $$;
CREATE FUNCTION rows_peak(stmt text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r record; m bigint := 0;
BEGIN
    FOR r IN EXECUTE stmt || ' RETURNING CASE WHEN k % 1000 = 0 THEN rows_bytes() END AS b'
    LOOP
        m := greatest(m, r.b);
    END LOOP;
    RETURN m;
END $$;

-- 20000 rows of 200 bytes: about 5 MB if every row read were kept
SELECT rows_peak($$UPDATE big SET v = 'updated'$$) < 200000 AS update_bounded;
SELECT count(*) FROM big WHERE v = 'updated';
SELECT rows_peak($$DELETE FROM big WHERE k <= 5000$$) < 200000 AS delete_bounded;
SELECT count(*) FROM big;

-- a join that sorts the table's rows first keeps them all: same results
SET enable_nestloop = off;
SET enable_hashjoin = off;
UPDATE big SET v = 'joined ' || s.n FROM (SELECT n FROM generate_series(5001, 5010) n) s
  WHERE big.k = s.n;
RESET enable_nestloop;
RESET enable_hashjoin;
-- one that reads it on the outer side of a hash join changes rows as it reads them
SET enable_nestloop = off;
SET enable_mergejoin = off;
UPDATE big SET v = 'hashed ' || s.n FROM (SELECT n FROM generate_series(5003, 5004) n) s
  WHERE big.k = s.n;
RESET enable_nestloop;
RESET enable_mergejoin;
SELECT k, v FROM big WHERE k IN (5001, 5003, 5010, 5011) ORDER BY k;

-- DELETE ... RETURNING sees each deleted row
DELETE FROM big WHERE k IN (5001, 5002, 6000) RETURNING k, v;
SELECT count(*) FROM big;

SET client_min_messages = warning;
DROP SERVER tam_stream_t CASCADE;
DROP SCHEMA tam_stream_t CASCADE;
