#!/bin/bash
#
# regress/bench/copy_ab.sh - COPY into a widecol foreign table through two
# (or more) PostgreSQL 15 trees that each have their own widecol installed,
# e.g. two commits, in alternation on one CSV: for comparisons that single
# bench-sql runs cannot make on a shared machine (their phases run minutes
# apart, so the load changes between them).
#
#   regress/bench/copy_ab.sh TREE1 TREE2 ...
#   DEVICES=200 READINGS=1000 ROUNDS=7 regress/bench/copy_ab.sh /tmp/pg-old /tmp/pg-new
#
# A TREE is a copy of the PostgreSQL 15 installation (usr/lib/postgresql/15,
# usr/share/postgresql/15, usr/include/postgresql under TREE; PostgreSQL
# finds its files relative to its binaries) into which widecol was
# installed with 'make install PG_CONFIG=TREE/usr/lib/postgresql/15/bin/pg_config';
# nothing is installed into the system's PostgreSQL.  docs/benchmarks.md has
# the steps.
#
# One instance per tree runs at once (port 45300 + i); each round creates a
# fresh table in every instance, runs COPY FROM the CSV outside a
# transaction block (TXN=1: BEGIN; COPY; COMMIT), timed around the client,
# then drops the table and its data; the order of the trees alternates
# every round.  Prints each round's rows/s and the median per tree.
#
# Environment: DEVICES (200), READINGS per device (1000), ROUNDS (5), TXN
# (0), EXTRA_<i> (a line appended to postgresql.conf of tree i, from 0).
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/sensor_rows.sh
DEVICES=${DEVICES:-200}
READINGS=${READINGS:-1000}
ROUNDS=${ROUNDS:-5}
ROWS=$((DEVICES * READINGS))
[ $# -ge 1 ] || { echo "usage: $0 TREE1 TREE2 ..." >&2; exit 2; }
TREES=("$@")
PSQL=/usr/lib/postgresql/15/bin/psql

DIR=$(mktemp -d /tmp/widecol-copy-ab.XXXXXX)
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$DIR"
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi
bindir() { echo "$1/usr/lib/postgresql/15/bin"; }
cleanup() {
    for i in "${!TREES[@]}"; do
        as_pg "$(bindir "${TREES[$i]}")/pg_ctl" -D "$DIR/d$i" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
psql_q() { local port=$1; shift; "$PSQL" -X -q -At -v ON_ERROR_STOP=1 "host=$DIR port=$port user=postgres dbname=postgres" "$@"; }

for i in "${!TREES[@]}"; do
    [ -x "$(bindir "${TREES[$i]}")/postgres" ] || { echo "no PostgreSQL under ${TREES[$i]}" >&2; exit 2; }
    as_pg "$(bindir "${TREES[$i]}")/initdb" -D "$DIR/d$i" -A trust -U postgres --no-sync >/dev/null
    cat >>"$DIR/d$i/postgresql.conf" <<CONF
port = $((45300 + i))
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'widecol'
shared_buffers = 256MB
autovacuum = off
jit = off
CONF
    extra=EXTRA_$i
    [ -z "${!extra:-}" ] || echo "${!extra}" >>"$DIR/d$i/postgresql.conf"
    as_pg "$(bindir "${TREES[$i]}")/pg_ctl" -D "$DIR/d$i" -l "$DIR/log$i" -w start >/dev/null
    psql_q $((45300 + i)) -c "CREATE EXTENSION widecol"
    psql_q $((45300 + i)) -c "DO \$\$ BEGIN FOR i IN 1 .. 200 LOOP
                                EXIT WHEN (SELECT running FROM widecol.node_status());
                                PERFORM pg_sleep(0.05); END LOOP; END \$\$"
    psql_q $((45300 + i)) -c "CREATE SERVER iot FOREIGN DATA WRAPPER widecol
        OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$)"
done

# the rows of make bench-sql (sql_bench.sh)
CSV=$DIR/sensor_readings.csv
psql_q 45300 < <(sensor_csv_sql "$CSV")
COLS='device_id text NOT NULL, "timestamp" timestamptz NOT NULL, temperature numeric,
      humidity numeric, battery_level numeric, signal_strength integer'
COPY_SQL="COPY t FROM '$CSV' (FORMAT csv)"
[ "${TXN:-0}" = 1 ] && COPY_SQL="BEGIN; $COPY_SQL; COMMIT"
echo "$ROWS rows ($(stat -c %s "$CSV") bytes of CSV), $ROUNDS rounds: $COPY_SQL"

declare -A rates
for r in $(seq 1 "$ROUNDS"); do
    order=$(seq 0 $((${#TREES[@]} - 1)))
    [ $((r % 2)) = 0 ] && order=$(tac <<<"$order")
    line="round $r:"
    for i in $order; do
        port=$((45300 + i))
        psql_q $port -c "CREATE FOREIGN TABLE t ($COLS) SERVER iot
            OPTIONS (primary_key '(device_id, \"timestamp\")', clustering_order '\"timestamp\" DESC')"
        t0=$(date +%s.%N)
        psql_q $port -c "$COPY_SQL" 2>/dev/null
        t1=$(date +%s.%N)
        rate=$(awk -v a="$t0" -v b="$t1" -v n="$ROWS" 'BEGIN { printf "%d", n / (b - a) }')
        rates[$i]="${rates[$i]:-} $rate"
        line="$line tree$i=$rate"
        psql_q $port -c "SELECT widecol.drop_table('t')" -c "DROP FOREIGN TABLE t" >/dev/null
    done
    echo "    $line"
done
for i in "${!TREES[@]}"; do
    median=$(tr ' ' '\n' <<<"${rates[$i]}" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    echo "tree$i ${TREES[$i]}: median $median rows/s (rounds:${rates[$i]})"
done
