#!/bin/bash
#
# regress/demo-cluster.sh - what 'make demo-cluster' runs: build, install,
# start three throwaway PostgreSQL 15 instances with widecol preloaded that
# form a cluster on 127.0.0.1, show widecol.nodes and widecol.ring, write
# the IoT seed's sensor readings on node 1 (replication factor 3, QUORUM)
# and read them on node 2, stop node 3, show that QUORUM still works and
# ALL is refused, start node 3 again and show the hints it was sent, and
# remove the instances.
#
# The instances run as the postgres user (as the calling user when not
# root) in one temporary directory, listen for SQL only on Unix sockets in
# it and for each other on 127.0.0.1, on ports no one else uses.
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

if [ "$(id -u)" -eq 0 ]; then
    OS_USER=postgres
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    OS_USER=$(id -un)
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi

DEMO=$(mktemp -d /tmp/widecol-demo-cluster.XXXXXX)
chown "$OS_USER" "$DEMO"

cleanup() {
    for i in 1 2 3; do
        if [ -f "$DEMO/n$i/postmaster.pid" ]; then
            as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n$i" -m immediate stop >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$DEMO"
}
trap cleanup EXIT

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
next_port() {
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}

# SQL ports and internode ports, all distinct and free
BASE=$((20000 + RANDOM % 20000))
declare -a SQLPORT NODEPORT
p=$BASE
for i in 1 2 3; do
    SQLPORT[$i]=$(next_port "$p"); p=$((SQLPORT[$i] + 1))
    NODEPORT[$i]=$(next_port "$p"); p=$((NODEPORT[$i] + 1))
done

step "the cluster secret (mode 0600)"
as_pg sh -c "umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > '$DEMO/secret'"
ls -l "$DEMO/secret"

psql_n() {
    local i=$1; shift
    as_pg PGHOST="$DEMO" PGPORT="${SQLPORT[$i]}" PGUSER=postgres PGDATABASE=postgres \
        "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 "$@"
}

# Wait until node $1 sees $2 nodes up and normal (at most 60 s).
wait_nodes() {
    for _ in $(seq 1 120); do
        n=$(psql_n "$1" -Atc "SELECT count(*) FROM widecol.nodes WHERE status = 'up' AND state = 'normal'" 2>/dev/null || echo 0)
        [ "$n" = "$2" ] && return 0
        sleep 0.5
    done
    echo "node $1 does not see $2 nodes up" >&2
    return 1
}

for i in 1 2 3; do
    step "node $i: initdb, internode port ${NODEPORT[$i]}, seed 127.0.0.1:${NODEPORT[1]}"
    as_pg "$PG_BINDIR/initdb" -D "$DEMO/n$i" -A trust -U postgres --no-sync >/dev/null
    cat >>"$DEMO/n$i/postgresql.conf" <<CONF

# widecol cluster demo
port = ${SQLPORT[$i]}
listen_addresses = ''
unix_socket_directories = '$DEMO'
shared_preload_libraries = 'widecol'
widecol.cluster_name = 'demo'
widecol.listen_address = '127.0.0.1'
widecol.port = ${NODEPORT[$i]}
widecol.seeds = '127.0.0.1:${NODEPORT[1]}'
widecol.cluster_secret_file = '$DEMO/secret'
widecol.phi_convict_threshold = 5
CONF
    as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n$i" -l "$DEMO/n$i.log" -w start >/dev/null
    psql_n "$i" -qc 'CREATE EXTENSION widecol'
    # nodes join one at a time: wait until every started node sees it normal
    for j in $(seq 1 "$i"); do wait_nodes "$j" "$i"; done
done

step "widecol.nodes on node 1"
psql_n 1 --echo-queries -c 'SELECT * FROM widecol.nodes'
step "the same cluster seen from node 3, and the ring"
psql_n 3 --echo-queries -c 'SELECT address, status, state, owns, host_id, tokens FROM widecol.nodes' \
    -c 'SELECT address, count(*) AS tokens, min(token), max(token) FROM widecol.ring GROUP BY address ORDER BY address'

step "node 1 creates the IoT keyspace (replication factor 3) and its sensor_readings table"
psql_n 1 --echo-queries <<'SQL'
CREATE SERVER iot_platform FOREIGN DATA WRAPPER widecol
    OPTIONS (replication $$ {'class': 'SimpleStrategy', 'replication_factor': 3} $$);
CREATE FOREIGN TABLE sensor_readings (
    device_id       text,
    "timestamp"     timestamp,
    temperature     numeric,
    humidity        numeric,
    battery_level   numeric,
    signal_strength integer
) SERVER iot_platform OPTIONS (
    primary_key      '(device_id, "timestamp")',
    clustering_order '"timestamp" DESC');
SQL

step "the cluster schema brings them to nodes 2 and 3"
for i in 2 3; do
    for _ in $(seq 1 60); do
        [ "$(psql_n "$i" -Atc "SELECT count(*) FROM pg_class WHERE relname = 'sensor_readings'")" = 1 ] && break
        sleep 0.5
    done
done
psql_n 3 --echo-queries -c 'SELECT keyspace, table_name, table_id, replication, version FROM widecol.cluster_schema()'

step "node 1 writes 2,400 readings at QUORUM (20 devices x 120, one every 5 minutes)"
psql_n 1 --echo-queries <<'SQL'
\timing on
SET widecol.consistency = quorum;
INSERT INTO sensor_readings
SELECT format('sensor-%s', lpad(d::text, 4, '0')),
       timestamp '2026-01-01 00:00' - r * interval '5 minutes',
       round((20 + 8 * sin(r / 24.0 + d))::numeric, 2),
       round((55 + 20 * cos(r / 36.0 + d))::numeric, 1),
       round((100 - r / 6.0 - d % 10)::numeric, 1),
       -50 - (d * 7 + r) % 40
  FROM generate_series(1, 20) AS d, generate_series(0, 119) AS r;
SQL

step "node 2 reads them at QUORUM"
psql_n 2 --echo-queries <<'SQL'
SET widecol.consistency = quorum;
SELECT count(*) AS readings, count(DISTINCT device_id) AS devices FROM sensor_readings;
SELECT "timestamp", temperature, humidity FROM sensor_readings
 WHERE device_id = 'sensor-0007' LIMIT 3;
SQL

step "stop node 3 (it tells the others)"
as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n3" -m fast -w stop >/dev/null
sleep 1
psql_n 1 --echo-queries -c 'SELECT address, status, state, host_id FROM widecol.nodes'

step "with node 3 down: QUORUM (2 of 3) still writes, ALL is refused"
psql_n 1 --echo-queries <<'SQL'
SET widecol.consistency = quorum;
INSERT INTO sensor_readings
SELECT format('sensor-%s', lpad(d::text, 4, '0')), timestamp '2026-01-01 00:05', 21.5, 50, 90, -60
  FROM generate_series(1, 20) AS d;
SELECT count(*) AS readings FROM sensor_readings;
SET widecol.consistency = 'all';
\set ON_ERROR_STOP 0
\set VERBOSITY verbose
INSERT INTO sensor_readings VALUES ('sensor-0001', timestamp '2026-01-01 00:10', 22, 50, 90, -60);
SQL

step "start node 3 again: same host id and tokens; hints bring it the 20 writes it missed"
as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n3" -l "$DEMO/n3.log" -w start >/dev/null
for j in 1 2 3; do wait_nodes "$j" 3; done
psql_n 1 --echo-queries -c 'SELECT address, status, state, host_id, tokens FROM widecol.nodes'
for _ in $(seq 1 60); do
    n=$(psql_n 3 -Atc "SET widecol.consistency = one" -c "SELECT count(*) FROM sensor_readings" 2>/dev/null | tail -n 1 || echo 0)
    [ "$n" = 2420 ] && break
    sleep 0.5
done
psql_n 3 --echo-queries <<'SQL'
-- at ONE node 3 answers from its own replica: the hinted writes are there
SET widecol.consistency = one;
SELECT count(*) AS readings FROM sensor_readings;
SELECT device_id, "timestamp", temperature FROM sensor_readings
 WHERE device_id = 'sensor-0001' LIMIT 1;
SQL

step "what the server log of node 1 says about the cluster"
grep -E 'cluster|node 127|hint' "$DEMO/n1.log" | sed 's/^/    /' | tail -n 12

step "done; the instances are removed"
