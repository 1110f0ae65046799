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
. regress/bench/callgrind_instance.sh
cg_init copy-cg 45390

n=0
for tree in "$@"; do
    d=$DIR/t$n
    n=$((n + 1))
    cg_start "$tree" "$d"
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
    cg_stop "$d"
    b=$(incl "$d/cg/cg.$backend" CopyFrom)
    s=$(incl "$d/cg/cg.$node" wc__serve)
    echo "tree $tree: $ROWS rows; backend CopyFrom $b instructions ($((b / ROWS))/row), node wc__serve $s ($((s / ROWS))/row)"
done
[ "${KEEP:-0}" != 1 ] || echo "callgrind files: $DIR/t*/cg"
