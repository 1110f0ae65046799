-- tam_iot: the iot suite run on tables of the widecol access method
-- (CREATE TABLE ... USING widecol WITH (...)) instead of foreign tables; the
-- rows and results must be those of iot, only plans and DDL differ.  The
-- ttl column option exists only for foreign tables: its table is left out.
--
-- iot: the IoT platform of the sample workloads (sensor_readings, device_metadata,
-- device_alerts) modelled and queried with widecol SQL.
--   * readings of one device in a time window, newest first, read from one
--     partition with the clustering range pushed down (no Sort node);
--   * device metadata upserts: INSERT of an existing key keeps the columns it
--     does not name (CQL INSERT semantics);
--   * alerts keyed by a timeuuid made by now_timeuuid() (CQL now()), newest
--     first; only derived values are printed.
-- Own keyspace (server iot_platform_tam) and schema; can run twice in a row.
--
SET client_min_messages = warning;
CALL widecol_test_drop_keyspaces('iot_platform_tam');
DROP SCHEMA IF EXISTS iot_platform_tam CASCADE;
RESET client_min_messages;

CREATE SCHEMA iot_platform_tam;
SET search_path = iot_platform_tam, public, widecol;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- CREATE KEYSPACE iot_platform WITH replication = {...}
CREATE SERVER iot_platform_tam FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 1}$$);

-- CQL TIMESTAMP is an instant: timestamptz; DECIMAL: numeric
CREATE TABLE sensor_readings (
    device_id       text,
    "timestamp"     timestamptz,
    temperature     numeric,
    humidity        numeric,
    battery_level   numeric,
    signal_strength integer
) USING widecol WITH (
    keyspace = 'iot_platform_tam',
    primary_key = '(device_id, "timestamp")',
    clustering_order = '"timestamp" DESC',
    compaction = $${'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'HOURS', 'compaction_window_size': 24}$$
);

CREATE TABLE device_metadata (
    device_id        text,
    device_type      text,
    firmware_version text,
    location         text,
    last_seen        timestamptz,
    status           text
) USING widecol WITH (keyspace = 'iot_platform_tam', primary_key = 'device_id');

CREATE TABLE device_alerts (
    device_id    text,
    alert_id     timeuuid,
    "timestamp"  timestamptz,
    alert_type   text,
    severity     text,
    message      text,
    acknowledged boolean DEFAULT false
) USING widecol WITH (
    keyspace = 'iot_platform_tam',
    primary_key = '((device_id), alert_id)',
    clustering_order = 'alert_id DESC'
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
CREATE TABLE sensor_readings_by_day (
    sensor_id  uuid,
    date       date,
    event_time timestamptz,
    value      numeric,
    status     text
) USING widecol WITH (
    keyspace = 'iot_platform_tam',
    primary_key = '((sensor_id, date), event_time)',
    clustering_order = 'event_time DESC'
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

-- clean up (engine data too)
SET client_min_messages = warning;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT ft.ftrelid FROM pg_foreign_table ft
             JOIN pg_foreign_server s ON s.oid = ft.ftserver
             WHERE s.srvname = 'iot_platform_tam'
    LOOP
        PERFORM widecol.drop_table(r.ftrelid);
    END LOOP;
END $$;
DROP SERVER IF EXISTS iot_platform_tam CASCADE;
DROP SCHEMA IF EXISTS iot_platform_tam CASCADE;
RESET client_min_messages;
