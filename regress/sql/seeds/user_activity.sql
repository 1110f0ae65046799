--
-- user_activity: the activity tracking of the sample workloads (user_events with the
-- composite partition key (user_id, event_type), daily_active_users,
-- event_aggregations) and the "interactions by user and month" model of
-- a second sample workload, with widecol SQL.
--   * a query must name every partition-key column: = on both reads one
--     partition; naming only user_id is refused (CQL would ask for ALLOW
--     FILTERING); IN lists on both columns read their cartesian product;
--   * CQL COUNTER columns become bigint maintained by a rollup (INSERT ...
--     SELECT, an upsert), since widecol has no counter type.
-- Event ids are deterministic timeuuids (min_timeuuid of the event time).
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

-- properties MAP<TEXT, TEXT> -> jsonb
CREATE :tbl user_events (
    user_id     uuid,
    event_type  text,
    event_id    timeuuid,
    "timestamp" timestamptz,
    properties  jsonb,
    session_id  uuid
) :with (:ksopt
    primary_key :eq '((user_id, event_type), event_id)',
    clustering_order :eq 'event_id DESC'
);

CREATE :tbl daily_active_users (
    date        date,
    user_id     uuid,
    first_seen  timestamptz,
    last_seen   timestamptz,
    event_count integer
) :with (:ksopt primary_key :eq '(date, user_id)');

-- count COUNTER, unique_users COUNTER -> bigint
CREATE :tbl event_aggregations (
    event_type   text,
    date         date,
    count        bigint,
    unique_users bigint
) :with (:ksopt primary_key :eq '((event_type), date)');

-- track_event for three users, three event types, two days: user u<n> makes
-- an event every 10*n minutes, the type cycling page_view, click, purchase
INSERT INTO user_events
SELECT u, (ARRAY['page_view', 'click', 'purchase'])[1 + i % 3],
       min_timeuuid(t), t,
       jsonb_build_object('page', '/p/' || (i % 4), 'step', i::text),
       ('5e550000-0000-4000-8000-' || lpad((i / 10)::text, 12, '0'))::uuid
FROM (VALUES ('00000000-0000-4000-8000-0000000000a1'::uuid, 1),
             ('00000000-0000-4000-8000-0000000000a2', 2),
             ('00000000-0000-4000-8000-0000000000a3', 3)) AS us(u, n),
     LATERAL generate_series(0, 288 / n - 1) AS i,
     LATERAL (SELECT timestamptz '2024-06-01 00:00:00+00' + i * n * interval '10 minutes') AS tt(t);
SELECT count(*) FROM user_events;

-- get_user_journey(user_id, event_type, limit): one partition, newest first
EXPLAIN (COSTS OFF)
SELECT * FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a2' AND event_type = 'purchase'
LIMIT 5;
SELECT "timestamp", properties ->> 'page' AS page, properties ->> 'step' AS step
FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a2' AND event_type = 'purchase'
LIMIT 5;
-- a time window inside the partition, by timeuuid range
SELECT count(*), min("timestamp"), max("timestamp") FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a1' AND event_type = 'click'
  AND event_id >= min_timeuuid('2024-06-01 12:00:00+00')
  AND event_id <  min_timeuuid('2024-06-01 13:00:00+00');

-- get_user_journey(user_id) without the event type: only part of the
-- partition key, so it is refused ...
SELECT * FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a2' LIMIT 100;
-- ... and answered by naming the event types: the cartesian product of the
-- IN lists is read (3 partitions), merged by a Sort for the global order
EXPLAIN (COSTS OFF)
SELECT event_type, "timestamp" FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a2'
  AND event_type IN ('page_view', 'click', 'purchase')
ORDER BY event_id DESC LIMIT 5;
SELECT event_type, "timestamp" FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a2'
  AND event_type IN ('page_view', 'click', 'purchase')
ORDER BY event_id DESC LIMIT 5;
-- IN on both columns: 2 x 2 partitions
EXPLAIN (COSTS OFF)
SELECT user_id, event_type, count(*) FROM user_events
WHERE user_id IN ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a3')
  AND event_type IN ('click', 'purchase')
GROUP BY 1, 2;
SELECT user_id, event_type, count(*) FROM user_events
WHERE user_id IN ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a3')
  AND event_type IN ('click', 'purchase')
GROUP BY 1, 2 ORDER BY 1, 2;
-- sessions of a user's purchases (a regular column, filtered in the partition)
SELECT count(DISTINCT session_id) AS sessions FROM user_events
WHERE user_id = '00000000-0000-4000-8000-0000000000a1' AND event_type = 'purchase'
  AND properties ->> 'page' = '/p/2';

-- the daily rollups (a batch job): daily active users per day ...
INSERT INTO daily_active_users
SELECT "timestamp"::date, user_id, min("timestamp"), max("timestamp"), count(*)
FROM user_events
WHERE user_id IN ('00000000-0000-4000-8000-0000000000a1',
                  '00000000-0000-4000-8000-0000000000a2',
                  '00000000-0000-4000-8000-0000000000a3')
  AND event_type IN ('page_view', 'click', 'purchase')
GROUP BY 1, 2;
EXPLAIN (COSTS OFF)
SELECT * FROM daily_active_users WHERE date = '2024-06-01';
SELECT * FROM daily_active_users WHERE date = '2024-06-01';
SELECT * FROM daily_active_users WHERE date = '2024-06-02';
SELECT date, count(*) AS dau, sum(event_count) AS events
FROM daily_active_users WHERE date IN ('2024-06-01', '2024-06-02', '2024-06-03')
GROUP BY date ORDER BY date;
-- ... and the event counters per type and day
INSERT INTO event_aggregations
SELECT event_type, "timestamp"::date, count(*), count(DISTINCT user_id)
FROM user_events
WHERE user_id IN ('00000000-0000-4000-8000-0000000000a1',
                  '00000000-0000-4000-8000-0000000000a2',
                  '00000000-0000-4000-8000-0000000000a3')
  AND event_type IN ('page_view', 'click', 'purchase')
GROUP BY 1, 2;
SELECT * FROM event_aggregations WHERE event_type = 'click';
SELECT * FROM event_aggregations WHERE event_type = 'purchase' AND date = '2024-06-02';
-- a counter increment (CQL: UPDATE ... SET count = count + 1): a
-- read-modify-write of that one row in SQL
UPDATE event_aggregations SET count = count + 1, unique_users = unique_users + 0
WHERE event_type = 'purchase' AND date = '2024-06-02';
SELECT * FROM event_aggregations WHERE event_type = 'purchase' AND date = '2024-06-02';
-- an UPDATE of a row that does not exist changes nothing (and creates nothing)
UPDATE event_aggregations SET count = count + 1
WHERE event_type = 'purchase' AND date = '2024-06-03';
SELECT count(*) FROM event_aggregations WHERE event_type = 'purchase';

-- sample workload: the interactions of every user, bucketed by month so that a
-- partition stays bounded: K uuid, K month, C time DESC
CREATE :tbl interactions_by_user_month (
    uuid    uuid,
    month   text,
    time    timestamptz,
    element text,
    type    text
) :with (:ksopt
    primary_key :eq '((uuid, month), time)',
    clustering_order :eq 'time DESC'
);
INSERT INTO interactions_by_user_month
SELECT '00000000-0000-4000-8000-0000000000a1', to_char(t, 'YYYY-MM'), t,
       'book-' || (extract(day FROM t)::int % 5), CASE WHEN extract(hour FROM t) < 12 THEN 'read' ELSE 'rate' END
FROM generate_series(timestamptz '2024-01-15 00:00:00+00', '2024-03-15 00:00:00+00', interval '6 hours') t;
SELECT month, count(*) FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1'
  AND month IN ('2024-01', '2024-02', '2024-03')
GROUP BY month ORDER BY month;
-- the latest interactions of a month: one partition, LIMIT pushed
EXPLAIN (COSTS OFF)
SELECT time, element, type FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1' AND month = '2024-02'
LIMIT 3;
SELECT time, element, type FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1' AND month = '2024-02'
LIMIT 3;
-- a day of a month
SELECT time, element, type FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1' AND month = '2024-02'
  AND time >= '2024-02-10' AND time < '2024-02-11';
-- a month is dropped as one partition tombstone
EXPLAIN (COSTS OFF)
DELETE FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1' AND month = '2024-01';
DELETE FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1' AND month = '2024-01';
SELECT month, count(*) FROM interactions_by_user_month
WHERE uuid = '00000000-0000-4000-8000-0000000000a1'
  AND month IN ('2024-01', '2024-02', '2024-03')
GROUP BY month ORDER BY month;

SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
