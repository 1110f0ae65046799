#!/bin/bash
#
# regress/demo.sh - what 'make demo' runs: build, install, start a throwaway
# PostgreSQL 15 instance with widecol preloaded, show what works, and remove
# the instance again.
#
# The instance runs as the postgres user (as the calling user when not
# root) in a temporary directory, listens only on a Unix socket in that
# directory, on a port no one else uses.  Nothing outside the temporary
# directory is touched except the extension's installation.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BINDIR/pg_config

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }

step "dependencies"
regress/install-deps.sh demo

step "build and install"
$MAKE PG_CONFIG="$PG_CONFIG" all
$MAKE PG_CONFIG="$PG_CONFIG" install

# PostgreSQL refuses root: run it as postgres then.  A C.UTF-8 locale keeps
# initdb independent of the caller's (possibly ungenerated) locale.
if [ "$(id -u)" -eq 0 ]; then
    OS_USER=postgres
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    OS_USER=$(id -un)
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi

DEMO=$(mktemp -d /tmp/widecol-demo.XXXXXX)
chown "$OS_USER" "$DEMO"
PGDATA=$DEMO/data
LOG=$DEMO/server.log

cleanup() {
    if [ -f "$PGDATA/postmaster.pid" ]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DEMO"
}
trap cleanup EXIT

# A port with nothing listening on it over TCP or in the socket directory.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
PORT=$((20000 + RANDOM % 20000))
while ! port_free "$PORT"; do
    PORT=$((PORT + 1))
done

step "initdb in $PGDATA"
as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
cat >>"$PGDATA/postgresql.conf" <<CONF

# widecol demo
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DEMO'
shared_preload_libraries = 'widecol'
widecol.num_tokens = 16
CONF
grep -A6 '^# widecol demo' "$PGDATA/postgresql.conf"

step "start PostgreSQL (port $PORT, socket in $DEMO)"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$LOG" -w start >/dev/null

psql_demo() {
    as_pg PGHOST="$DEMO" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres \
        "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 --echo-queries "$@"
}

step "the extension, its functions and GUCs"
psql_demo <<'SQL'
CREATE EXTENSION widecol;
\dx widecol
\df widecol.*
SELECT widecol.version();
SELECT name, setting, unit, context, short_desc
  FROM pg_settings WHERE name LIKE 'widecol.%' ORDER BY name;
SQL

step "the node background worker"
psql_demo <<'SQL'
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN (SELECT running FROM widecol.node_status());
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT * FROM widecol.node_status();
SELECT pid, backend_type, wait_event_type, wait_event, backend_start
  FROM pg_stat_activity WHERE backend_type = 'widecol node';
SQL

step "a keyspace and three tables from the IoT seed (CQL -> widecol)"
# CREATE KEYSPACE iot_platform WITH replication = {...}  -> CREATE SERVER
# CREATE TABLE ... PRIMARY KEY ... WITH ...               -> CREATE FOREIGN TABLE
psql_demo <<'SQL'
CREATE SERVER iot_platform FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $$ {'class': 'NetworkTopologyStrategy', 'DC1': '3'} $$);

CREATE FOREIGN TABLE sensor_readings (
    device_id       text,
    "timestamp"     timestamp,
    temperature     numeric,
    humidity        numeric,
    battery_level   numeric,
    signal_strength integer
) SERVER iot_platform OPTIONS (
    primary_key          '(device_id, "timestamp")',
    clustering_order     '"timestamp" DESC',
    compaction           $$ {'class': 'TimeWindowCompactionStrategy',
                             'compaction_window_unit': 'HOURS',
                             'compaction_window_size': 24} $$,
    default_time_to_live '2592000',
    gc_grace_seconds     '86400');

CREATE FOREIGN TABLE device_metadata (
    device_id        text,
    device_type      text,
    firmware_version text,
    location         text,
    last_seen        timestamp,
    status           text
) SERVER iot_platform OPTIONS (primary_key 'device_id');

CREATE FOREIGN TABLE device_alerts (
    device_id    text,
    alert_id     widecol.timeuuid,
    "timestamp"  timestamp,
    alert_type   text,
    severity     text,
    message      text,
    acknowledged boolean
) SERVER iot_platform OPTIONS (
    primary_key      '((device_id), alert_id)',
    clustering_order 'alert_id DESC');

\det+
SQL

step "load 300,000 readings: 1,000 devices x 300 readings, one every 5 minutes"
psql_demo <<'SQL'
\timing on
SELECT clock_timestamp() AS load_start \gset
INSERT INTO sensor_readings
SELECT format('sensor-%s', lpad(d::text, 4, '0')),
       timestamp '2026-01-01 00:00' - r * interval '5 minutes',
       round((20 + 8 * sin(r / 24.0 + d))::numeric, 2),
       round((55 + 20 * cos(r / 36.0 + d))::numeric, 1),
       round((100 - r / 6.0 - d % 10)::numeric, 1),
       -50 - (d * 7 + r) % 40
  FROM generate_series(1, 1000) AS d, generate_series(0, 299) AS r;
SELECT 300000 AS rows_loaded,
       round(300000 / extract(epoch FROM clock_timestamp() - :'load_start'::timestamptz))
           AS rows_per_second;
INSERT INTO device_metadata
SELECT format('sensor-%s', lpad(d::text, 4, '0')),
       (ARRAY['thermostat', 'hygrometer', 'weather-station'])[d % 3 + 1],
       '2.4.' || d % 5,
       'building-' || d % 20,
       timestamp '2026-01-01 00:00',
       'active'
  FROM generate_series(1, 1000) AS d;
-- write the readings' memtable to an SSTable (later writes go to a new memtable)
SELECT widecol.flush('sensor_readings');
SELECT * FROM widecol.tables ORDER BY table_name::text;
SQL

step "the seed's queries"
psql_demo <<'SQL'
\timing on
SET search_path = public, widecol;

-- readings of one device in the last hour of the data (one partition, a clustering range)
SELECT * FROM sensor_readings
 WHERE device_id = 'sensor-0042'
   AND "timestamp" > timestamp '2026-01-01 00:00' - interval '1 hour';

-- latest reading of a few devices: one parameterized partition read each
SELECT d.device_id, r.*
  FROM (VALUES ('sensor-0001'), ('sensor-0500'), ('sensor-0999')) AS d(device_id)
 CROSS JOIN LATERAL (
       SELECT "timestamp", temperature, battery_level
         FROM sensor_readings s
        WHERE s.device_id = d.device_id
        ORDER BY "timestamp" DESC
        LIMIT 1) AS r;

-- the seed's metadata upsert: columns not named keep their values
INSERT INTO device_metadata (device_id, last_seen, status)
VALUES ('sensor-0042', timestamp '2026-01-01 00:05', 'maintenance');
SELECT * FROM device_metadata WHERE device_id = 'sensor-0042';

-- alerts: alert_id = now(), newest first by the clustering order
INSERT INTO device_alerts (device_id, alert_id, "timestamp", alert_type, severity, message)
VALUES ('sensor-0042', now_timeuuid(), now(), 'battery', 'warning', 'battery below 60%');
INSERT INTO device_alerts (device_id, alert_id, "timestamp", alert_type, severity, message)
VALUES ('sensor-0042', now_timeuuid(), now(), 'temperature', 'critical', 'above 30 degrees');
SELECT timeuuid_timestamp(alert_id) AS raised, alert_type, severity, message
  FROM device_alerts WHERE device_id = 'sensor-0042' LIMIT 10;

-- latest reading of every device: CQL PER PARTITION LIMIT 1 over the whole table
SET widecol.per_partition_limit = 1;
SELECT count(*) AS devices, min("timestamp"), max("timestamp"),
       round(avg(temperature), 2) AS avg_temperature
  FROM sensor_readings;
SELECT device_id, "timestamp", temperature
  FROM sensor_readings ORDER BY temperature DESC, device_id LIMIT 5;
RESET widecol.per_partition_limit;

-- what is pushed down to the node, and what the read cost
EXPLAIN (ANALYZE, COSTS OFF)
SELECT "timestamp", temperature FROM sensor_readings
 WHERE device_id = 'sensor-0042'
   AND "timestamp" >= timestamp '2025-12-31 12:00'
 ORDER BY "timestamp" DESC LIMIT 10;

-- a range delete is one range tombstone, written without reading
EXPLAIN (COSTS OFF)
DELETE FROM sensor_readings
 WHERE device_id = 'sensor-0042' AND "timestamp" < timestamp '2025-12-31 12:00';
DELETE FROM sensor_readings
 WHERE device_id = 'sensor-0042' AND "timestamp" < timestamp '2025-12-31 12:00';
SELECT count(*) FROM sensor_readings WHERE device_id = 'sensor-0042';
SQL

step "flush the memtables, compact the readings' two SSTables into one"
psql_demo <<'SQL'
\timing on
SELECT widecol.flush('device_metadata');
SELECT widecol.flush('device_alerts');
SELECT widecol.flush('sensor_readings');
SELECT table_name, sstable_count, sstable_bytes, rows_estimate FROM widecol.tables
 WHERE table_name = 'sensor_readings'::regclass;
SELECT widecol.compact('sensor_readings');
SELECT * FROM widecol.tables ORDER BY table_name::text;
SQL

step "the engine directory \$PGDATA/widecol"
ls -la "$PGDATA/widecol"

step "stop PostgreSQL (fast): the node closes its engine"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
grep -E 'widecol' "$LOG" || true

step "remove the instance"
cleanup
trap - EXIT
echo "done: the throwaway instance is gone."
echo "How to use widecol tables in your own instance: docs/user-guide.md."
