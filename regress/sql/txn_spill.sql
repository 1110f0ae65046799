--
-- txn_spill: pending writes beyond widecol.transaction_buffer_mb move to a
-- temporary file and still commit as one batch, roll back to a savepoint
-- inside the file, and are seen by reads; a transaction beyond the 64 MB
-- of one atomic batch gets a NOTICE and streams its writes from then on:
-- they are applied in order, and a ROLLBACK keeps what was sent.  Own
-- keyspace (server txns_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('txns_t');
DROP SCHEMA IF EXISTS txns_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA txns_t;
SET search_path = txns_t, public, widecol;
CREATE SERVER txns_t FOREIGN DATA WRAPPER widecol;
CREATE FOREIGN TABLE big (p int, c int, v text) SERVER txns_t
    OPTIONS (primary_key '((p), c)');

SET widecol.transaction_buffer_mb = 1;
SHOW widecol.transaction_buffer_mb;
BEGIN;
-- about 4 MB: three quarters of it in the file
INSERT INTO big SELECT g % 10, g, repeat('x', 200) || g FROM generate_series(1, 20000) g;
SAVEPOINT a;
-- rolled back: its writes are partly in memory, partly spilled
INSERT INTO big SELECT 100, g, repeat('y', 200) FROM generate_series(1, 8000) g;
ROLLBACK TO a;
UPDATE big SET v = 'updated' WHERE p = 3 AND c = 3;
DELETE FROM big WHERE p = 4 AND c <= 1004;
-- reads merge what was spilled and what is in memory
SELECT count(*) AS rows, count(*) FILTER (WHERE v = 'updated') AS updated FROM big WHERE p IN (3, 4, 100);
COMMIT;
SELECT count(*) AS rows, count(*) FILTER (WHERE v = 'updated') AS updated FROM big WHERE p IN (3, 4, 100);
SELECT p, count(*), min(c), max(c) FROM big WHERE p IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100) GROUP BY p ORDER BY p;

-- ROLLBACK of a spilled transaction stores nothing
BEGIN;
INSERT INTO big SELECT 200, g, repeat('z', 200) FROM generate_series(1, 10000) g;
ROLLBACK;
SELECT count(*) AS after_rollback FROM big WHERE p = 200;

-- beyond 64 MB: a NOTICE, then the writes stream, in order
RESET widecol.transaction_buffer_mb;
BEGIN;
INSERT INTO big SELECT 300 + g % 4, g, repeat('w', 1000) FROM generate_series(1, 70000) g;
DELETE FROM big WHERE p = 301;
COMMIT;
SELECT p, count(*) FROM big WHERE p IN (300, 301, 302, 303) GROUP BY p ORDER BY p;
-- a streamed transaction rolled back keeps what was sent, as the NOTICE says
BEGIN;
INSERT INTO big SELECT 400, g, repeat('u', 1000) FROM generate_series(1, 70000) g;
ROLLBACK;
SELECT count(*) > 60000 AS streamed_part_stays, count(*) < 70000 AS last_batch_gone FROM big WHERE p = 400;

-- from 1 MB of writes on, a statement or transaction hands its writes to
-- the node as they are made (staged, invisible) and publishes them at the
-- end: a statement that fails after staging leaves nothing
SET widecol.transaction_buffer_mb = 1;
INSERT INTO big SELECT 500, g, repeat('s', 200) || (1 / (g - 20000)) FROM generate_series(1, 20000) g;
SELECT count(*) AS failed_statement_rows FROM big WHERE p = 500;
-- an exception caught in PL/pgSQL undoes writes that were staged; the rest commits
DO $$
BEGIN
  INSERT INTO big SELECT 501, g, repeat('s', 200) FROM generate_series(1, 10000) g;
  BEGIN
    INSERT INTO big SELECT 502, g, repeat('s', 200) FROM generate_series(1, 10000) g;
    RAISE EXCEPTION 'undo 502';
  EXCEPTION WHEN raise_exception THEN NULL;
  END;
  INSERT INTO big SELECT 503, g, repeat('s', 200) FROM generate_series(1, 10) g;
END $$;
SELECT p, count(*) FROM big WHERE p IN (500, 501, 502, 503) GROUP BY p ORDER BY p;
-- a savepoint rolled back after the last chunk was staged: staging goes on
BEGIN;
INSERT INTO big SELECT 504, g, repeat('s', 200) FROM generate_series(1, 10000) g;
SAVEPOINT b;
INSERT INTO big SELECT 505, g, 's' FROM generate_series(1, 10) g;
ROLLBACK TO b;
INSERT INTO big SELECT 506, g, repeat('s', 200) FROM generate_series(1, 10000) g;
SELECT count(*) AS read_own_staged FROM big WHERE p IN (504, 505, 506);
COMMIT;
SELECT p, count(*) FROM big WHERE p IN (504, 505, 506) GROUP BY p ORDER BY p;
-- counter updates are never staged (the node resolves them under its
-- counter lock): a transaction that makes them, before or after chunks were
-- staged, sends all its writes as one batch at commit
CREATE FOREIGN TABLE hits (p int, n widecol.counter) SERVER txns_t
    OPTIONS (primary_key '((p))');
BEGIN;
INSERT INTO big SELECT 507, g, repeat('s', 200) FROM generate_series(1, 10000) g;
UPDATE hits SET n = n + 1 WHERE p = 1;
INSERT INTO big SELECT 508, g, repeat('s', 200) FROM generate_series(1, 10000) g;
UPDATE hits SET n = n + 2 WHERE p = 1;
COMMIT;
SELECT p, count(*) FROM big WHERE p IN (507, 508) GROUP BY p ORDER BY p;
SELECT p, n FROM hits;
RESET widecol.transaction_buffer_mb;
