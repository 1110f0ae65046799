--
-- latest_by_state: the sample workload "which IoT devices currently report a state?",
-- with the seed's own five events and its expected result tables.
--   * events_by_device: one device's time series newest first, and the
--     latest event of every device by PER PARTITION LIMIT 1 (SET
--     widecol.per_partition_limit = 1, then a full scan);
--   * solutions 1 and 2 need a materialized view or a secondary index; their
--     base table latest_events_by_device (upserts) is shown, with the state
--     query answered by a filtered scan;
--   * solution 3: state-partitioned table, an insert plus a delete of the
--     other state per event (the delete is a row tombstone, no read);
--   * solution 4: one table per state;
--   * solution 5: one table per state partitioned by an artificial bucket,
--     hash(uuid) = first three hex digits mod 3, computed in SQL.
-- A full scan returns partitions in token order, so those queries carry an
-- ORDER BY (chosen to print the rows in the order the seed shows them).
-- Own keyspace (server :ks) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;

CREATE SCHEMA :ks;
SET search_path = :ks, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE SERVER :ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

------------------------------------------------------------------------------
-- The running example: all events by device
------------------------------------------------------------------------------
CREATE :tbl events_by_device (
    device_id   uuid,
    "timestamp" timestamptz,
    state       text,
    value       text
) :with (:ksopt
    primary_key :eq '((device_id), "timestamp")',
    clustering_order :eq '"timestamp" DESC'
);

-- Event 1-1
INSERT INTO events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'on', 'event 1-1');
-- Event 1-2
INSERT INTO events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'off', 'event 1-2');
-- Event 1-3
INSERT INTO events_by_device (device_id, "timestamp", state, value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'on', 'event 1-3');
-- Event 2-1
INSERT INTO events_by_device (device_id, "timestamp", state, value)
VALUES ('22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'off', 'event 2-1');
-- Event 3-1
INSERT INTO events_by_device (device_id, "timestamp", state, value)
VALUES ('33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'off', 'event 3-1');

-- Find all events for a device (seed: 1-3, 1-2, 1-1)
EXPLAIN (COSTS OFF)
SELECT device_id, "timestamp", state, value
FROM events_by_device
WHERE device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
SELECT device_id, "timestamp", state, value
FROM events_by_device
WHERE device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';

-- Find the latest events for all devices:
--   SELECT ... FROM events_by_device PER PARTITION LIMIT 1;
-- (seed: 3-1, 2-1, 1-3)
SET widecol.per_partition_limit = 1;
EXPLAIN (COSTS OFF)
SELECT device_id, "timestamp", state, value
FROM events_by_device
ORDER BY device_id DESC;
SELECT device_id, "timestamp", state, value
FROM events_by_device
ORDER BY device_id DESC;
-- an aggregate reads every row, as Cassandra's count(*) ignores PER PARTITION
-- LIMIT: 5 events, not 3 (DISTINCT ON counts the latest ones, pushdown_distinct)
SELECT count(*) AS latest_events, string_agg(value, ', ' ORDER BY value) AS events
FROM (SELECT value FROM events_by_device) e;
-- the limit applies to every partition read, also by IN
SELECT value FROM events_by_device
WHERE device_id IN ('11111111-aaaa-bbbb-cccc-12345678abcd', '22222222-aaaa-bbbb-cccc-12345678abcd')
ORDER BY value;
SET widecol.per_partition_limit = 2;
SELECT device_id, "timestamp", state, value
FROM events_by_device
ORDER BY device_id DESC, "timestamp" DESC;
RESET widecol.per_partition_limit;
-- the same without a setting: DISTINCT ON the partition key in clustering
-- order is read as PER PARTITION LIMIT 1 (seed: 3-1, 2-1, 1-3)
EXPLAIN (COSTS OFF)
SELECT DISTINCT ON (device_id) device_id, "timestamp", state, value
FROM events_by_device
ORDER BY device_id DESC, "timestamp" DESC;
SELECT DISTINCT ON (device_id) device_id, "timestamp", state, value
FROM events_by_device
ORDER BY device_id DESC, "timestamp" DESC;
-- off again: every event
SELECT count(*) FROM events_by_device;
-- the same answer with plain SQL, one partition read per device
SELECT d.device_id, e."timestamp", e.state, e.value
FROM (VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd'::uuid),
             ('22222222-aaaa-bbbb-cccc-12345678abcd'),
             ('33333333-aaaa-bbbb-cccc-12345678abcd')) d(device_id)
CROSS JOIN LATERAL (SELECT "timestamp", state, value FROM events_by_device e
                    WHERE e.device_id = d.device_id LIMIT 1) e
ORDER BY d.device_id DESC;

------------------------------------------------------------------------------
-- Solutions 1 and 2: latest_events_by_device (single-row partitions, inserts
-- become upserts).  widecol has no materialized view or secondary index; the
-- state query is a filtered scan, refused unless allowed.
------------------------------------------------------------------------------
CREATE :tbl latest_events_by_device (
    device_id   uuid,
    "timestamp" timestamptz,
    state       text,
    value       text
) :with (:ksopt primary_key :eq '((device_id))');

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

SELECT state, device_id, "timestamp", value
FROM latest_events_by_device WHERE state = 'on';
SET widecol.allow_filtering = on;
-- Find all the latest events with state 'on' (seed: 1-3)
SELECT state, device_id, "timestamp", value
FROM latest_events_by_device WHERE state = 'on'
ORDER BY device_id;
-- Find all the latest events with state 'off' (seed: 2-1, 3-1)
SELECT state, device_id, "timestamp", value
FROM latest_events_by_device WHERE state = 'off'
ORDER BY device_id;
RESET widecol.allow_filtering;

------------------------------------------------------------------------------
-- Solution 3: state-partitioned table
------------------------------------------------------------------------------
CREATE :tbl latest_events_by_state (
    state       text,
    device_id   uuid,
    "timestamp" timestamptz,
    value       text
) :with (:ksopt primary_key :eq '((state), device_id)');

-- Event 1-1
INSERT INTO latest_events_by_state (state, device_id, "timestamp", value)
VALUES ('on', '11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'event 1-1');
DELETE FROM latest_events_by_state
WHERE state = 'off' AND device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 1-2
INSERT INTO latest_events_by_state (state, device_id, "timestamp", value)
VALUES ('off', '11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'event 1-2');
DELETE FROM latest_events_by_state
WHERE state = 'on' AND device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 1-3
INSERT INTO latest_events_by_state (state, device_id, "timestamp", value)
VALUES ('on', '11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'event 1-3');
DELETE FROM latest_events_by_state
WHERE state = 'off' AND device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 2-1
INSERT INTO latest_events_by_state (state, device_id, "timestamp", value)
VALUES ('off', '22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'event 2-1');
DELETE FROM latest_events_by_state
WHERE state = 'on' AND device_id = '22222222-aaaa-bbbb-cccc-12345678abcd';
-- Event 3-1
INSERT INTO latest_events_by_state (state, device_id, "timestamp", value)
VALUES ('off', '33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'event 3-1');
DELETE FROM latest_events_by_state
WHERE state = 'on' AND device_id = '33333333-aaaa-bbbb-cccc-12345678abcd';

-- the delete of the other state is a row tombstone, written without a read
EXPLAIN (COSTS OFF)
DELETE FROM latest_events_by_state
WHERE state = 'on' AND device_id = '33333333-aaaa-bbbb-cccc-12345678abcd';
-- Find all the latest events with state 'on' (seed: 1-3): one partition
EXPLAIN (COSTS OFF)
SELECT state, device_id, "timestamp", value
FROM latest_events_by_state WHERE state = 'on';
SELECT state, device_id, "timestamp", value
FROM latest_events_by_state WHERE state = 'on';
-- Find all the latest events with state 'off' (seed: 2-1, 3-1, in
-- clustering order)
SELECT state, device_id, "timestamp", value
FROM latest_events_by_state WHERE state = 'off';
-- with three states, one insert and two deletes per event; the two deletes
-- are one statement (IN on the partition key, still no read)
INSERT INTO latest_events_by_state (state, device_id, "timestamp", value)
VALUES ('error', '22222222-aaaa-bbbb-cccc-12345678abcd', '2021-04-04 01:11:11', 'event 2-2');
EXPLAIN (COSTS OFF)
DELETE FROM latest_events_by_state
WHERE state IN ('on', 'off') AND device_id = '22222222-aaaa-bbbb-cccc-12345678abcd';
DELETE FROM latest_events_by_state
WHERE state IN ('on', 'off') AND device_id = '22222222-aaaa-bbbb-cccc-12345678abcd';
SELECT state, device_id, "timestamp", value
FROM latest_events_by_state WHERE state IN ('on', 'off', 'error')
ORDER BY state, device_id;

------------------------------------------------------------------------------
-- Solution 4: one table per state
------------------------------------------------------------------------------
CREATE :tbl latest_on_events_by_device (
    device_id   uuid,
    "timestamp" timestamptz,
    value       text
) :with (:ksopt primary_key :eq '((device_id))');
CREATE :tbl latest_off_events_by_device (
    device_id   uuid,
    "timestamp" timestamptz,
    value       text
) :with (:ksopt primary_key :eq '((device_id))');

-- Event 1-1
INSERT INTO latest_on_events_by_device (device_id, "timestamp", value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 01:11:11', 'event 1-1');
DELETE FROM latest_off_events_by_device
WHERE device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 1-2
INSERT INTO latest_off_events_by_device (device_id, "timestamp", value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 02:22:22', 'event 1-2');
DELETE FROM latest_on_events_by_device
WHERE device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 1-3
INSERT INTO latest_on_events_by_device (device_id, "timestamp", value)
VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd', '2021-01-01 03:33:33', 'event 1-3');
DELETE FROM latest_off_events_by_device
WHERE device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 2-1
INSERT INTO latest_off_events_by_device (device_id, "timestamp", value)
VALUES ('22222222-aaaa-bbbb-cccc-12345678abcd', '2021-02-02 01:11:11', 'event 2-1');
DELETE FROM latest_on_events_by_device
WHERE device_id = '22222222-aaaa-bbbb-cccc-12345678abcd';
-- Event 3-1
INSERT INTO latest_off_events_by_device (device_id, "timestamp", value)
VALUES ('33333333-aaaa-bbbb-cccc-12345678abcd', '2021-03-03 01:11:11', 'event 3-1');
DELETE FROM latest_on_events_by_device
WHERE device_id = '33333333-aaaa-bbbb-cccc-12345678abcd';

-- the delete is a partition tombstone (single-row partitions)
EXPLAIN (COSTS OFF)
DELETE FROM latest_on_events_by_device
WHERE device_id = '33333333-aaaa-bbbb-cccc-12345678abcd';
-- Find all the latest events with state 'on' (seed: 1-3): a full scan
EXPLAIN (COSTS OFF)
SELECT device_id, "timestamp", value FROM latest_on_events_by_device;
SELECT device_id, "timestamp", value
FROM latest_on_events_by_device
ORDER BY device_id DESC;
-- Find all the latest events with state 'off' (seed: 3-1, 2-1)
SELECT device_id, "timestamp", value
FROM latest_off_events_by_device
ORDER BY device_id DESC;

------------------------------------------------------------------------------
-- Solution 5: customizable partitioning
------------------------------------------------------------------------------
-- CREATE FUNCTION hash(id UUID) RETURNS NULL ON NULL INPUT RETURNS INT
-- LANGUAGE Java AS 'return Integer.parseInt(id.toString().substring(0,3),16) % 3;';
CREATE FUNCTION hash(id uuid) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT ('x' || lpad(substr(id::text, 1, 3), 8, '0'))::bit(32)::integer % 3 $$;
-- the hash of the seed's devices is 0 ("just a coincidence"); others spread
SELECT id, hash(id)
FROM (VALUES ('11111111-aaaa-bbbb-cccc-12345678abcd'::uuid),
             ('22222222-aaaa-bbbb-cccc-12345678abcd'),
             ('33333333-aaaa-bbbb-cccc-12345678abcd'),
             ('fff00000-0000-4000-8000-000000000000'),
             ('00100000-0000-4000-8000-000000000000'),
             ('00200000-0000-4000-8000-000000000000')) v(id);
SELECT hash(NULL);

CREATE :tbl latest_on_events_by_bucket (
    bucket      integer,
    device_id   uuid,
    "timestamp" timestamptz,
    value       text
) :with (:ksopt primary_key :eq '((bucket), device_id)');
CREATE :tbl latest_off_events_by_bucket (
    bucket      integer,
    device_id   uuid,
    "timestamp" timestamptz,
    value       text
) :with (:ksopt primary_key :eq '((bucket), device_id)');

-- Event 1-1
INSERT INTO latest_on_events_by_bucket (bucket, device_id, "timestamp", value)
VALUES (hash('11111111-aaaa-bbbb-cccc-12345678abcd'), '11111111-aaaa-bbbb-cccc-12345678abcd',
        '2021-01-01 01:11:11', 'event 1-1');
DELETE FROM latest_off_events_by_bucket
WHERE bucket = hash('11111111-aaaa-bbbb-cccc-12345678abcd')
  AND device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 1-2
INSERT INTO latest_off_events_by_bucket (bucket, device_id, "timestamp", value)
VALUES (hash('11111111-aaaa-bbbb-cccc-12345678abcd'), '11111111-aaaa-bbbb-cccc-12345678abcd',
        '2021-01-01 02:22:22', 'event 1-2');
DELETE FROM latest_on_events_by_bucket
WHERE bucket = hash('11111111-aaaa-bbbb-cccc-12345678abcd')
  AND device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 1-3
INSERT INTO latest_on_events_by_bucket (bucket, device_id, "timestamp", value)
VALUES (hash('11111111-aaaa-bbbb-cccc-12345678abcd'), '11111111-aaaa-bbbb-cccc-12345678abcd',
        '2021-01-01 03:33:33', 'event 1-3');
DELETE FROM latest_off_events_by_bucket
WHERE bucket = hash('11111111-aaaa-bbbb-cccc-12345678abcd')
  AND device_id = '11111111-aaaa-bbbb-cccc-12345678abcd';
-- Event 2-1
INSERT INTO latest_off_events_by_bucket (bucket, device_id, "timestamp", value)
VALUES (hash('22222222-aaaa-bbbb-cccc-12345678abcd'), '22222222-aaaa-bbbb-cccc-12345678abcd',
        '2021-02-02 01:11:11', 'event 2-1');
DELETE FROM latest_on_events_by_bucket
WHERE bucket = hash('22222222-aaaa-bbbb-cccc-12345678abcd')
  AND device_id = '22222222-aaaa-bbbb-cccc-12345678abcd';
-- Event 3-1
INSERT INTO latest_off_events_by_bucket (bucket, device_id, "timestamp", value)
VALUES (hash('33333333-aaaa-bbbb-cccc-12345678abcd'), '33333333-aaaa-bbbb-cccc-12345678abcd',
        '2021-03-03 01:11:11', 'event 3-1');
DELETE FROM latest_on_events_by_bucket
WHERE bucket = hash('33333333-aaaa-bbbb-cccc-12345678abcd')
  AND device_id = '33333333-aaaa-bbbb-cccc-12345678abcd';

-- the bucket is folded to a constant: a row tombstone, no read
EXPLAIN (COSTS OFF)
DELETE FROM latest_on_events_by_bucket
WHERE bucket = hash('33333333-aaaa-bbbb-cccc-12345678abcd')
  AND device_id = '33333333-aaaa-bbbb-cccc-12345678abcd';
-- Find all the latest events with state 'on' (seed: 0 | 1-3): three
-- partitions read by IN
EXPLAIN (COSTS OFF)
SELECT bucket, device_id, "timestamp", value
FROM latest_on_events_by_bucket WHERE bucket IN (0, 1, 2);
SELECT bucket, device_id, "timestamp", value
FROM latest_on_events_by_bucket WHERE bucket IN (0, 1, 2)
ORDER BY bucket, device_id;
-- Find all the latest events with state 'off' (seed: 0 | 2-1, 0 | 3-1)
SELECT bucket, device_id, "timestamp", value
FROM latest_off_events_by_bucket WHERE bucket IN (0, 1, 2)
ORDER BY bucket, device_id;
-- one bucket alone is read in clustering (device_id) order
SELECT device_id, value FROM latest_off_events_by_bucket WHERE bucket = 0;

-- all models agree on the answer
SELECT 'on' AS state, array_agg(value ORDER BY value) AS latest
FROM latest_events_by_state WHERE state = 'on'
UNION ALL
SELECT 'on', array_agg(value ORDER BY value) FROM latest_on_events_by_device
UNION ALL
SELECT 'on', array_agg(value ORDER BY value) FROM latest_on_events_by_bucket WHERE bucket IN (0, 1, 2)
UNION ALL
SELECT 'off', array_agg(value ORDER BY value) FROM latest_off_events_by_device
UNION ALL
SELECT 'off', array_agg(value ORDER BY value) FROM latest_off_events_by_bucket WHERE bucket IN (0, 1, 2);

DROP FUNCTION hash(uuid);

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
