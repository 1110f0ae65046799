--
-- lwt: lightweight transactions on one node.  INSERT ... ON CONFLICT DO
-- NOTHING is CQL IF NOT EXISTS: INSERT 0 1 when the row is new, INSERT 0 0
-- (and the stored row unchanged) when it exists; RETURNING shows only the
-- rows that applied; a deleted row can be inserted again; a row whose
-- cells all expired no longer exists; refused inside a transaction block,
-- with a conflict target or DO UPDATE; widecol.serial_consistency.
-- Own keyspace (server lwt_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('lwt_t');
DROP SCHEMA IF EXISTS lwt_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA lwt_t;
SET search_path = lwt_t, public;

CREATE SERVER lwt_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- user registry: PRIMARY KEY (username)
CREATE FOREIGN TABLE user_registry (
    username text,
    email    text,
    created  int
) SERVER lwt_t OPTIONS (primary_key 'username');

-- (the count of rows RETURNING gives is the row count: INSERT 0 1 or INSERT 0 0)
WITH w AS (INSERT INTO user_registry VALUES ('carol', 'carol@example.com', 1)
    ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) AS inserted FROM w;
WITH w AS (INSERT INTO user_registry VALUES ('carol', 'mallory@example.com', 2)
    ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) AS inserted FROM w;
SELECT * FROM user_registry;

-- RETURNING: the applied rows only
INSERT INTO user_registry VALUES ('dave', 'dave@example.com', 3) ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO user_registry VALUES ('dave', 'eve@example.com', 4) ON CONFLICT DO NOTHING RETURNING *;

-- several rows: each is its own transaction
WITH w AS (INSERT INTO user_registry VALUES ('carol', 'x', 5), ('erin', 'erin@example.com', 6),
    ('frank', 'frank@example.com', 7) ON CONFLICT DO NOTHING RETURNING 1)
SELECT count(*) AS inserted FROM w;
SELECT username, email FROM user_registry ORDER BY username;

-- a plain INSERT is still an upsert; a deleted row can be registered again
INSERT INTO user_registry VALUES ('carol', 'carol@new.example.com', 8);
DELETE FROM user_registry WHERE username = 'carol';
INSERT INTO user_registry VALUES ('carol', 'carol2@example.com', 9) ON CONFLICT DO NOTHING;
SELECT email FROM user_registry WHERE username = 'carol';

-- a row whose cells all expired does not exist any more
SET widecol.ttl = 1;
INSERT INTO user_registry VALUES ('ghost', 'ghost@example.com', 10);
RESET widecol.ttl;
SELECT pg_sleep(2.1);
INSERT INTO user_registry VALUES ('ghost', 'ghost2@example.com', 11) ON CONFLICT DO NOTHING;
SELECT email FROM user_registry WHERE username = 'ghost';

-- clustering keys: the condition is on one row of the partition
CREATE FOREIGN TABLE seats (
    show_id int,
    seat    text,
    holder  text
) SERVER lwt_t OPTIONS (primary_key '((show_id), seat)');
INSERT INTO seats VALUES (1, 'A1', 'ann') ON CONFLICT DO NOTHING;
INSERT INTO seats VALUES (1, 'A2', 'bob') ON CONFLICT DO NOTHING;
WITH w AS (INSERT INTO seats VALUES (1, 'A1', 'cid') ON CONFLICT DO NOTHING RETURNING 1)
SELECT count(*) AS inserted FROM w;
SELECT seat, holder FROM seats WHERE show_id = 1 ORDER BY seat;

-- LOCAL_SERIAL works on one node too; other values are refused
SET widecol.serial_consistency = local_serial;
INSERT INTO seats VALUES (1, 'A3', 'dan') ON CONFLICT DO NOTHING;
RESET widecol.serial_consistency;
SET widecol.serial_consistency = quorum;

-- SERIAL reads (one partition); a write at SERIAL is refused
SET widecol.consistency = serial;
SELECT holder FROM seats WHERE show_id = 1 AND seat = 'A1';
SELECT count(*) FROM seats;
INSERT INTO seats VALUES (2, 'A1', 'zed');
RESET widecol.consistency;
SELECT count(*) FROM seats WHERE show_id = 2;

-- in a PL/pgSQL exception block (a subtransaction) it is applied at once
DO $$
DECLARE n bigint;
BEGIN
    BEGIN
        INSERT INTO lwt_t.seats VALUES (1, 'C1', 'fay') ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        RAISE NOTICE 'INSERT 0 %', n;
        INSERT INTO lwt_t.seats VALUES (1, 'C1', 'gus') ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        RAISE NOTICE 'INSERT 0 %', n;
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
END
$$;
SELECT holder FROM seats WHERE show_id = 1 AND seat = 'C1';

-- refused: in a transaction block, with a conflict target, DO UPDATE
\set VERBOSITY default
BEGIN;
INSERT INTO seats VALUES (1, 'B1', 'eve') ON CONFLICT DO NOTHING;
ROLLBACK;
SELECT widecol_try($$INSERT INTO seats VALUES (1, 'B1', 'eve') ON CONFLICT (show_id, seat) DO NOTHING$$);
SELECT widecol_try($$INSERT INTO seats VALUES (1, 'B1', 'eve') ON CONFLICT DO UPDATE SET holder = 'x'$$);
SELECT count(*) FROM seats WHERE show_id = 1 AND seat = 'B1';
\set VERBOSITY terse
