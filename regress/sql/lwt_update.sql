--
-- lwt_update: an UPDATE or DELETE of one row (= on every primary-key
-- column) with conditions on other columns is CQL's UPDATE/DELETE ... IF,
-- a lightweight transaction on one node: UPDATE 1 when the conditions hold
-- on the row read at SERIAL, UPDATE 0 (and the row unchanged) when they do
-- not; SET expressions are computed from the row read; =, <>, <, >, IS
-- NULL, IS NOT NULL, functions and OR; static columns; RETURNING shows the
-- row as applied; a missing row is not applied; EXPLAIN names it; refused
-- in a transaction block, after a write of its partition in the same
-- transaction, for write-time, TTL and collection columns.
-- Statements without conditions, or naming more than one row, are plain
-- writes as before.  Own keyspace (server lwtu_t); can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('lwtu_t');
DROP SCHEMA IF EXISTS lwtu_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA lwtu_t;
SET search_path = lwtu_t, public;

CREATE SERVER lwtu_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

CREATE FOREIGN TABLE account_balances (
    account_id int,
    balance    int,
    status     text,
    note       text
) SERVER lwtu_t OPTIONS (primary_key 'account_id');
INSERT INTO account_balances VALUES (1, 100, NULL, 'a'), (2, 50, 'open', 'b');

-- applied once: the second decrement finds 90, not 100 (UPDATE 0)
WITH w AS (UPDATE account_balances SET balance = balance - 10 WHERE account_id = 1 AND balance = 100 RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE account_balances SET balance = balance - 10 WHERE account_id = 1 AND balance = 100 RETURNING 1) SELECT count(*) AS applied FROM w;
SELECT balance FROM account_balances WHERE account_id = 1;

-- IS NULL, IS NOT NULL
WITH w AS (UPDATE account_balances SET status = 'open' WHERE account_id = 1 AND status IS NULL RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE account_balances SET status = 'closed' WHERE account_id = 1 AND status IS NULL RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE account_balances SET note = NULL WHERE account_id = 1 AND note IS NOT NULL RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE account_balances SET note = 'x' WHERE account_id = 1 AND note IS NOT NULL RETURNING 1) SELECT count(*) AS applied FROM w;
SELECT * FROM account_balances WHERE account_id = 1;

-- <>, <, >, a function, OR
WITH w AS (UPDATE account_balances SET balance = 0 WHERE account_id = 2 AND balance < 10 RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE account_balances SET balance = 0 WHERE account_id = 2 AND (balance < 0 OR upper(status) = 'FROZEN') RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE account_balances SET balance = balance * 2
    WHERE account_id = 2 AND balance > 40 AND status <> 'closed' AND length(note) = 1
    RETURNING 1) SELECT count(*) AS applied FROM w;
SELECT * FROM account_balances WHERE account_id = 2;

-- RETURNING: the row as applied (its other columns as read); nothing when not applied
UPDATE account_balances SET balance = balance + 5, note = 'deposit'
    WHERE account_id = 1 AND status = 'open' RETURNING *;
UPDATE account_balances SET balance = balance + 5 WHERE account_id = 1 AND status = 'closed'
    RETURNING *;

-- a missing row: not applied, and nothing is created
WITH w AS (UPDATE account_balances SET balance = 1 WHERE account_id = 3 AND balance IS NULL RETURNING 1) SELECT count(*) AS applied FROM w;
SELECT count(*) AS missing FROM account_balances WHERE account_id = 3;

-- DELETE ... IF: applied only while the condition holds
WITH w AS (DELETE FROM account_balances WHERE account_id = 2 AND balance = 1 RETURNING 1) SELECT count(*) AS applied FROM w;
DELETE FROM account_balances WHERE account_id = 2 AND balance = 100 RETURNING *;
SELECT count(*) AS deleted FROM account_balances WHERE account_id = 2;
-- the row can be written again after a conditional DELETE
INSERT INTO account_balances VALUES (2, 7, 'open', 'again');
SELECT * FROM account_balances WHERE account_id = 2;

-- EXPLAIN names the lightweight transaction and the columns it compares;
-- a statement without conditions is a plain write
EXPLAIN (COSTS OFF) UPDATE account_balances SET balance = balance - 1
    WHERE account_id = 1 AND balance > 0;
EXPLAIN (COSTS OFF) DELETE FROM account_balances WHERE account_id = 1 AND status = 'open';
EXPLAIN (COSTS OFF) UPDATE account_balances SET balance = 1 WHERE account_id = 1;

-- (the count of rows RETURNING gives is the row count: UPDATE 1 or UPDATE 0)
-- clustering keys and a static column: the static condition is on the partition
CREATE FOREIGN TABLE seats (
    show_id  int,
    seat     text,
    holder   text,
    show_open boolean OPTIONS (static 'true')
) SERVER lwtu_t OPTIONS (primary_key '((show_id), seat)');
INSERT INTO seats VALUES (1, 'A1', NULL, true), (1, 'A2', NULL, true);
WITH w AS (UPDATE seats SET holder = 'ann' WHERE show_id = 1 AND seat = 'A1' AND holder IS NULL AND show_open RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE seats SET holder = 'bob' WHERE show_id = 1 AND seat = 'A1' AND holder IS NULL AND show_open RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE seats SET show_open = false WHERE show_id = 1 AND seat = 'A2' AND show_open RETURNING 1) SELECT count(*) AS applied FROM w;
WITH w AS (UPDATE seats SET holder = 'cid' WHERE show_id = 1 AND seat = 'A2' AND holder IS NULL AND show_open RETURNING 1) SELECT count(*) AS applied FROM w;
SELECT seat, holder, show_open FROM seats WHERE show_id = 1 ORDER BY seat;
-- more than one row (no full key, or IN): a plain read-then-write, as before
UPDATE seats SET holder = 'dan' WHERE show_id = 1 AND holder IS NULL;
SELECT seat, holder FROM seats WHERE show_id = 1 ORDER BY seat;

-- widecol.serial_consistency applies to both the read and the write
SET widecol.serial_consistency = local_serial;
WITH w AS (UPDATE seats SET holder = 'eve' WHERE show_id = 1 AND seat = 'A2' AND holder = 'dan' RETURNING 1) SELECT count(*) AS applied FROM w;
RESET widecol.serial_consistency;
SELECT holder FROM seats WHERE show_id = 1 AND seat = 'A2';

-- in a PL/pgSQL exception block (a subtransaction) it is applied at once
DO $$
DECLARE n bigint;
BEGIN
    BEGIN
        UPDATE lwtu_t.account_balances SET balance = 500 WHERE account_id = 2 AND balance = 7;
        GET DIAGNOSTICS n = ROW_COUNT;
        RAISE NOTICE 'UPDATE %', n;
        UPDATE lwtu_t.account_balances SET balance = 600 WHERE account_id = 2 AND balance = 7;
        GET DIAGNOSTICS n = ROW_COUNT;
        RAISE NOTICE 'UPDATE %', n;
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
END
$$;
SELECT balance FROM account_balances WHERE account_id = 2;

-- refused: in a transaction block; write time, TTL and collection columns
CREATE FOREIGN TABLE profiles (
    user_id int,
    name    text,
    name_written bigint OPTIONS (writetime 'name'),
    name_ttl int OPTIONS (ttl 'name'),
    tags    text[] OPTIONS (cql_type 'set<text>')
) SERVER lwtu_t OPTIONS (primary_key 'user_id');
INSERT INTO profiles (user_id, name, tags) VALUES (1, 'ann', '{a}');
\set VERBOSITY default
BEGIN;
UPDATE account_balances SET balance = 0 WHERE account_id = 1 AND balance = 95;
ROLLBACK;
BEGIN;
DELETE FROM account_balances WHERE account_id = 1 AND balance = 95;
ROLLBACK;
\set VERBOSITY terse
SELECT widecol_try($$UPDATE profiles SET name = 'bob' WHERE user_id = 1 AND name_written > 0$$);
SELECT widecol_try($$UPDATE profiles SET name = 'bob' WHERE user_id = 1 AND name_ttl IS NULL$$);
SELECT widecol_try($$DELETE FROM profiles WHERE user_id = 1 AND 'a' = ANY (tags)$$);
SELECT widecol_try($$UPDATE profiles SET name = 'bob', name_written = 5 WHERE user_id = 1 AND name = 'ann'$$);
SELECT widecol_try($$UPDATE profiles SET tags = '{b}' WHERE user_id = 1 AND name = 'ann'$$);
SELECT widecol_try($$UPDATE account_balances SET balance = 0 WHERE account_id = 1 RETURNING *$$);
-- after a write of the same partition in its transaction (a function, a DO block)
SELECT widecol_try($$DO $d$ BEGIN
    INSERT INTO lwtu_t.account_balances VALUES (5, 1, NULL, NULL);
    UPDATE lwtu_t.account_balances SET balance = 2 WHERE account_id = 5 AND balance = 1;
END $d$ $$);
-- a conditional UPDATE of a table with collections is fine when it does not read them
WITH w AS (UPDATE profiles SET name = 'bob' WHERE user_id = 1 AND name = 'ann' RETURNING 1) SELECT count(*) AS applied FROM w;
SELECT user_id, name, tags FROM profiles;
SELECT * FROM account_balances ORDER BY account_id;
