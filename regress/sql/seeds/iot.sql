--
-- iot: the IoT platform of the sample workloads (sensor_readings, device_metadata,
-- device_alerts) modelled and queried with widecol SQL.
--   * readings of one device in a time window, newest first, read from one
--     partition with the clustering range pushed down (no Sort node);
--   * device metadata upserts: INSERT of an existing key keeps the columns it
--     does not name (CQL INSERT semantics);
--   * alerts keyed by a timeuuid made by now_timeuuid() (CQL now()), newest
--     first; only derived values are printed.
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

-- CREATE KEYSPACE iot_platform WITH replication = {...}
CREATE SERVER :ks FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- CQL TIMESTAMP is an instant: timestamptz; DECIMAL: numeric
CREATE :tbl sensor_readings (
    device_id       text,
    "timestamp"     timestamptz,
    temperature     numeric,
    humidity        numeric,
    battery_level   numeric,
    signal_strength integer
) :with (:ksopt
    primary_key :eq '(device_id, "timestamp")',
    clustering_order :eq '"timestamp" DESC',
    compaction :eq $${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', 'compaction_window_size': 24}$$
);

CREATE :tbl device_metadata (
    device_id        text,
    device_type      text,
    firmware_version text,
    location         text,
    last_seen        timestamptz,
    status           text
) :with (:ksopt primary_key :eq 'device_id');

CREATE :tbl device_alerts (
    device_id    text,
    alert_id     timeuuid,
    "timestamp"  timestamptz,
    alert_type   text,
    severity     text,
    message      text,
    acknowledged boolean DEFAULT false
) :with (:ksopt
    primary_key :eq '((device_id), alert_id)',
    clustering_order :eq 'alert_id DESC'
);

-- ingest_sensor_data: 36 hourly readings for three devices, the last one at
-- 2024-03-10 12:00 UTC (the "now" of this test)
INSERT INTO sensor_readings
SELECT d, timestamptz '2024-03-10 12:00:00+00' - h * interval '1 hour',
       round(20 + (h % 7) * 0.5 + i, 1), round(40 + (h % 5) * 1.25, 2),
       round(100 - h * 0.25 - i, 2), -60 - (h % 4) - i
FROM unnest(ARRAY['thermo-1', 'thermo-2', 'thermo-3']) WITH ORDINALITY AS t(d, i),
     generate_series(0, 35) AS h;
SELECT count(*) FROM sensor_readings;

-- get_device_readings(device_id, hours=24):
--   SELECT * FROM sensor_readings WHERE device_id = ? AND timestamp > now() - 24h
-- one partition, clustering range pushed down, rows come newest first
EXPLAIN (COSTS OFF)
SELECT * FROM sensor_readings
WHERE device_id = 'thermo-2'
  AND "timestamp" > timestamptz '2024-03-10 12:00:00+00' - interval '24 hours';
SELECT count(*), min("timestamp"), max("timestamp")
FROM sensor_readings
WHERE device_id = 'thermo-2'
  AND "timestamp" > timestamptz '2024-03-10 12:00:00+00' - interval '24 hours';
-- the first rows of that window, in the table's (DESC) order
SELECT * FROM sensor_readings
WHERE device_id = 'thermo-2'
  AND "timestamp" > timestamptz '2024-03-10 12:00:00+00' - interval '24 hours'
LIMIT 4;

-- a closed window, both bounds pushed down
EXPLAIN (COSTS OFF)
SELECT "timestamp", temperature FROM sensor_readings
WHERE device_id = 'thermo-1'
  AND "timestamp" BETWEEN '2024-03-09 00:00:00+00' AND '2024-03-09 03:00:00+00'
ORDER BY "timestamp" DESC;
SELECT "timestamp", temperature FROM sensor_readings
WHERE device_id = 'thermo-1'
  AND "timestamp" BETWEEN '2024-03-09 00:00:00+00' AND '2024-03-09 03:00:00+00'
ORDER BY "timestamp" DESC;

-- latest reading of a device: LIMIT 1 in clustering order, no Sort
EXPLAIN (COSTS OFF)
SELECT "timestamp", temperature, battery_level FROM sensor_readings
WHERE device_id = 'thermo-3' ORDER BY "timestamp" DESC LIMIT 1;
SELECT "timestamp", temperature, battery_level FROM sensor_readings
WHERE device_id = 'thermo-3' ORDER BY "timestamp" DESC LIMIT 1;
-- oldest readings: the reverse of the clustering order, still no Sort
EXPLAIN (COSTS OFF)
SELECT "timestamp", temperature FROM sensor_readings
WHERE device_id = 'thermo-3' ORDER BY "timestamp" LIMIT 2;
SELECT "timestamp", temperature FROM sensor_readings
WHERE device_id = 'thermo-3' ORDER BY "timestamp" LIMIT 2;

-- hourly statistics of the last 6 hours of two devices (IN on the partition key)
EXPLAIN (COSTS OFF)
SELECT device_id, count(*), avg(temperature), min(signal_strength)
FROM sensor_readings
WHERE device_id IN ('thermo-1', 'thermo-3')
  AND "timestamp" > '2024-03-10 06:00:00+00'
GROUP BY device_id ORDER BY device_id;
SELECT device_id, count(*), round(avg(temperature), 3) AS avg_temp,
       min(signal_strength)
FROM sensor_readings
WHERE device_id IN ('thermo-1', 'thermo-3')
  AND "timestamp" > '2024-03-10 06:00:00+00'
GROUP BY device_id ORDER BY device_id;

-- filtering on a regular column without the partition key is refused ...
SELECT count(*) FROM sensor_readings WHERE temperature > 25;
-- ... unless the user allows filtering (CQL ALLOW FILTERING)
SET widecol.allow_filtering = on;
SELECT device_id, count(*) FROM sensor_readings WHERE temperature > 25
GROUP BY device_id ORDER BY device_id;
RESET widecol.allow_filtering;

-- device metadata: provisioning writes the full row ...
INSERT INTO device_metadata VALUES
    ('thermo-1', 'thermometer', '1.0.3', 'hall A', '2024-03-01 08:00:00+00', 'provisioned'),
    ('thermo-2', 'thermometer', '1.0.3', 'hall B', '2024-03-01 08:00:00+00', 'provisioned');
-- ... and ingest_sensor_data upserts only (device_id, last_seen, status):
--   INSERT INTO device_metadata (device_id, last_seen, status) VALUES (?, ?, 'active')
-- the columns it does not name keep their values (no error for the
-- existing key: INSERT is an upsert)
INSERT INTO device_metadata (device_id, last_seen, status)
VALUES ('thermo-1', '2024-03-10 12:00:00+00', 'active');
INSERT INTO device_metadata (device_id, last_seen, status)
VALUES ('thermo-3', '2024-03-10 12:00:00+00', 'active');   -- a new device
SELECT * FROM device_metadata ORDER BY device_id;
-- a second upsert of the same key: the last write wins
INSERT INTO device_metadata (device_id, last_seen, status)
VALUES ('thermo-1', '2024-03-10 12:05:00+00', 'active');
-- an UPDATE of one column (firmware rollout)
UPDATE device_metadata SET firmware_version = '1.1.0' WHERE device_id = 'thermo-1';
-- an explicit NULL deletes the cell
INSERT INTO device_metadata (device_id, location) VALUES ('thermo-2', NULL);
EXPLAIN (COSTS OFF)
SELECT * FROM device_metadata WHERE device_id = 'thermo-1';
SELECT * FROM device_metadata WHERE device_id = 'thermo-1';
SELECT * FROM device_metadata ORDER BY device_id;
-- devices with their latest reading (parameterized read per device)
SELECT m.device_id, m.status, r."timestamp", r.temperature
FROM device_metadata m
CROSS JOIN LATERAL (
    SELECT "timestamp", temperature FROM sensor_readings s
    WHERE s.device_id = m.device_id ORDER BY "timestamp" DESC LIMIT 1) r
ORDER BY m.device_id;

-- create_alert: INSERT ... VALUES (?, now(), now(), ?, ?, ?); the alert id is a
-- fresh timeuuid, each statement a later one
INSERT INTO device_alerts (device_id, alert_id, "timestamp", alert_type, severity, message)
VALUES ('thermo-1', now_timeuuid(), '2024-03-10 10:00:00+00', 'temperature', 'warning', 'temperature above 24');
INSERT INTO device_alerts (device_id, alert_id, "timestamp", alert_type, severity, message)
VALUES ('thermo-1', now_timeuuid(), '2024-03-10 11:00:00+00', 'battery', 'info', 'battery below 95%');
INSERT INTO device_alerts (device_id, alert_id, "timestamp", alert_type, severity, message)
VALUES ('thermo-2', now_timeuuid(), '2024-03-10 11:30:00+00', 'signal', 'warning', 'weak signal');
INSERT INTO device_alerts (device_id, alert_id, "timestamp", alert_type, severity, message)
VALUES ('thermo-1', now_timeuuid(), '2024-03-10 12:00:00+00', 'temperature', 'critical', 'temperature above 26');
-- newest first without a Sort node (the ids themselves are not printed)
EXPLAIN (COSTS OFF)
SELECT message FROM device_alerts WHERE device_id = 'thermo-1'
ORDER BY alert_id DESC LIMIT 2;
SELECT severity, message, acknowledged FROM device_alerts
WHERE device_id = 'thermo-1';
SELECT message FROM device_alerts WHERE device_id = 'thermo-1'
ORDER BY alert_id DESC LIMIT 2;
-- the alert id order is the order of the times it carries
SELECT bool_and(timeuuid_timestamp(alert_id) <= now()) AS ids_not_in_future,
       array_agg(message ORDER BY timeuuid_timestamp(alert_id) DESC) AS by_id_time
FROM device_alerts WHERE device_id = 'thermo-1';
-- alerts of the last hour by timeuuid range (minTimeuuid(now() - 1h))
SELECT count(*) FROM device_alerts
WHERE device_id = 'thermo-1' AND alert_id > min_timeuuid(now() - interval '1 hour');
SELECT count(*) FROM device_alerts
WHERE device_id = 'thermo-1' AND alert_id > max_timeuuid(now() + interval '1 hour');
-- acknowledge the newest alert: a read of one partition, then one cell written
UPDATE device_alerts SET acknowledged = true
WHERE device_id = 'thermo-1'
  AND alert_id = (SELECT alert_id FROM device_alerts WHERE device_id = 'thermo-1'
                  ORDER BY alert_id DESC LIMIT 1);
SELECT severity, message, acknowledged FROM device_alerts
WHERE device_id = 'thermo-1';
-- drop the acknowledged alerts of thermo-1 (reads the partition: acknowledged
-- is not a key column)
DELETE FROM device_alerts WHERE device_id = 'thermo-1' AND acknowledged;
SELECT device_id, message FROM device_alerts ORDER BY device_id, message;
-- a whole device's alerts: a partition tombstone, no read
EXPLAIN (COSTS OFF)
DELETE FROM device_alerts WHERE device_id = 'thermo-2';
DELETE FROM device_alerts WHERE device_id = 'thermo-2';
SELECT device_id, count(*) FROM device_alerts GROUP BY device_id ORDER BY 1;

-- sample workload: a day bucket in the partition key, (sensor_id, date), and the
-- seed's own row and query
CREATE :tbl sensor_readings_by_day (
    sensor_id  uuid,
    date       date,
    event_time timestamptz,
    value      numeric,
    status     text
) :with (:ksopt
    primary_key :eq '((sensor_id, date), event_time)',
    clustering_order :eq 'event_time DESC'
);
INSERT INTO sensor_readings_by_day (sensor_id, date, event_time, value, status)
VALUES ('123e4567-e89b-12d3-a456-426614174000', '2023-10-27', '2023-10-27 08:30:00', 23.5, 'OK');
-- two more readings: one before the window, one on the next day
INSERT INTO sensor_readings_by_day (sensor_id, date, event_time, value, status)
VALUES ('123e4567-e89b-12d3-a456-426614174000', '2023-10-27', '2023-10-27 07:45:00', 22.0, 'OK'),
       ('123e4567-e89b-12d3-a456-426614174000', '2023-10-28', '2023-10-28 09:00:00', 24.0, 'WARN');
EXPLAIN (COSTS OFF)
SELECT * FROM sensor_readings_by_day
WHERE sensor_id = '123e4567-e89b-12d3-a456-426614174000'
  AND date = '2023-10-27'
  AND event_time >= '2023-10-27 08:00:00';
SELECT * FROM sensor_readings_by_day
WHERE sensor_id = '123e4567-e89b-12d3-a456-426614174000'
  AND date = '2023-10-27'
  AND event_time >= '2023-10-27 08:00:00';

-- sample workload: sensor_readings with default_time_to_live = 2592000 (30 days);
-- the ttl column option reads CQL TTL(temperature); it exists only for
-- foreign tables
\if :tam
\else
CREATE :tbl sensor_readings_ttl (
    sensor_id       uuid,
    date_bucket     text,
    event_time      timestamptz,
    temperature     double precision,
    pressure        double precision,
    status          text,
    temperature_ttl integer OPTIONS (ttl 'temperature')
) :with (:ksopt
    primary_key :eq '((sensor_id, date_bucket), event_time)',
    clustering_order :eq 'event_time DESC',
    default_time_to_live :eq '2592000'
);
INSERT INTO sensor_readings_ttl (sensor_id, date_bucket, event_time, temperature, pressure, status)
VALUES ('123e4567-e89b-12d3-a456-426614174000', '2024-01-15', '2024-01-15 10:00:00+00', 21.5, 1013.2, 'OK');
SELECT event_time, temperature, pressure, status,
       temperature_ttl BETWEEN 2592000 - 300 AND 2592000 AS expires_in_30_days
FROM sensor_readings_ttl
WHERE sensor_id = '123e4567-e89b-12d3-a456-426614174000' AND date_bucket = '2024-01-15';
\endif

-- clean up (engine data too)
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces(:'ks');
DROP SCHEMA IF EXISTS :ks CASCADE;
RESET client_min_messages;
