--
-- secondary_index: node-local secondary indexes (widecol.create_index,
-- widecol.drop_index).  Seed latest_by_state, solution 2 (an index on
-- state) with the seed's own rows and expected output; index answers equal
-- to a filtered scan's on random data, after overwrites, deletes of rows,
-- ranges and partitions, TTL expiry, flushes and compaction, in small
-- pages; EXPLAIN naming the index; the same on a table USING widecol;
-- CREATE INDEX ... USING widecol; and every refusal with its hint.
-- Own keyspace (server secondary_index_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('secondary_index_t');
DROP SCHEMA IF EXISTS secondary_index_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA secondary_index_t;
SET search_path = secondary_index_t, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER secondary_index_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

------------------------------------------------------------------------------
-- Seed latest_by_state, solution 2: CREATE INDEX latest_events_by_state_2i
-- ON latest_events_by_device (state)
------------------------------------------------------------------------------
CREATE FOREIGN TABLE latest_events_by_device (
    device_id   uuid,
    "timestamp" timestamptz,
    state       text,
    value       text
) SERVER secondary_index_t OPTIONS (primary_key '((device_id))');

SELECT widecol.create_index('latest_events_by_device', 'state', 'latest_events_by_state_2i');

INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'on', 'event 1-1');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'off', 'event 1-2');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'on', 'event 1-3');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'off', 'event 2-1');
INSERT INTO latest_events_by_device (device_id, "timestamp", state, value)
VALUES ('33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'off', 'event 3-1');

-- Find all the latest events with state 'on' (seed: 1-3), no allow_filtering
SELECT state, device_id, "timestamp", value
FROM latest_events_by_device
WHERE state = 'on';
-- Find all the latest events with state 'off' (seed: 3-1, 2-1; rows come in
-- token order, so ORDER BY prints them as the seed does)
SELECT state, device_id, "timestamp", value
FROM latest_events_by_device
WHERE state = 'off'
ORDER BY device_id DESC;
EXPLAIN (COSTS OFF)
SELECT state, device_id, "timestamp", value FROM latest_events_by_device WHERE state = 'on';
-- the option the index lives in (pg_dump keeps it)
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'latest_events_by_device'::regclass;

------------------------------------------------------------------------------
-- Random data: every index answer equals the filtered scan's (the baseline
-- filters on an expression, which the index cannot serve)
------------------------------------------------------------------------------
CREATE FOREIGN TABLE events (
    k     int,
    c     int,
    state text,
    n     bigint,
    note  text
) SERVER secondary_index_t OPTIONS (primary_key '((k), c)');

SELECT setseed(0.14);
INSERT INTO events
SELECT k, c, (ARRAY['open', 'closed', 'held'])[1 + floor(random() * 3)::int],
       floor(random() * 5)::bigint, 'r' || k || '/' || c
FROM generate_series(1, 40) k, generate_series(1, 10) c;
-- created on existing data: backfilled
SELECT widecol.create_index('events', 'state');
SELECT widecol.create_index('events', 'n', 'events_by_n');

-- same(): the index and the baseline give the same rows
CREATE FUNCTION same(v text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    by_index text;
    by_scan text;
    rows bigint;
BEGIN
    SELECT string_agg(k || '/' || c || '/' || note, ',' ORDER BY k, c), count(*)
        INTO by_index, rows FROM events WHERE state = v;
    SET LOCAL widecol.allow_filtering = on;
    SELECT string_agg(k || '/' || c || '/' || note, ',' ORDER BY k, c)
        INTO by_scan FROM events WHERE state || '' = v;
    RETURN CASE WHEN by_index IS NOT DISTINCT FROM by_scan THEN 'same, ' || rows || ' rows'
                ELSE 'DIFFERENT: ' || coalesce(by_index, '') || ' <> ' || coalesce(by_scan, '') END;
END $$;
CREATE FUNCTION same_n(v bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    by_index text;
    by_scan text;
    rows bigint;
BEGIN
    SELECT string_agg(k || '/' || c, ',' ORDER BY k, c), count(*)
        INTO by_index, rows FROM events WHERE n = v;
    SET LOCAL widecol.allow_filtering = on;
    SELECT string_agg(k || '/' || c, ',' ORDER BY k, c)
        INTO by_scan FROM events WHERE n + 0 = v;
    RETURN CASE WHEN by_index IS NOT DISTINCT FROM by_scan THEN 'same, ' || rows || ' rows'
                ELSE 'DIFFERENT: ' || coalesce(by_index, '') || ' <> ' || coalesce(by_scan, '') END;
END $$;
CREATE FUNCTION all_same() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT 'state ' || s || ': ' || same(s) FROM unnest(ARRAY['open', 'closed', 'held']) s
    UNION ALL
    SELECT 'n ' || i || ': ' || same_n(i) FROM generate_series(0, 4) i
$$;

SELECT all_same();
-- small pages
SET widecol.fetch_size = 7;
SELECT all_same();
RESET widecol.fetch_size;

-- overwrites move rows between values
UPDATE events SET state = 'closed' WHERE k = 3 AND c = 4;
INSERT INTO events
SELECT k, c, (ARRAY['open', 'closed', 'held'])[1 + floor(random() * 3)::int],
       floor(random() * 5)::bigint, 'again ' || k || '/' || c
FROM generate_series(1, 40, 3) k, generate_series(1, 10, 2) c;
SELECT all_same();
-- deletes: rows, a clustering range, whole partitions
DELETE FROM events WHERE k = 5 AND c = 5;
DELETE FROM events WHERE k = 6 AND c >= 3 AND c < 8;
DELETE FROM events WHERE k IN (7, 8, 9);
SELECT all_same();
-- a cell set to NULL
UPDATE events SET state = NULL, n = NULL WHERE k = 10 AND c = 1;
SELECT all_same();
-- flushed and compacted: the same
SELECT widecol.flush('events');
SELECT widecol.compact('events');
SELECT all_same();
-- TTL: rows written to expire in two seconds are gone from the index too
SET widecol.ttl = 2;
INSERT INTO events
SELECT 100 + k, 1, 'held', 4, 'short-lived' FROM generate_series(1, 20) k;
RESET widecol.ttl;
SELECT count(*) AS short_lived FROM events WHERE state = 'held' AND note = 'short-lived';
SELECT pg_sleep(3);
SELECT count(*) AS short_lived FROM events WHERE state = 'held' AND note = 'short-lived';
SELECT all_same();

-- LIMIT goes to the node; a parameter is a value like any other
EXPLAIN (COSTS OFF) SELECT k, c FROM events WHERE state = 'open' LIMIT 3;
SELECT count(*) FROM (SELECT k, c FROM events WHERE state = 'open' LIMIT 3) s;
PREPARE by_state(text) AS SELECT count(*) FROM events WHERE state = $1;
EXECUTE by_state('open');
EXPLAIN (COSTS OFF) EXECUTE by_state('open');
DEALLOCATE by_state;
-- other restrictions are checked as usual; NULL matches nothing
SELECT count(*) FROM events WHERE state = 'open' AND c = 2 AND n >= 0;
SELECT count(*) FROM events WHERE state = NULL;
-- a join on the indexed column (a scan: the index serves constants and parameters)
SELECT s.v, count(e.k) FROM (VALUES ('open'), ('held')) s(v)
JOIN LATERAL (SELECT k FROM events WHERE state = s.v) e ON true GROUP BY s.v ORDER BY s.v;

-- a transaction that wrote to the table cannot read its index yet
BEGIN;
INSERT INTO events VALUES (1000, 1, 'open', 1, 'pending');
SELECT count(*) FROM events WHERE state = 'open';
ROLLBACK;

-- dropped: the filter is refused again; created again: backfilled again
SELECT widecol.drop_index('events', 'events_state_idx');
SELECT count(*) FROM events WHERE state = 'open';
SELECT widecol.create_index('events', 'state');
SELECT all_same();

------------------------------------------------------------------------------
-- Refusals
------------------------------------------------------------------------------
SELECT * FROM widecol_try($$SELECT widecol.create_index('events', 'nosuch')$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('events', 'k')$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('events', 'c')$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('events', 'note', 'events_state_idx')$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('events', 'state', 'another')$$);
SELECT * FROM widecol_try($$SELECT widecol.drop_index('events', 'nosuch')$$);
CREATE FOREIGN TABLE typed (k int, c int, f float8, m numeric, s text OPTIONS (static 'true'))
    SERVER secondary_index_t OPTIONS (primary_key '((k), c)');
SELECT * FROM widecol_try($$SELECT widecol.create_index('typed', 'f')$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('typed', 'm')$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('typed', 's')$$);
SELECT * FROM widecol_try($$ALTER FOREIGN TABLE typed OPTIONS (ADD indexes $i${'i': 'nosuch'}$i$)$$);
SELECT * FROM widecol_try($$SELECT widecol.create_index('pg_class', 'relname')$$);

------------------------------------------------------------------------------
-- A table USING widecol
------------------------------------------------------------------------------
CREATE TABLE tickets (
    id     int,
    status text,
    owner  text
) USING widecol WITH (keyspace = 'secondary_index_t', primary_key = '((id))');
INSERT INTO tickets SELECT i, CASE WHEN i % 4 = 0 THEN 'open' ELSE 'done' END, 'o' || i
FROM generate_series(1, 40) i;
SELECT widecol.create_index('tickets', 'status');
SELECT count(*), min(id), max(id) FROM tickets WHERE status = 'open';
EXPLAIN (COSTS OFF) SELECT id FROM tickets WHERE status = 'open';
SELECT * FROM widecol_try($$CREATE INDEX ON tickets (owner)$$);
-- CREATE INDEX ... USING widecol is widecol.create_index: no PostgreSQL index
CREATE INDEX tickets_by_owner ON tickets USING widecol (owner);
CREATE INDEX IF NOT EXISTS tickets_by_owner ON tickets USING widecol (owner);
SELECT id, status FROM tickets WHERE owner = 'o8';
EXPLAIN (COSTS OFF) SELECT id FROM tickets WHERE owner = 'o8';
SELECT count(*) AS pg_indexes FROM pg_index WHERE indrelid = 'tickets'::regclass;
SELECT * FROM widecol_try($$CREATE INDEX tickets_by_owner ON tickets USING widecol (owner)$$);
SELECT * FROM widecol_try($$CREATE INDEX ON tickets USING widecol (lower(owner))$$);
SELECT * FROM widecol_try($$CREATE UNIQUE INDEX ON tickets USING widecol (owner)$$);
SELECT * FROM widecol_try($$CREATE INDEX ON tickets USING widecol (id)$$);
SELECT widecol.drop_index('tickets', 'tickets_by_owner');
-- and on a foreign table
CREATE INDEX ON events USING widecol (note);
SELECT k, c FROM events WHERE note = 'r2/3';
EXPLAIN (COSTS OFF) SELECT k, c FROM events WHERE note = 'r2/3';
SELECT widecol.drop_index('events', 'events_note_idx');
SELECT widecol.drop_index('tickets', 'tickets_status_idx');
SELECT reloptions FROM pg_class WHERE oid = 'tickets'::regclass;
