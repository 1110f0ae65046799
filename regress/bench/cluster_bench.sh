#!/usr/bin/env bash
# regress/bench/cluster_bench.sh - what 'make bench-cluster' runs: a
# three-node cluster with replication factor 3 against a one-node cluster
# with replication factor 1, in the same run, on the same machine.
#
# Four throwaway PostgreSQL 15 instances on 127.0.0.1: node s forms a
# one-node cluster (its keyspace RF 1), nodes 1-3 form a three-node cluster
# (its keyspace RF 3, every node a replica of everything).  Both go through
# the coordinator: the comparison measures what replication costs.
#
# Phases, each at consistency ONE and QUORUM:
#   copy_<cl>        COPY of ROWS rows (PARTITIONS partitions) from one
#                    client into a fresh table, rows/s
#   point_read_<cl>  pgbench, prepared point SELECT by the full primary key,
#                    CLIENTS clients for DURATION seconds, tps; the cluster's
#                    clients are spread over its three nodes
# Ends with one line per comparison:
#   RESULT point_read_quorum widecol=<3-node> baseline=<1-node> ratio=... unit=tps
# (ratio = three-node / one-node; above 1 the cluster is ahead).  All four
# instances share this machine's CPUs, so the three-node figure pays for
# three copies of every write on the same cores.
#
# Environment: PARTITIONS (2000), ROWS_PER (100), CLIENTS (6), DURATION (15),
# BENCH_DIR, KEEP_TMP.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/lib.sh
PARTITIONS=${PARTITIONS:-2000}
ROWS_PER=${ROWS_PER:-100}
CLIENTS=${CLIENTS:-6}
DURATION=${DURATION:-15}
ROWS=$((PARTITIONS * ROWS_PER))
PGBENCH=$PG_BINDIR/pgbench

step "dependencies"
bench_deps postgresql-15
[ -x "$PGBENCH" ] || die "$PGBENCH is missing"

step "build and install widecol"
bench_build

bench_tmpdir bench-cluster
SCRIPTS=$DIR/scripts
mkdir -p "$SCRIPTS"
chown "$OS_USER" "$SCRIPTS"

bench_cluster_nodes s 1 2 3

wait_nodes() { bench_wait_nodes "$@"; }
start_node() { bench_start_node "$1" "$2" $((CLIENTS + 20)); }

step "four instances in $DIR: node s alone, nodes 1-3 one cluster"
start_node s s
wait_nodes s 1
for i in 1 2 3; do
    start_node "$i" 1
    for j in $(seq 1 "$i"); do wait_nodes "$j" "$i"; done
done

# The keyspace and tables: created on node s, and on node 1 of the cluster
# (the cluster schema brings them to nodes 2 and 3).
create_tables() {   # NODE RF
    psql_n "$1" <<SQL
CREATE SERVER ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': $2}\$\$);
CREATE FOREIGN TABLE kv_one (p int, c int, v text) SERVER ks OPTIONS (primary_key '((p), c)');
CREATE FOREIGN TABLE kv_quorum (p int, c int, v text) SERVER ks OPTIONS (primary_key '((p), c)');
SQL
}
create_tables s 1
create_tables 1 3
for i in 2 3; do
    for _ in $(seq 1 60); do
        [ "$(psql_n "$i" -c "SELECT count(*) FROM pg_class WHERE relname IN ('kv_one', 'kv_quorum')")" = 2 ] && break
        sleep 0.5
    done
    [ "$(psql_n "$i" -c "SELECT count(*) FROM pg_class WHERE relname IN ('kv_one', 'kv_quorum')")" = 2 ] ||
        die "the tables did not reach node $i"
done

CSV=$DIR/kv.csv
as_pg "$PG_BINDIR/psql" -X -q -At "host=$DIR port=${SQLPORT[s]} user=postgres dbname=postgres" -c \
    "COPY (SELECT p, c, md5((p * 1000 + c)::text) FROM generate_series(1, $PARTITIONS) p,
           generate_series(1, $ROWS_PER) c) TO '$CSV' (FORMAT csv)"

# copy_rate NODE CL TABLE -> rows/s
copy_rate() {
    local t0 t1
    t0=$(date +%s.%N)
    psql_n "$1" -c "SET widecol.consistency = $2" -c "COPY $3 FROM '$CSV' (FORMAT csv)"
    t1=$(date +%s.%N)
    awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }'
}

cat >"$SCRIPTS/point.sql" <<SQL
\set p random(1, $PARTITIONS)
\set c random(1, $ROWS_PER)
SELECT v FROM kv_one WHERE p = :p AND c = :c;
SQL
chmod 644 "$SCRIPTS"/*.sql

# pgbench_tps CL NODE... -> tps summed over the nodes, clients spread evenly
pgbench_tps() {
    local cl=$1 n per total=0 out pids=() files=() i k=0
    shift
    n=$#
    per=$(( (CLIENTS + n - 1) / n ))
    for i in "$@"; do
        k=$((k + 1))
        out=$DIR/pgbench.$cl.$i
        files+=("$out")
        PGOPTIONS="-c widecol.consistency=$cl" as_pg "$PGBENCH" -n -M prepared -c "$per" -j "$per" \
            -T "$DURATION" -f "$SCRIPTS/point.sql" \
            "host=$DIR port=${SQLPORT[$i]} user=postgres dbname=postgres" >"$out" 2>&1 &
        pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k" || true; done
    for out in "${files[@]}"; do
        if grep -q 'failed transactions: [1-9]\|aborted' "$out"; then
            grep -Ei 'error|abort' "$out" | head -3 | sed 's/^/    pgbench: /' >&2
            die "pgbench had failures"
        fi
        total=$(awk -v t="$total" '/^tps = .*without initial/ { t += $3 } END { printf "%.0f", t }' "$out")
    done
    echo "$total"
}

RESULTS=
result() {   # NAME CLUSTER SINGLE UNIT
    local ratio line
    ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    line="RESULT $1 widecol=$2 baseline=$3 ratio=$ratio unit=$4"
    echo "    $1: three-node RF 3 $2, one-node RF 1 $3 ($4), ratio $ratio"
    RESULTS+="$line"$'\n'
}

step "COPY $ROWS rows at ONE and at QUORUM"
for cl in one quorum; do
    single=$(copy_rate s "$cl" "kv_$cl")
    cluster=$(copy_rate 1 "$cl" "kv_$cl")
    result "copy_$cl" "$cluster" "$single" rows/s
done
for i in s 1 2 3; do psql_n "$i" -c "SELECT widecol.flush('kv_one')" >/dev/null; done
n1=$(psql_n 2 -c "SET widecol.consistency = quorum" -c "SELECT count(*) FROM kv_one")
[ "$n1" = "$ROWS" ] || die "node 2 reads $n1 rows of kv_one at QUORUM, expected $ROWS"

step "point reads: $CLIENTS clients, ${DURATION}s per point"
for cl in one quorum; do
    single=$(pgbench_tps "$cl" s)
    cluster=$(pgbench_tps "$cl" 1 2 3)
    result "point_read_$cl" "$cluster" "$single" tps
done

echo
printf '%s' "$RESULTS"
