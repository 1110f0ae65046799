--
-- txn_basic: widecol writes follow the transaction.  A statement that fails
-- (an error or a cancel) leaves none of its writes; ROLLBACK, an
-- error-aborted transaction and ROLLBACK TO SAVEPOINT discard theirs;
-- COMMIT applies all of them, with one timestamp unless
-- widecol.write_timestamp sets one; a transaction mixing heap and widecol
-- tables commits or rolls back both; triggers on heap tables that write
-- widecol tables follow their transaction; PREPARE TRANSACTION is refused
-- after widecol writes.  Own keyspace (server txn_t) and schema; can run
-- twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('txn_t');
DROP SCHEMA IF EXISTS txn_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA txn_t;
SET search_path = txn_t, public, widecol;
CREATE SERVER txn_t FOREIGN DATA WRAPPER widecol;
SET widecol.allow_filtering = on;   -- small tables, read whole

CREATE FOREIGN TABLE kv (k int, v text) SERVER txn_t OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE ev (p int, c int, v int, v_wt bigint OPTIONS (writetime 'v')) SERVER txn_t
    OPTIONS (primary_key '((p), c)');
CREATE TABLE heap_kv (k int PRIMARY KEY, v text);

-- the issue's statement (2 MB of writes): fails at g = 20000, leaves none of its rows
INSERT INTO kv SELECT g, repeat('x', 100) || (1 / (g - 20000)) FROM generate_series(1, 20000) g;
SELECT count(*) AS after_failed_insert FROM kv;

-- a failing UPDATE and DELETE leave nothing either
INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 100) g;
UPDATE kv SET v = (1 / (k - 100))::text;
DELETE FROM kv WHERE k < 100 AND 1 / (k - 99) = 0;
SELECT count(*) AS rows, count(*) FILTER (WHERE v = 'v' || k) AS unchanged FROM kv;

-- COPY that fails on its last line leaves nothing
TRUNCATE kv;
COPY kv FROM stdin (FORMAT csv);
1,one
2,two
x,bad
\.
SELECT count(*) AS after_failed_copy FROM kv;

-- a constraint that fails at the last row (a CHECK of a table of the
-- widecol access method) leaves nothing
CREATE TABLE checked (k int PRIMARY KEY, v int CHECK (v < 20000)) USING widecol
    WITH (keyspace = 'txn_t');
INSERT INTO checked SELECT g, g FROM generate_series(1, 20000) g;
SELECT count(*) AS after_failed_check FROM checked;

-- a cancelled statement (statement_timeout, at its last row) leaves
-- nothing, in or out of a transaction block: 2 MB of writes, some of them
-- staged on the node already
SET statement_timeout = '500ms';
INSERT INTO kv SELECT g, repeat('x', 100) || CASE WHEN g = 20000 THEN (SELECT '' FROM pg_sleep(30)) ELSE '' END
  FROM generate_series(1, 20000) g;
RESET statement_timeout;
SELECT count(*) AS after_cancelled_insert FROM kv;
BEGIN;
INSERT INTO kv VALUES (1, 'before the cancel');
SET LOCAL statement_timeout = '500ms';
INSERT INTO kv SELECT g, repeat('x', 100) || CASE WHEN g = 20000 THEN (SELECT '' FROM pg_sleep(30)) ELSE '' END
  FROM generate_series(2, 20000) g;
COMMIT;
SELECT count(*) AS after_cancelled_transaction FROM kv;

-- COMMIT applies, ROLLBACK discards
BEGIN;
INSERT INTO kv VALUES (1, 'a'), (2, 'b');
COMMIT;
BEGIN;
INSERT INTO kv VALUES (3, 'c');
UPDATE kv SET v = 'changed' WHERE k = 1;
DELETE FROM kv WHERE k = 2;
ROLLBACK;
SELECT * FROM kv ORDER BY k;

-- an error aborts the transaction: its earlier writes are gone too
BEGIN;
INSERT INTO kv VALUES (10, 'x');
SELECT 1 / 0;
COMMIT;
SELECT count(*) AS after_aborted FROM kv WHERE k = 10;

-- nested savepoints: each ROLLBACK TO drops the writes since its savepoint
BEGIN;
INSERT INTO kv VALUES (20, 'kept');
SAVEPOINT a;
INSERT INTO kv VALUES (21, 'rolled back');
SAVEPOINT b;
INSERT INTO kv VALUES (22, 'rolled back');
ROLLBACK TO SAVEPOINT a;
INSERT INTO kv VALUES (23, 'kept');
SAVEPOINT c;
INSERT INTO kv VALUES (24, 'kept');
SAVEPOINT d;
INSERT INTO kv VALUES (25, 'rolled back');
ROLLBACK TO SAVEPOINT d;
RELEASE SAVEPOINT c;
SAVEPOINT e;
UPDATE kv SET v = 'rolled back' WHERE k = 1;
DELETE FROM kv WHERE k = 20;
ROLLBACK TO e;
COMMIT;
SELECT * FROM kv WHERE k >= 20 OR k = 1 ORDER BY k;

-- a statement that fails inside a PL/pgSQL exception block: only it is undone
DO $$
BEGIN
    INSERT INTO kv VALUES (30, 'kept');
    BEGIN
        INSERT INTO kv VALUES (31, 'undone');
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    INSERT INTO kv VALUES (32, 'kept');
END
$$;
SELECT * FROM kv WHERE k BETWEEN 30 AND 39 ORDER BY k;

-- later statements of a transaction win over earlier ones on the same cells
BEGIN;
DELETE FROM kv WHERE k = 1;
INSERT INTO kv VALUES (1, 'reinserted');
UPDATE kv SET v = 'first' WHERE k = 3;
INSERT INTO ev VALUES (1, 1, 1);
UPDATE ev SET v = 2 WHERE p = 1 AND c = 1;
UPDATE ev SET v = 3 WHERE p = 1 AND c = 1;
DELETE FROM ev WHERE p = 1;
INSERT INTO ev VALUES (1, 2, 20);
COMMIT;
SELECT * FROM kv WHERE k IN (1, 3) ORDER BY k;
SELECT p, c, v FROM ev ORDER BY p, c;
-- and a transaction's writes share its timestamp, one microsecond per statement
BEGIN;
INSERT INTO ev VALUES (2, 1, 1);
INSERT INTO ev VALUES (2, 2, 2);
INSERT INTO ev VALUES (2, 3, 3);
COMMIT;
SELECT c, v_wt - min(v_wt) OVER () AS after_first FROM ev WHERE p = 2 ORDER BY c;
-- unless widecol.write_timestamp sets one for a statement
BEGIN;
INSERT INTO ev VALUES (3, 1, 1);
SET LOCAL widecol.write_timestamp = '5000';
INSERT INTO ev VALUES (3, 2, 2);
RESET widecol.write_timestamp;
INSERT INTO ev VALUES (3, 3, 3);
COMMIT;
SELECT c, v_wt = 5000 AS given, v_wt > 1700000000000000 AS current_time FROM ev WHERE p = 3 ORDER BY c;

-- heap and widecol in one transaction: both committed or both rolled back
BEGIN;
INSERT INTO heap_kv VALUES (1, 'h');
INSERT INTO kv VALUES (40, 'w');
ROLLBACK;
BEGIN;
INSERT INTO heap_kv VALUES (2, 'h');
INSERT INTO kv VALUES (41, 'w');
COMMIT;
SELECT (SELECT string_agg(k::text, ',' ORDER BY k) FROM heap_kv) AS heap,
       (SELECT string_agg(k::text, ',' ORDER BY k) FROM kv WHERE k IN (40, 41)) AS wide;
-- a heap constraint failing at COMMIT (deferred) takes the widecol writes with it
CREATE TABLE heap_deferred (k int UNIQUE DEFERRABLE INITIALLY DEFERRED);
BEGIN;
INSERT INTO kv VALUES (42, 'w');
INSERT INTO heap_deferred VALUES (1), (1);
COMMIT;
SELECT count(*) AS after_deferred_failure FROM kv WHERE k = 42;

-- triggers on a heap table write a widecol table, in the heap's transaction
CREATE TABLE orders (id int PRIMARY KEY, amount int);
CREATE FUNCTION orders_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO txn_t.ev VALUES (100, NEW.id, NEW.amount);
    IF NEW.amount < 0 THEN
        RAISE EXCEPTION 'negative amount %', NEW.amount;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_audit();
INSERT INTO orders VALUES (1, 10), (2, 20);
INSERT INTO orders VALUES (3, 30), (4, -1);
BEGIN;
INSERT INTO orders VALUES (5, 50);
ROLLBACK;
SELECT (SELECT count(*) FROM orders) AS orders, (SELECT string_agg(c::text, ',' ORDER BY c) FROM ev WHERE p = 100) AS audited;

-- PREPARE TRANSACTION after widecol writes is refused (and rolls back)
BEGIN;
INSERT INTO kv VALUES (50, 'prepared');
PREPARE TRANSACTION 'txn_basic';
SELECT count(*) AS after_prepare FROM kv WHERE k = 50;
