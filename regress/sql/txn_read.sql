--
-- txn_read: reads inside a transaction see its own pending widecol writes,
-- merged with the stored data by the engine's reconciliation rules: a
-- deleted row is gone, an overwritten cell shows the new value, range and
-- partition deletes apply, ORDER BY, LIMIT and the per-partition limit stay
-- right, and EXPLAIN says when the pending writes were merged.  Own keyspace
-- (server txnr_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('txnr_t');
DROP SCHEMA IF EXISTS txnr_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA txnr_t;
SET search_path = txnr_t, public, widecol;
CREATE SERVER txnr_t FOREIGN DATA WRAPPER widecol;
SET widecol.allow_filtering = on;   -- small tables, read whole

CREATE FOREIGN TABLE ts (dev int, t int, v text, s text OPTIONS (static 'true'))
    SERVER txnr_t OPTIONS (primary_key '((dev), t)', clustering_order 't DESC');
INSERT INTO ts SELECT d, t, 'stored ' || d || '.' || t, 'static ' || d
  FROM generate_series(1, 3) d, generate_series(1, 5) t;

BEGIN;
-- overwrite a cell, delete a row, add rows on both ends of a partition
UPDATE ts SET v = 'new' WHERE dev = 1 AND t = 3;
DELETE FROM ts WHERE dev = 1 AND t = 4;
INSERT INTO ts (dev, t, v) VALUES (1, 0, 'pending 0'), (1, 9, 'pending 9');
SELECT t, v, s FROM ts WHERE dev = 1;
-- ORDER BY both ways and LIMIT over the merged rows (pushed down)
SELECT t, v FROM ts WHERE dev = 1 ORDER BY t LIMIT 3;
SELECT t, v FROM ts WHERE dev = 1 ORDER BY t DESC LIMIT 3;
-- a clustering range
SELECT t, v FROM ts WHERE dev = 1 AND t BETWEEN 2 AND 9;
-- a range delete and a partition delete
DELETE FROM ts WHERE dev = 2 AND t >= 2 AND t < 5;
DELETE FROM ts WHERE dev = 3;
INSERT INTO ts (dev, t, v) VALUES (3, 7, 'after the partition delete');
SELECT dev, t, v, s FROM ts WHERE dev IN (2, 3) ORDER BY dev, t;
-- the whole table, and the per-partition limit
SELECT dev, count(*), max(t) FROM ts GROUP BY dev ORDER BY dev;
SET widecol.per_partition_limit = 2;
SELECT dev, t FROM ts ORDER BY dev, t DESC;
RESET widecol.per_partition_limit;
-- pages of two rows: the overlay goes with every page
SET widecol.fetch_size = 2;
SELECT t, v FROM ts WHERE dev = 1;
SELECT dev, t FROM ts ORDER BY dev, t;
RESET widecol.fetch_size;
-- a static column written in the transaction
UPDATE ts SET s = 'static new' WHERE dev = 1;
SELECT DISTINCT s FROM ts WHERE dev = 1;
-- EXPLAIN says when pending writes are merged
EXPLAIN (COSTS OFF) SELECT * FROM ts WHERE dev = 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM ts WHERE dev = 1;
-- a savepoint rolled back takes its writes out of later reads
SAVEPOINT s1;
DELETE FROM ts WHERE dev = 1;
SELECT count(*) AS in_savepoint FROM ts WHERE dev = 1;
ROLLBACK TO s1;
SELECT count(*) AS after_rollback_to FROM ts WHERE dev = 1;
-- a statement reading a table it writes does not see its own writes
INSERT INTO ts (dev, t, v) SELECT dev, t + 100, 'copy' FROM ts WHERE dev = 1;
SELECT count(*) AS doubled FROM ts WHERE dev = 1;
ROLLBACK;

-- after ROLLBACK the stored data is back, unchanged
SELECT dev, count(*), min(v), max(v) FROM ts GROUP BY dev ORDER BY dev;
EXPLAIN (COSTS OFF) SELECT * FROM ts WHERE dev = 1;

-- committed: what the transaction read is what is stored
BEGIN;
DELETE FROM ts WHERE dev = 2 AND t <= 2;
UPDATE ts SET v = 'committed' WHERE dev = 2 AND t = 5;
SELECT t, v FROM ts WHERE dev = 2;
COMMIT;
SELECT t, v FROM ts WHERE dev = 2;

-- a function that writes then reads in one statement sees its writes
CREATE FUNCTION put_and_count(d int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO txnr_t.ts (dev, t, v) SELECT d, g, 'f' FROM generate_series(1, 10) g;
    RETURN (SELECT count(*) FROM txnr_t.ts WHERE dev = d);
END
$$;
SELECT put_and_count(50);
SELECT count(*) FROM ts WHERE dev = 50;
