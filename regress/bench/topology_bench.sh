#!/usr/bin/env bash
# regress/bench/topology_bench.sh - what 'make bench-topology' runs: how
# fast a new node gets its data (bootstrap streaming) and how long a repair
# of a table where 1% of the rows differ takes, each against a baseline in
# the same run, on the same machine.
#
# Three throwaway PostgreSQL 15 instances on 127.0.0.1 (nodes 1 and 2 form
# a cluster, node 3 joins it later), hinted handoff off on all of them.
#
# (a) bootstrap_stream: table boot in a keyspace of replication factor 2
#     holds SIZE_MB MB of rows (about SIZE_MB * 10,000 rows of 100 bytes),
#     flushed on nodes 1 and 2.  Baseline: a plain copy (cp -r, then sync)
#     of node 1's SSTable files of the table, which hold every row, in MB/s
#     of those files.  widecol: node 3 starts, joins and streams the ranges
#     it takes over; the time is from its log line "bootstrap streams" to
#     its line "bootstrap finished" (log_line_prefix %m), the bytes are
#     those of its SSTable files of the table once flushed, so that both
#     rates count the same kind of bytes.  A count at ALL on node 3 checks
#     that every row is still there.
# (b) repair_1pct: tables rep_a and rep_b, REPAIR_ROWS rows each, in a
#     keyspace of replication factor 3 (every node holds every row).  Node 3
#     is stopped, 1% of the rows of both tables are rewritten at ONE through
#     node 1, node 3 comes back without them.  widecol: widecol.repair('rep_a')
#     on node 3 (Merkle trees per range, only the differing leaves read and
#     repaired), its own seconds column.  Baseline: a full comparison, a read
#     of every row of rep_b at consistency ALL on node 3 (every replica sends
#     all its rows, the coordinator compares and repairs them), timed around
#     the client.  A read at ONE on node 3 then checks that rep_a holds the
#     rewritten rows.
#
# Ends with two lines:
#   RESULT bootstrap_stream widecol=<MB/s> baseline=<MB/s> ratio=<widecol/baseline> unit=MB/s
#   RESULT repair_1pct widecol=<s> baseline=<s> ratio=<baseline/widecol> unit=s
# (ratio above 1: widecol ahead).
#
# Environment: SIZE_MB (50), REPAIR_ROWS (200000), BENCH_DIR, KEEP_TMP.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/lib.sh
SIZE_MB=${SIZE_MB:-50}
REPAIR_ROWS=${REPAIR_ROWS:-200000}
PARTITIONS=$((SIZE_MB * 100))
ROWS_PER=100
ROWS=$((PARTITIONS * ROWS_PER))

step "dependencies"
bench_deps postgresql-15

step "build and install widecol"
bench_build

bench_tmpdir bench-topology

bench_cluster_nodes 1 2 3

# wait_nodes NODE COUNT [SECONDS]: NODE sees COUNT nodes up and normal
wait_nodes() {
    local n
    for _ in $(seq 1 $((${3:-60} * 2))); do
        n=$(psql_n "$1" -c "SELECT count(*) FROM widecol.nodes WHERE status = 'up' AND state = 'normal'" 2>/dev/null || echo 0)
        [ "$n" = "$2" ] && return 0
        sleep 0.5
    done
    die "node $1 does not see $2 nodes up and normal"
}

# wait_down NODE: node 1 sees NODE down
wait_down() {
    for _ in $(seq 1 120); do
        [ "$(psql_n 1 -c "SELECT count(*) FROM widecol.nodes WHERE status = 'down'")" = 1 ] && return 0
        sleep 0.5
    done
    die "node 1 does not see node $1 down"
}

# start_node NAME: a new instance whose seed is node 1
start_node() {
    local i=$1
    as_pg "$PG_BINDIR/initdb" -D "$DIR/n$i" -A trust -U postgres --no-sync >/dev/null
    cat >>"$DIR/n$i/postgresql.conf" <<CONF

# widecol topology benchmark, node $i
port = ${SQLPORT[$i]}
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'widecol'
shared_buffers = 256MB
autovacuum = off
jit = off
log_line_prefix = '%m [%p] '
widecol.cluster_name = 'bench-topology'
widecol.listen_address = '127.0.0.1'
widecol.port = ${NODEPORT[$i]}
widecol.seeds = '127.0.0.1:${NODEPORT[1]}'
widecol.cluster_secret_file = '$DIR/secret'
widecol.hinted_handoff_enabled = off
CONF
    as_pg "$PG_BINDIR/pg_ctl" -D "$DIR/n$i" -l "$DIR/n$i.log" -w start >/dev/null
}

# table_dir NODE TABLE: the engine directory of TABLE on NODE
table_dir() {
    local edir id
    edir=$(psql_n "$1" -c "SELECT data_directory FROM widecol.node_status()")
    id=$(psql_n "$1" -c "SELECT table_id FROM widecol.cluster_schema() WHERE table_name = '$2' AND NOT dropped")
    [ -n "$id" ] || die "table $2 is not in node $1's cluster schema"
    echo "$edir/t$id"
}

# log_time NODE PATTERN: the time (epoch seconds) of the first log line of NODE matching PATTERN
log_time() {
    local line
    line=$(grep -m1 -- "$2" "$DIR/n$1.log") || die "node $1 never logged '$2' (see $DIR/n$1.log)"
    date -d "$(echo "$line" | awk '{ print $1, $2, $3 }')" +%s.%N
}

RESULTS=
result() {   # NAME WIDECOL BASELINE RATIO UNIT
    RESULTS+="RESULT $1 widecol=$2 baseline=$3 ratio=$4 unit=$5"$'\n'
}

step "nodes 1 and 2 in $DIR"
start_node 1
psql_n 1 -c 'CREATE EXTENSION widecol'
wait_nodes 1 1
start_node 2
psql_n 2 -c 'CREATE EXTENSION widecol'
wait_nodes 1 2
wait_nodes 2 2
psql_n 1 <<'SQL'
CREATE SERVER ks2 FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 2}$$);
CREATE FOREIGN TABLE boot (p int, c int, v text) SERVER ks2 OPTIONS (primary_key '((p), c)');
CREATE SERVER ks3 FOREIGN DATA WRAPPER widecol
  OPTIONS (replication $${'class': 'SimpleStrategy', 'replication_factor': 3}$$);
CREATE FOREIGN TABLE rep_a (k bigint, v text) SERVER ks3 OPTIONS (primary_key 'k');
CREATE FOREIGN TABLE rep_b (k bigint, v text) SERVER ks3 OPTIONS (primary_key 'k');
SQL
for _ in $(seq 1 60); do
    [ "$(psql_n 2 -c "SELECT count(*) FROM pg_class WHERE relname IN ('boot', 'rep_a', 'rep_b')")" = 3 ] && break
    sleep 0.5
done

step "(a) $ROWS rows into boot (RF 2), flushed on nodes 1 and 2"
# 1000 partitions (100,000 rows, about 10 MB) per statement: a statement is
# one logged batch, which must fit a message
for lo in $(seq 1 1000 "$PARTITIONS"); do
    hi=$((lo + 999 < PARTITIONS ? lo + 999 : PARTITIONS))
    psql_n 1 -c "SET widecol.consistency = 'all'" -c "INSERT INTO boot
        SELECT p, c, md5((p * 1000 + c)::text) || md5(c::text)
        FROM generate_series($lo, $hi) p, generate_series(1, $ROWS_PER) c"
done
for i in 1 2; do psql_n "$i" -c "SELECT widecol.flush('boot')" >/dev/null; done
SRC=$(table_dir 1 boot)

step "(a) baseline: cp -r of node 1's SSTable files of boot, then sync"
as_pg sync
t0=$(date +%s.%N)
as_pg cp -r "$SRC" "$DIR/copy"
as_pg sync
t1=$(date +%s.%N)
copy_bytes=$(du -sb "$DIR/copy" | awk '{ print $1 }')
base_mbs=$(awk -v b="$copy_bytes" -v a="$t0" -v c="$t1" 'BEGIN { printf "%.1f", b / 1e6 / (c - a) }')
echo "    copied $((copy_bytes / 1000000)) MB in $(awk -v a="$t0" -v c="$t1" 'BEGIN { printf "%.2f", c - a }') s: $base_mbs MB/s"
rm -rf "$DIR/copy"

step "(a) node 3 joins and streams"
start_node 3
psql_n 3 -c 'CREATE EXTENSION widecol'
wait_nodes 3 3 300
wait_nodes 1 3
ts=$(log_time 3 'cluster: bootstrap streams')
te=$(log_time 3 'cluster: bootstrap finished')
raw_bytes=$(psql_n 3 -c "SELECT coalesce(sum(bytes), 0) FROM widecol.streams WHERE direction = 'in'")
psql_n 3 -c "SELECT widecol.flush('boot')" >/dev/null
new_bytes=$(du -sb "$(table_dir 3 boot)" | awk '{ print $1 }')
wc_mbs=$(awk -v b="$new_bytes" -v a="$ts" -v c="$te" 'BEGIN { printf "%.1f", b / 1e6 / (c - a) }')
echo "    streamed for $(awk -v a="$ts" -v c="$te" 'BEGIN { printf "%.2f", c - a }') s: $((raw_bytes / 1000000)) MB of pages, $((new_bytes / 1000000)) MB of SSTables on node 3: $wc_mbs MB/s"
n=$(psql_n 3 -c "SET widecol.consistency = 'all'" -c "SELECT count(*) FROM boot")
[ "$n" = "$ROWS" ] || die "node 3 reads $n rows of boot at ALL, expected $ROWS"
result bootstrap_stream "$wc_mbs" "$base_mbs" "$(awk -v w="$wc_mbs" -v b="$base_mbs" 'BEGIN { printf "%.3f", w / b }')" MB/s

step "(b) $REPAIR_ROWS rows into rep_a and rep_b (RF 3), flushed"
for t in rep_a rep_b; do
    for lo in $(seq 1 100000 "$REPAIR_ROWS"); do
        hi=$((lo + 99999 < REPAIR_ROWS ? lo + 99999 : REPAIR_ROWS))
        psql_n 1 -c "SET widecol.consistency = 'all'" \
            -c "INSERT INTO $t SELECT g, md5(g::text) FROM generate_series($lo, $hi) g"
    done
done
for i in 1 2 3; do
    psql_n "$i" -c "SELECT widecol.flush('rep_a'), widecol.flush('rep_b')" >/dev/null
done

step "(b) node 3 down, 1% of the rows rewritten, node 3 back"
as_pg "$PG_BINDIR/pg_ctl" -D "$DIR/n3" -m immediate stop >/dev/null
wait_down 3
CHANGED=$((REPAIR_ROWS / 100))
for t in rep_a rep_b; do
    psql_n 1 -c "SET widecol.consistency = one" \
        -c "INSERT INTO $t SELECT g * 100, 'changed' FROM generate_series(1, $CHANGED) g"
done
as_pg "$PG_BINDIR/pg_ctl" -D "$DIR/n3" -l "$DIR/n3.log" -w start >/dev/null
wait_nodes 3 3 120
wait_nodes 1 3
n=$(psql_n 3 -c "SET widecol.consistency = one" -c "SET widecol.allow_filtering = on" \
    -c "SELECT count(*) FROM rep_a WHERE v = 'changed'")
[ "$n" = 0 ] || die "node 3 already holds $n rewritten rows of rep_a (hinted handoff?)"

step "(b) widecol.repair('rep_a') on node 3"
out=$(psql_n 3 -c "SELECT seconds, ranges, ranges_mismatched, leaves_mismatched, rows_streamed FROM widecol.repair('rep_a')")
rep_s=$(echo "$out" | cut -d'|' -f1)
echo "    seconds|ranges|ranges mismatched|leaves mismatched|rows streamed: $out"
n=$(psql_n 3 -c "SET widecol.consistency = one" -c "SET widecol.allow_filtering = on" \
    -c "SELECT count(*) FROM rep_a WHERE v = 'changed'")
[ "$n" = "$CHANGED" ] || die "after the repair node 3 holds $n rewritten rows of rep_a at ONE, expected $CHANGED"

step "(b) baseline: every row of rep_b read at ALL on node 3"
t0=$(date +%s.%N)
n=$(psql_n 3 -c "SET widecol.consistency = 'all'" -c "SELECT count(*) FROM rep_b")
t1=$(date +%s.%N)
[ "$n" = "$REPAIR_ROWS" ] || die "the read at ALL returned $n rows of rep_b, expected $REPAIR_ROWS"
full_s=$(awk -v a="$t0" -v c="$t1" 'BEGIN { printf "%.3f", c - a }')
echo "    $full_s s"
rep_s=$(awk -v s="$rep_s" 'BEGIN { printf "%.3f", s }')
result repair_1pct "$rep_s" "$full_s" "$(awk -v w="$rep_s" -v b="$full_s" 'BEGIN { printf "%.3f", b / w }')" s

for i in $NODES; do
    as_pg "$PG_BINDIR/pg_ctl" -D "$DIR/n$i" -m fast -w stop >/dev/null
    if grep -E 'PANIC|TRAP|terminated by signal' "$DIR/n$i.log" >/dev/null; then
        grep -E 'PANIC|TRAP|terminated by signal' "$DIR/n$i.log" | head -5
        die "node $i crashed"
    fi
done
[ -z "$LIB_WARN" ] || echo "$LIB_WARN"
echo
printf '%s' "$RESULTS"
