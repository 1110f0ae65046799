#!/bin/bash
#
# regress/bench/copy_callgrind.sh - instructions per row of a COPY into a
# widecol foreign table, backend and node apart, counted by valgrind's
# callgrind: the same counts whatever else runs on the machine, so two
# builds (commits) compare on a busy machine where timings cannot.
#
#   regress/bench/copy_callgrind.sh TREE1 TREE2 ...
#   DEVICES=50 regress/bench/copy_callgrind.sh /tmp/pg-old /tmp/pg-new
#
# A TREE is a copy of the PostgreSQL 15 installation with its own widecol
# installed, as for copy_ab.sh (docs/benchmarks.md has the steps).  For each
# tree the whole instance runs under callgrind (about a minute for 50,000
# rows): one COPY FROM the CSV of make bench-sql outside a transaction
# block into a fresh table; then the instructions of PostgreSQL's CopyFrom
# in the backend (parsing, encoding, staging: everything of the statement)
# and of the node's request handler wc__serve (all its requests: the
# statement's chunks), each inclusive of what they call, divided by the
# rows.  Not run in CI.
#
# Environment: DEVICES (50), READINGS per device (1000), KEEP=1 keeps the
# callgrind files (their directory is printed) for callgrind_annotate.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/sensor_rows.sh
DEVICES=${DEVICES:-50}
READINGS=${READINGS:-1000}
ROWS=$((DEVICES * READINGS))
[ $# -ge 1 ] || { echo "usage: $0 TREE1 TREE2 ..." >&2; exit 2; }
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
    { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
PSQL=/usr/lib/postgresql/15/bin/psql
PORT=45390

DIR=$(mktemp -d /tmp/widecol-copy-cg.XXXXXX)
chmod 755 "$DIR"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$DIR"
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi
PGPID=
cleanup() {
    [ -z "$PGPID" ] || kill -QUIT "$PGPID" 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT
psql_q() { as_pg "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "host=$DIR port=$PORT user=postgres dbname=postgres" "$@"; }
# inclusive instructions of function $2 in callgrind file $1
incl() { callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
             awk -v f=":$2 " '!n && index($0, f) { gsub(",", "", $1); print $1; n = 1 }'; }

n=0
for tree in "$@"; do
    bin=$tree/usr/lib/postgresql/15/bin
    [ -x "$bin/postgres" ] || { echo "no PostgreSQL under $tree" >&2; exit 2; }
    d=$DIR/t$n
    n=$((n + 1))
    as_pg mkdir -p "$d/cg"
    as_pg "$bin/initdb" -D "$d/data" -A trust -U postgres --no-sync >/dev/null
    cat >>"$d/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'widecol'
shared_buffers = 128MB
autovacuum = off
jit = off
CONF
    as_pg valgrind --tool=callgrind --callgrind-out-file="$d/cg/cg.%p" -q \
        "$bin/postgres" -D "$d/data" >"$d/log" 2>&1 &
    PGPID=$!
    for _ in $(seq 1 300); do psql_q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
    psql_q -c "CREATE EXTENSION widecol"
    psql_q -c "DO \$\$ BEGIN FOR i IN 1 .. 600 LOOP
                 EXIT WHEN (SELECT running FROM widecol.node_status());
                 PERFORM pg_sleep(0.1); END LOOP; END \$\$"
    psql_q -c "CREATE SERVER iot FOREIGN DATA WRAPPER widecol
        OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$)"
    CSV=$DIR/sensor_readings.csv
    # the rows of make bench-sql (sql_bench.sh), as copy_ab.sh makes them
    [ -f "$CSV" ] || psql_q < <(sensor_csv_sql "$CSV")
    psql_q -c "CREATE FOREIGN TABLE t (device_id text NOT NULL, \"timestamp\" timestamptz NOT NULL,
                 temperature numeric, humidity numeric, battery_level numeric, signal_strength integer)
               SERVER iot OPTIONS (primary_key '(device_id, \"timestamp\")',
                                   clustering_order '\"timestamp\" DESC')"
    backend=$(psql_q -c "SELECT pg_backend_pid()" -c "COPY t FROM '$CSV' (FORMAT csv)")
    node=$(psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'widecol node'")
    as_pg "$bin/pg_ctl" -D "$d/data" -m fast -w -t 600 stop >/dev/null
    wait "$PGPID" || true
    PGPID=
    b=$(incl "$d/cg/cg.$backend" CopyFrom)
    s=$(incl "$d/cg/cg.$node" wc__serve)
    echo "tree $tree: $ROWS rows; backend CopyFrom $b instructions ($((b / ROWS))/row), node wc__serve $s ($((s / ROWS))/row)"
done
[ "${KEEP:-0}" != 1 ] || echo "callgrind files: $DIR/t*/cg"
