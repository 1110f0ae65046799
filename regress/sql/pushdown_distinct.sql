--
-- pushdown_distinct: the per-partition limit, from the query (DISTINCT ON)
-- or from widecol.per_partition_limit.  Every result is checked against the
-- same rows in a heap table (the oracle) of this suite.
--   * widecol.per_partition_limit trims only the rows a SELECT returns: an
--     aggregate (count(*) of a partition), a GROUP BY, a DISTINCT or a write
--     reads every row, as Cassandra ignores PER PARTITION LIMIT for an
--     aggregate; EXPLAIN shows the limit and a NOTICE says when it trimmed;
--   * DISTINCT ON (partition key) ... ORDER BY partition key, clustering
--     columns is read as PER PARTITION LIMIT 1 (one row per partition).
-- Own keyspace (server pushdown_distinct_t) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('pushdown_distinct_t');
DROP SCHEMA IF EXISTS pushdown_distinct_t CASCADE;
RESET client_min_messages;

CREATE SCHEMA pushdown_distinct_t;
SET search_path = pushdown_distinct_t, public, widecol;

CREATE SERVER pushdown_distinct_t FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- a time series: newest reading first in every partition
CREATE FOREIGN TABLE readings (
    device  int,
    ts      int,
    temp    int,
    note    text
) SERVER pushdown_distinct_t OPTIONS (primary_key '((device), ts)', clustering_order 'ts DESC');
CREATE TABLE h_readings (device int, ts int, temp int, note text, PRIMARY KEY (device, ts));

-- device 1 has 1000 readings, devices 2..6 a few each
INSERT INTO h_readings
SELECT 1, g, g % 37, 'r' || g FROM generate_series(1, 1000) g
UNION ALL
SELECT d, g, d * 10 + g, 'd' || d || '-' || g FROM generate_series(2, 6) d, generate_series(1, d) g;
INSERT INTO readings SELECT * FROM h_readings;

-- same rows, same order (both sides as arrays of rows)
CREATE FUNCTION same(wq text, hq text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE w text; h text; n bigint;
BEGIN
    EXECUTE format('SELECT array_agg(r::text ORDER BY o), count(*) FROM (SELECT r, row_number() OVER () o FROM (%s) r) x', wq) INTO w, n;
    EXECUTE format('SELECT array_agg(r::text ORDER BY o) FROM (SELECT r, row_number() OVER () o FROM (%s) r) x', hq) INTO h;
    RETURN CASE WHEN w IS NOT DISTINCT FROM h THEN 'same ' || n || ' rows' ELSE 'DIFFERENT: ' || coalesce(w, '-') || ' vs ' || coalesce(h, '-') END;
END
$$;

-- rows the scan node returned (EXPLAIN ANALYZE), to see what the node shipped
CREATE FUNCTION scan_rows(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF) ' || q INTO j;
    RETURN (SELECT (n->>'Actual Rows')::bigint
              FROM jsonb_path_query(j::jsonb, 'strict $.**') n
             WHERE jsonb_typeof(n) = 'object' AND n->>'Node Type' IN ('Foreign Scan', 'Custom Scan')
             LIMIT 1);
END
$$;

------------------------------------------------------------------------------
-- widecol.per_partition_limit
------------------------------------------------------------------------------
SET widecol.per_partition_limit = 1;
-- a count of one partition reads every row: 1000, not 1
SELECT count(*) FROM readings WHERE device = 1;
EXPLAIN (COSTS OFF) SELECT count(*) FROM readings WHERE device = 1;
SELECT same('SELECT device, count(*), sum(temp), max(ts) FROM readings GROUP BY device ORDER BY device',
            'SELECT device, count(*), sum(temp), max(ts) FROM h_readings GROUP BY device ORDER BY device');
SELECT same('SELECT DISTINCT temp FROM readings WHERE device = 1 ORDER BY temp',
            'SELECT DISTINCT temp FROM h_readings WHERE device = 1 ORDER BY temp');
SELECT same('SELECT device, ts, count(*) OVER (PARTITION BY device) FROM readings WHERE device IN (2, 3) ORDER BY 1, 2',
            'SELECT device, ts, count(*) OVER (PARTITION BY device) FROM h_readings WHERE device IN (2, 3) ORDER BY 1, 2');
-- a plain SELECT is trimmed, says so once per scan, and EXPLAIN shows it
EXPLAIN (COSTS OFF) SELECT * FROM readings WHERE device = 1;
SELECT * FROM readings WHERE device = 1;
SELECT * FROM readings ORDER BY device;
-- no NOTICE when no partition had more rows than the limit
SELECT device, ts FROM readings WHERE device = 2 AND ts = 1;
SET widecol.per_partition_limit = 3;
SELECT same('SELECT device, ts FROM readings WHERE device IN (2, 4, 6) ORDER BY 1, 2 DESC',
            'SELECT device, ts FROM (SELECT device, ts, row_number() OVER (PARTITION BY device ORDER BY ts DESC) n
               FROM h_readings WHERE device IN (2, 4, 6)) x WHERE n <= 3 ORDER BY 1, 2 DESC');
-- with a LIMIT pushed to the node: the extra row per partition that tells
-- the scan it trimmed does not eat into the LIMIT (5 rows of 3 partitions)
SELECT count(*) FROM (SELECT device, ts FROM readings LIMIT 5 OFFSET 0) x;
SELECT device, ts FROM readings WHERE device = 1 LIMIT 2;
-- a write reads every row it filters: all 1000 readings of device 1 change
UPDATE readings SET note = 'seen' WHERE device = 1 AND note LIKE 'r%';
UPDATE h_readings SET note = 'seen' WHERE device = 1 AND note LIKE 'r%';
RESET widecol.per_partition_limit;
SELECT same('SELECT note, count(*) FROM readings WHERE device = 1 GROUP BY note',
            'SELECT note, count(*) FROM h_readings WHERE device = 1 GROUP BY note');

------------------------------------------------------------------------------
-- DISTINCT ON (partition key) ... ORDER BY partition key, clustering columns
------------------------------------------------------------------------------
-- the latest reading of every device, no session setting: one row per
-- partition from the node, a Sort for the device order, then Unique
EXPLAIN (COSTS OFF)
SELECT DISTINCT ON (device) device, ts, temp FROM readings ORDER BY device, ts DESC;
SELECT DISTINCT ON (device) device, ts, temp FROM readings ORDER BY device, ts DESC;
SELECT same('SELECT DISTINCT ON (device) device, ts, temp, note FROM readings ORDER BY device, ts DESC',
            'SELECT DISTINCT ON (device) device, ts, temp, note FROM h_readings ORDER BY device, ts DESC');
SELECT scan_rows('SELECT DISTINCT ON (device) device, ts, temp FROM readings ORDER BY device, ts DESC') AS rows_read;
SELECT same('SELECT DISTINCT ON (device) device, ts FROM readings ORDER BY device DESC, ts DESC',
            'SELECT DISTINCT ON (device) device, ts FROM h_readings ORDER BY device DESC, ts DESC');
-- the count of the latest readings
SELECT count(*), sum(temp) FROM (SELECT DISTINCT ON (device) device, temp FROM readings ORDER BY device, ts DESC) x;
-- the oldest reading: the reverse of the clustering order, read backwards
-- from each partition of an IN list
EXPLAIN (COSTS OFF)
SELECT DISTINCT ON (device) device, ts FROM readings WHERE device IN (1, 3, 5) ORDER BY device, ts;
SELECT same('SELECT DISTINCT ON (device) device, ts, note FROM readings WHERE device IN (1, 3, 5) ORDER BY device, ts',
            'SELECT DISTINCT ON (device) device, ts, note FROM h_readings WHERE device IN (1, 3, 5) ORDER BY device, ts');
SELECT scan_rows('SELECT DISTINCT ON (device) device, ts FROM readings WHERE device IN (1, 3, 5) ORDER BY device, ts') AS rows_read;
-- ... but a full scan cannot read backwards: every row, PostgreSQL sorts
SELECT same('SELECT DISTINCT ON (device) device, ts FROM readings ORDER BY device, ts',
            'SELECT DISTINCT ON (device) device, ts FROM h_readings ORDER BY device, ts');
SELECT scan_rows('SELECT DISTINCT ON (device) device, ts FROM readings ORDER BY device, ts') AS rows_read;
-- a clustering range is read before the limit: the latest reading before 500
SELECT same('SELECT DISTINCT ON (device) device, ts FROM readings WHERE device IN (1, 2) AND ts < 500 ORDER BY device, ts DESC',
            'SELECT DISTINCT ON (device) device, ts FROM h_readings WHERE device IN (1, 2) AND ts < 500 ORDER BY device, ts DESC');
-- not pushed down: a filter PostgreSQL applies, an order by another column
SET widecol.allow_filtering = on;
SELECT same('SELECT DISTINCT ON (device) device, ts, temp FROM readings WHERE temp > 30 ORDER BY device, ts DESC',
            'SELECT DISTINCT ON (device) device, ts, temp FROM h_readings WHERE temp > 30 ORDER BY device, ts DESC');
SELECT scan_rows('SELECT DISTINCT ON (device) device, ts, temp FROM readings WHERE temp > 30 ORDER BY device, ts DESC') > 6 AS every_row_read;
RESET widecol.allow_filtering;
SELECT same('SELECT DISTINCT ON (device) device, temp FROM readings ORDER BY device, temp DESC',
            'SELECT DISTINCT ON (device) device, temp FROM h_readings ORDER BY device, temp DESC');
SELECT scan_rows('SELECT DISTINCT ON (device) device, temp FROM readings ORDER BY device, temp DESC') AS rows_read;

-- SELECT DISTINCT of the partition key: one key per partition, no cells
EXPLAIN (COSTS OFF) SELECT DISTINCT device FROM readings ORDER BY device;
SELECT same('SELECT DISTINCT device FROM readings ORDER BY device',
            'SELECT DISTINCT device FROM h_readings ORDER BY device');
SELECT scan_rows('SELECT DISTINCT device FROM readings') AS rows_read;
-- a DISTINCT of more than the key reads every row
SELECT same('SELECT DISTINCT device, temp % 2 FROM readings ORDER BY 1, 2',
            'SELECT DISTINCT device, temp % 2 FROM h_readings ORDER BY 1, 2');

-- a composite partition key and two clustering columns, as a table of the
-- access method (the CustomScan plans the same way)
CREATE TABLE events (
    tenant  text COLLATE "C",
    day     int,
    hour    int,
    seq     int,
    what    text
) USING widecol WITH (
    keyspace = 'pushdown_distinct_t',
    primary_key = '((tenant, day), hour, seq)',
    clustering_order = 'hour DESC, seq ASC'
);
CREATE TABLE h_events (tenant text COLLATE "C", day int, hour int, seq int, what text,
                       PRIMARY KEY (tenant, day, hour, seq));
INSERT INTO h_events
SELECT t, d, h, s, t || d || '/' || h || '/' || s
FROM unnest(ARRAY['a', 'b', 'c']) t, generate_series(1, 3) d, generate_series(0, 23, 5) h, generate_series(1, 4) s;
INSERT INTO events SELECT * FROM h_events;
-- last hour, first event of it (clustering order)
EXPLAIN (COSTS OFF)
SELECT DISTINCT ON (day, tenant) * FROM events ORDER BY day, tenant, hour DESC, seq;
SELECT same('SELECT DISTINCT ON (day, tenant) * FROM events ORDER BY day, tenant, hour DESC, seq',
            'SELECT DISTINCT ON (day, tenant) * FROM h_events ORDER BY day, tenant, hour DESC, seq');
SELECT scan_rows('SELECT DISTINCT ON (day, tenant) * FROM events ORDER BY day, tenant, hour DESC, seq') AS rows_read;
-- the reverse: first hour, last event of it, in the partitions of a day
SELECT same($$SELECT DISTINCT ON (tenant, day) * FROM events WHERE tenant IN ('a', 'c') AND day = 2 ORDER BY tenant, day, hour, seq DESC$$,
            $$SELECT DISTINCT ON (tenant, day) * FROM h_events WHERE tenant IN ('a', 'c') AND day = 2 ORDER BY tenant, day, hour, seq DESC$$);
SELECT scan_rows($$SELECT DISTINCT ON (tenant, day) * FROM events WHERE tenant IN ('a', 'c') AND day = 2 ORDER BY tenant, day, hour, seq DESC$$) AS rows_read;
-- mixed directions are not the clustering order: every row
SELECT same('SELECT DISTINCT ON (day, tenant) * FROM events ORDER BY day, tenant, hour DESC, seq DESC',
            'SELECT DISTINCT ON (day, tenant) * FROM h_events ORDER BY day, tenant, hour DESC, seq DESC');
SELECT scan_rows('SELECT DISTINCT ON (day, tenant) * FROM events ORDER BY day, tenant, hour DESC, seq DESC') AS rows_read;
-- DISTINCT ON only part of the partition key: every row
SELECT same('SELECT DISTINCT ON (tenant) tenant, day, hour FROM events ORDER BY tenant, day, hour DESC',
            'SELECT DISTINCT ON (tenant) tenant, day, hour FROM h_events ORDER BY tenant, day, hour DESC');
SELECT same('SELECT DISTINCT tenant, day FROM events ORDER BY 1, 2',
            'SELECT DISTINCT tenant, day FROM h_events ORDER BY 1, 2');
SELECT scan_rows('SELECT DISTINCT tenant, day FROM events') AS rows_read;
