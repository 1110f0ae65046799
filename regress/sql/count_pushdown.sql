--
-- count_pushdown: count(*) of partitions (whole or a clustering slice) is
-- counted by the node (COUNT_ROWS): the Foreign Scan returns one row, and
-- the number equals the count PostgreSQL makes over the rows read (the
-- same query with the scan in a subquery, which nothing pushes down) and a
-- heap oracle, also after row deletes, range deletes, partition deletes,
-- expired TTLs, with static rows and with a transaction's pending writes;
-- and the same for a table USING widecol.
-- Own keyspace (server count_pushdown_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('count_pushdown_t');
DROP SCHEMA IF EXISTS count_pushdown_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA count_pushdown_t;
SET search_path = count_pushdown_t, public, widecol;

CREATE SERVER count_pushdown_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

CREATE FOREIGN TABLE readings (
    sensor  int,
    day     int,
    seq     int,
    note    text,
    info    text OPTIONS (static 'true')
) SERVER count_pushdown_t OPTIONS (primary_key '((sensor), day, seq)');
CREATE TABLE h_readings (sensor int, day int, seq int, note text,
                         PRIMARY KEY (sensor, day, seq));
INSERT INTO h_readings
SELECT s, d, q, s || '/' || d || '/' || q
FROM generate_series(1, 4) s, generate_series(1, 5) d, generate_series(1, 300) q;
INSERT INTO readings (sensor, day, seq, note) SELECT * FROM h_readings;

-- the count three ways: pushed down, counted by PostgreSQL over the rows
-- read, and over the heap oracle; and how many rows the scan node (of type
-- scan) returned
CREATE FUNCTION counts_in(tab text, scan text, w text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE pushed bigint; local bigint; oracle bigint; j json; scanned bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s WHERE %s', tab, w) INTO pushed;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s OFFSET 0) s', tab, w) INTO local;
    EXECUTE format('SELECT count(*) FROM h_readings WHERE %s', w) INTO oracle;
    EXECUTE format('EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) SELECT count(*) FROM %s WHERE %s', tab, w) INTO j;
    SELECT (n->>'Actual Rows')::bigint INTO scanned
      FROM jsonb_path_query(j::jsonb, 'strict $.**') n
     WHERE jsonb_typeof(n) = 'object' AND n->>'Node Type' = scan LIMIT 1;
    RETURN format('pushed %s, local %s, oracle %s, scan returned %s row(s)', pushed, local, oracle, scanned);
END
$$;
CREATE FUNCTION counts(w text) RETURNS text LANGUAGE sql
    AS $$ SELECT counts_in('readings', 'Foreign Scan', w) $$;

-- what is pushed down
EXPLAIN (COSTS OFF) SELECT count(*) FROM readings WHERE sensor = 1;
EXPLAIN (COSTS OFF) SELECT count(*) FROM readings WHERE sensor IN (1, 3) AND day = 2 AND seq > 100;
EXPLAIN (COSTS OFF) SELECT count(*), count(*) + 1 FROM readings WHERE sensor = 1 AND day IN (1, 4);
-- not pushed: a filter PostgreSQL evaluates, count(col), GROUP BY, the whole table
EXPLAIN (COSTS OFF) SELECT count(*) FROM readings WHERE sensor = 1 AND note LIKE '1/1/%';
EXPLAIN (COSTS OFF) SELECT count(note) FROM readings WHERE sensor = 1;
EXPLAIN (COSTS OFF) SELECT day, count(*) FROM readings WHERE sensor = 1 GROUP BY day;
EXPLAIN (COSTS OFF) SELECT count(*) FROM readings;

SELECT counts('sensor = 1');
SELECT counts('sensor = 2 AND day = 3');
SELECT counts('sensor = 2 AND day = 3 AND seq >= 250');
SELECT counts('sensor = 2 AND (day, seq) > (4, 200)');
SELECT counts('sensor IN (1, 3, 3, 99) AND day IN (5, 1, 5)');
-- IN on a clustering column and then a range: PostgreSQL filters, and counts
SELECT counts('sensor IN (1, 3, 3, 99) AND day IN (5, 1) AND seq < 11');
SELECT counts('sensor = 99');
SELECT counts('sensor = NULL');
-- a LIMIT is the count's own one row, not a limit on the rows counted
SELECT count(*) FROM readings WHERE sensor = 4 LIMIT 1;
SELECT count(*), count(*) * 2 FROM readings WHERE sensor = 4 AND day = 1;
-- a prepared statement with a parameter
PREPARE c(int) AS SELECT count(*) FROM readings WHERE sensor = $1 AND day = 2;
EXECUTE c(3);
EXECUTE c(7);
DEALLOCATE c;

-- deletes: a row, a range, a whole partition (tombstones the node skips)
DELETE FROM readings WHERE sensor = 1 AND day = 1 AND seq = 7;
DELETE FROM h_readings WHERE sensor = 1 AND day = 1 AND seq = 7;
DELETE FROM readings WHERE sensor = 1 AND day = 2 AND seq < 100;
DELETE FROM h_readings WHERE sensor = 1 AND day = 2 AND seq < 100;
DELETE FROM readings WHERE sensor = 1 AND day = 4;
DELETE FROM h_readings WHERE sensor = 1 AND day = 4;
DELETE FROM readings WHERE sensor = 3;
DELETE FROM h_readings WHERE sensor = 3;
SELECT counts('sensor = 1');
SELECT counts('sensor = 1 AND day = 2');
SELECT counts('sensor IN (1, 3)');
-- the same after a flush (tombstones in an SSTable, rows in another)
SELECT widecol.flush('readings');
SELECT counts('sensor = 1');
SELECT counts('sensor = 3');

-- a static row alone counts no row (SELECT * shows it with NULL clustering columns)
INSERT INTO readings (sensor, info) VALUES (3, 'static');
SELECT counts('sensor = 3');
SELECT * FROM readings WHERE sensor = 3;
INSERT INTO readings (sensor, info) VALUES (2, 'static');
SELECT counts('sensor = 2 AND day = 5');

-- expired TTLs: rows written with a 1-second TTL are gone after it
SET widecol.ttl = 1;
INSERT INTO readings (sensor, day, seq, note) SELECT 2, 9, q, 'ttl' FROM generate_series(1, 50) q;
RESET widecol.ttl;
INSERT INTO readings (sensor, day, seq, note) SELECT 2, 9, q, 'kept' FROM generate_series(51, 60) q;
INSERT INTO h_readings SELECT 2, 9, q, 'kept' FROM generate_series(51, 60) q;
SELECT pg_sleep(1.5);
SELECT counts('sensor = 2 AND day = 9');
SELECT counts('sensor = 2');

-- a transaction's pending writes are merged into the count
BEGIN;
INSERT INTO readings (sensor, day, seq, note) SELECT 4, 7, q, 'pending' FROM generate_series(1, 25) q;
DELETE FROM readings WHERE sensor = 4 AND day = 1 AND seq <= 10;
SELECT count(*) FROM readings WHERE sensor = 4;
SELECT count(*) FROM (SELECT 1 FROM readings WHERE sensor = 4 OFFSET 0) s;
ROLLBACK;
SELECT counts('sensor = 4');

-- tables USING widecol: the same counts by the node (a WidecolScan of no
-- relation), also after deletes and expired TTLs
CREATE TABLE am_readings (sensor int, day int, seq int, note text)
    USING widecol WITH (keyspace = 'count_pushdown_t', primary_key = '((sensor), day, seq)');
INSERT INTO am_readings SELECT * FROM h_readings;
CREATE FUNCTION am_counts(w text) RETURNS text LANGUAGE sql
    AS $$ SELECT counts_in('am_readings', 'Custom Scan', w) $$;
EXPLAIN (COSTS OFF) SELECT count(*) FROM am_readings WHERE sensor IN (1, 2) AND day = 2 AND seq > 100;
EXPLAIN (COSTS OFF) SELECT count(*) FROM am_readings WHERE sensor = 1 AND note LIKE '1/1/%';
EXPLAIN (COSTS OFF) SELECT count(*) FROM am_readings;
DELETE FROM am_readings WHERE sensor = 2 AND day = 1 AND seq = 7;
DELETE FROM h_readings WHERE sensor = 2 AND day = 1 AND seq = 7;
DELETE FROM am_readings WHERE sensor = 2 AND day = 2 AND seq < 100;
DELETE FROM h_readings WHERE sensor = 2 AND day = 2 AND seq < 100;
DELETE FROM am_readings WHERE sensor = 4 AND day = 3;
DELETE FROM h_readings WHERE sensor = 4 AND day = 3;
SET widecol.ttl = 1;
INSERT INTO am_readings SELECT 2, 8, q, 'ttl' FROM generate_series(1, 40) q;
RESET widecol.ttl;
SELECT pg_sleep(1.1);
SELECT am_counts('sensor = 2');
SELECT am_counts('sensor = 2 AND day = 2');
SELECT am_counts('sensor IN (1, 2, 4) AND day = 1 AND seq >= 5');
SELECT am_counts('sensor = 4');
SELECT am_counts('sensor = 2 AND day = 8');
SELECT count(*) FROM am_readings WHERE sensor = 1 LIMIT 1;
BEGIN;
INSERT INTO am_readings VALUES (4, 3, 1, 'pending');
SELECT count(*) FROM am_readings WHERE sensor = 4;
ROLLBACK;
DROP TABLE am_readings;
