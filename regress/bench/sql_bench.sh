#!/bin/bash
#
# regress/bench/sql_bench.sh - what 'make bench-sql' runs: a widecol foreign
# table against a heap table with the same primary key, in one throwaway
# PostgreSQL 15 instance, on the IoT seed's sensor_readings; and, in the same
# run, a table of the widecol access method (CREATE TABLE ... USING widecol)
# against the foreign table (copy and reads).
#
#   make bench-sql
#   DEVICES=200 READINGS=1000 ITER=2000 regress/bench/sql_bench.sh   # quick
#
# Phases (docs/benchmarks.md has the details and past results): copy (COPY FROM the same
# CSV file), disk_bytes (after flush / CHECKPOINT), point_read and latest10
# latencies (prepared statements from one libpq client, after compaction /
# VACUUM ANALYZE + CHECKPOINT and one untimed warm-up pass), then
# copy_in_transaction (the copy inside BEGIN ... COMMIT, into fresh tables), then,
# with COPY_BATCH=1 (default), the copy again with widecol.commitlog_sync = batch.
# Ends with one "RESULT <name> widecol=.. baseline=.. ratio=.. unit=.." line
# per comparison; ratio > 1 means widecol is ahead.
#
# Environment: DEVICES (2000), READINGS per device (1000), ITER reads per
# read phase (20000), READ_BLOCK (500: reads before switching tables), SEED
# (42), COPY_BATCH (1), KEEP_TMP (0),
# BENCH_DIR (parent of the temporary directory, /tmp), EXTRA_CONF (lines
# appended to postgresql.conf, e.g. 'widecol.block_cache_size_mb = 512'),
# PG_BINDIR (/usr/lib/postgresql/15/bin; the bin directory of a copied
# PostgreSQL 15 tree installs widecol there instead, e.g. to compare two
# commits side by side).
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/lib.sh
. regress/bench/sensor_rows.sh
DEVICES=${DEVICES:-2000}
READINGS=${READINGS:-1000}
ITER=${ITER:-20000}
SEED=${SEED:-42}
COPY_BATCH=${COPY_BATCH:-1}
ROWS=$((DEVICES * READINGS))
CLIENT=build/bench/sql_bench_client

# ------------------------------------------------------------ dependencies
step "dependencies"
bench_deps libpq-dev

step "build and install widecol, build $CLIENT"
bench_build
gcc -std=gnu11 -O2 -Wall -o "$CLIENT" regress/bench/sql_bench_client.c \
    -I"$($PG_CONFIG --includedir)" -L"$($PG_CONFIG --libdir)" -lpq

# ------------------------------------------------------------ instance
bench_tmpdir bench-sql
CSV=$DIR/sensor_readings.csv
bench_initdb bench-sql

step "instance in $DIR (port $PORT)"
start_pg
psql_q -c "CREATE EXTENSION widecol"
wait_node

settings() {
    psql_q -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings
        WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'wal_level',
                       'full_page_writes', 'max_wal_size', 'autovacuum', 'jit',
                       'widecol.commitlog_sync', 'widecol.commitlog_sync_period_ms',
                       'widecol.memtable_size_mb', 'widecol.block_cache_size_mb')
        ORDER BY name" | sed 's/^/    /'
}
echo "settings:"
settings
echo "durability: heap = WAL, fsync = on, synchronous_commit = on (the COPY's commit waits for its WAL fsync);"
echo "            widecol = commit log, widecol.commitlog_sync = $(psql_q -c 'SHOW widecol.commitlog_sync')" \
     "(periodic: a write is acknowledged before its fsync, fsync every $(psql_q -c 'SHOW widecol.commitlog_sync_period_ms'))"

TABLE_COLS='device_id text NOT NULL, "timestamp" timestamptz NOT NULL, temperature numeric,
            humidity numeric, battery_level numeric, signal_strength integer'
create_tables() {   # suffix
    psql_q <<SQL
CREATE TABLE sensor_readings_heap$1 ($TABLE_COLS, PRIMARY KEY (device_id, "timestamp"));
CREATE FOREIGN TABLE sensor_readings_wc$1 ($TABLE_COLS) SERVER iot
  OPTIONS (table_name 'sensor_readings$1', primary_key '(device_id, "timestamp")',
           clustering_order '"timestamp" DESC');
CREATE TABLE sensor_readings_tam$1 ($TABLE_COLS) USING widecol
  WITH (keyspace = 'iot', table_name = 'sensor_readings_tam$1', primary_key = '(device_id, "timestamp")',
        clustering_order = '"timestamp" DESC');
SQL
}
psql_q -c "CREATE SERVER iot FOREIGN DATA WRAPPER widecol
           OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$)"
create_tables ""

# ------------------------------------------------------------ data
step "data: $DEVICES devices x $READINGS readings = $ROWS rows, one per device per minute, time order interleaved across devices"
psql_q < <(sensor_csv_sql "$CSV")
echo "$CSV: $(stat -c %s "$CSV") bytes; first rows:"
head -3 "$CSV" | sed 's/^/    /'

# ------------------------------------------------------------ copy
step "copy: COPY ... FROM '$CSV' (FORMAT csv), $ROWS rows into each table"
run_copy() {   # table [txn] -> rows/s on stdout, the client's line on stderr
    local out
    psql_q -c "CHECKPOINT"
    out=$("$CLIENT" copy "$CONNINFO" "$1" "$CSV" ${2:-}) || { echo "$out" >&2; die "COPY into $1"; }
    echo "    $out" >&2
    case "$out" in *"rows=$ROWS "*) ;; *) die "COPY into $1 did not load $ROWS rows: $out" ;; esac
    sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p' <<<"$out"
}
COPY_HEAP=$(run_copy sensor_readings_heap)
COPY_WC=$(run_copy sensor_readings_wc)
COPY_TAM=$(run_copy sensor_readings_tam)

# ------------------------------------------------------------ disk
step "disk_bytes: widecol after widecol.flush(), heap after CHECKPOINT"
psql_q -c "SELECT widecol.flush('sensor_readings_wc')"
psql_q -c "CHECKPOINT"
wc_stats() {
    psql_q -F ' ' -c "SELECT sstable_count, sstable_bytes, memtable_bytes, rows_estimate
                        FROM widecol.tables WHERE table_name = 'sensor_readings_wc'::regclass"
}
read -r SST_COUNT SST_BYTES MEM_BYTES ROWS_EST <<<"$(wc_stats)"
ENGINE_DIR=$(psql_q -c "SELECT data_directory FROM widecol.node_status()")
ENGINE_BYTES=$(du -sb "$ENGINE_DIR" | cut -f1)
read -r HEAP_TOTAL HEAP_REL HEAP_IDX <<<"$(psql_q -F ' ' -c "SELECT pg_total_relation_size('sensor_readings_heap'),
       pg_relation_size('sensor_readings_heap'), pg_indexes_size('sensor_readings_heap')")"
WAL_BYTES=$(du -sb "$PGDATA/pg_wal" | cut -f1)
echo "    widecol: $SST_COUNT SSTables, sstable_bytes = $SST_BYTES (memtable_bytes = $MEM_BYTES, rows_estimate = $ROWS_EST)"
echo "    widecol engine directory $ENGINE_DIR (SSTables, commit log, catalog): $ENGINE_BYTES bytes"
( cd "$ENGINE_DIR" && find . -type f -printf '%s\t%p\n' | sort -k2 | awk '{printf "        %12d  %s\n", $1, $2}' | head -20 )
echo "    heap: pg_total_relation_size = $HEAP_TOTAL (table $HEAP_REL + primary-key index $HEAP_IDX)"
echo "    (pg_wal directory: $WAL_BYTES bytes, not counted)"
[ "$SST_BYTES" -gt 0 ] || die "widecol.tables reports sstable_bytes = $SST_BYTES after a flush"

# ------------------------------------------------------------ read setup
step "before the reads: widecol.compact(); VACUUM ANALYZE + CHECKPOINT on the heap"
t0=$(date +%s.%N)
psql_q -c "SELECT widecol.compact('sensor_readings_wc')"
t1=$(date +%s.%N)
psql_q -c "SELECT widecol.compact('sensor_readings_tam')"
psql_q -c "VACUUM ANALYZE sensor_readings_heap" -c "CHECKPOINT"
t2=$(date +%s.%N)
read -r SST_COUNT2 SST_BYTES2 _ _ <<<"$(wc_stats)"
printf '    widecol.compact: %.1f s -> %s SSTable(s), sstable_bytes = %s\n' "$(awk "BEGIN { print $t1 - $t0 }")" "$SST_COUNT2" "$SST_BYTES2"
printf '    VACUUM ANALYZE + CHECKPOINT: %.1f s -> pg_total_relation_size = %s\n' "$(awk "BEGIN { print $t2 - $t1 }")" \
    "$(psql_q -c "SELECT pg_total_relation_size('sensor_readings_heap')")"
psql_q -c "SELECT count(*) FROM sensor_readings_heap" | sed 's/^/    heap count(*) = /'
psql_q -c "SELECT count(*) FROM sensor_readings_wc" | sed 's/^/    widecol count(*) = /'

step "plans (prepared statements, generic plan, then EXPLAIN ANALYZE of one execution)"
for tab in sensor_readings_wc sensor_readings_heap; do
    psql_e <<SQL
SET plan_cache_mode = force_generic_plan;
PREPARE p(text, timestamptz) AS SELECT * FROM $tab WHERE device_id = \$1 AND "timestamp" = \$2;
PREPARE l(text) AS SELECT * FROM $tab WHERE device_id = \$1 ORDER BY "timestamp" DESC LIMIT 10;
\echo '-- $tab: point read'
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF) EXECUTE p('dev-00042', '2024-01-01 08:20:00+00');
\echo '-- $tab: latest 10'
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF) EXECUTE l('dev-00042');
SQL
done 2>&1 | sed 's/^/    /'
LPLAN=$(psql_e -c "SET plan_cache_mode = force_generic_plan" \
               -c "PREPARE l(text) AS SELECT * FROM sensor_readings_wc WHERE device_id = \$1 ORDER BY \"timestamp\" DESC LIMIT 10" \
               -c "EXPLAIN EXECUTE l('dev-00042')")
if grep -q 'Sort' <<<"$LPLAN"; then
    echo "    NOTE: the widecol latest-10 plan has a Sort node (the ORDER BY was not pushed down)"
    LATEST_SORT=yes
else
    echo "    widecol latest-10 plan: no Sort node"
    LATEST_SORT=no
fi

step "correctness: the same 1000 point reads and 1000 latest-10 reads on both tables"
"$CLIENT" compare "$CONNINFO" sensor_readings_wc sensor_readings_heap 1000 7 "$DEVICES" "$READINGS" \
    | sed 's/^/    /' || die "the tables answer differently"

# ------------------------------------------------------------ reads
READ_BLOCK=${READ_BLOCK:-500}
read_phase() {   # point|latest -> "wc_p50 wc_p99 heap_p50 heap_p99" on stdout, the client's lines on stderr
    local out
    out=$("$CLIENT" reads "$1" "$CONNINFO" sensor_readings_wc sensor_readings_heap \
              "$ITER" "$SEED" "$DEVICES" "$READINGS" "$READ_BLOCK") \
        || { echo "$out" >&2; die "$1 reads"; }
    sed 's/^/    /' <<<"$out" >&2
    echo $(sed -n 's/.* sensor_readings_wc .*p50_us=\([0-9.]*\).*p99_us=\([0-9.]*\).*/\1 \2/p' <<<"$out") \
         $(sed -n 's/.* sensor_readings_heap .*p50_us=\([0-9.]*\).*p99_us=\([0-9.]*\).*/\1 \2/p' <<<"$out")
}
step "point_read: SELECT * ... WHERE device_id = \$1 AND \"timestamp\" = \$2, $ITER random existing keys, prepared, one connection per table; one untimed warm-up pass over the same keys on each table, then the timed pass alternating between the tables every $READ_BLOCK reads"
read -r PR_WC50 PR_WC99 PR_HEAP50 PR_HEAP99 <<<"$(read_phase point)"

step "latest10: SELECT * ... WHERE device_id = \$1 ORDER BY \"timestamp\" DESC LIMIT 10, $ITER random devices, the same way"
read -r L_WC50 L_WC99 L_HEAP50 L_HEAP99 <<<"$(read_phase latest)"

tam_phase() {   # point|latest -> "tam_p50 tam_p99 wc_p50 wc_p99": the access-method table against the foreign table
    local out
    out=$("$CLIENT" reads "$1" "$CONNINFO" sensor_readings_tam sensor_readings_wc \
              "$ITER" "$SEED" "$DEVICES" "$READINGS" "$READ_BLOCK") \
        || { echo "$out" >&2; die "$1 reads (USING widecol)"; }
    sed 's/^/    /' <<<"$out" >&2
    echo $(sed -n 's/.* sensor_readings_tam .*p50_us=\([0-9.]*\).*p99_us=\([0-9.]*\).*/\1 \2/p' <<<"$out") \
         $(sed -n 's/.* sensor_readings_wc .*p50_us=\([0-9.]*\).*p99_us=\([0-9.]*\).*/\1 \2/p' <<<"$out")
}
step "USING widecol: the same 1000 point and latest-10 reads on the access-method table and the foreign table, then point_read and latest10 again, the access-method table against the foreign table"
"$CLIENT" compare "$CONNINFO" sensor_readings_tam sensor_readings_wc 1000 7 "$DEVICES" "$READINGS" \
    | sed 's/^/    /' || die "the USING widecol table and the foreign table answer differently"
read -r TP_TAM50 TP_TAM99 TP_WC50 TP_WC99 <<<"$(tam_phase point)"
read -r TL_TAM50 TL_TAM99 TL_WC50 TL_WC99 <<<"$(tam_phase latest)"

# ------------------------------------------------------------ copy, batch
if [ "$COPY_BATCH" = 1 ]; then
    step "copy_batch: restart with widecol.commitlog_sync = batch; COPY into fresh tables of both kinds"
    stop_pg
    echo "widecol.commitlog_sync = batch" >>"$PGDATA/postgresql.conf"
    start_pg
    wait_node
    echo "    widecol.commitlog_sync = $(psql_q -c 'SHOW widecol.commitlog_sync') (a write is acknowledged only after its commit-log fsync, group commit); heap unchanged"
    create_tables _b
    COPYB_HEAP=$(run_copy sensor_readings_heap_b)
    COPYB_WC=$(run_copy sensor_readings_wc_b)
    psql_q -c "SELECT widecol.drop_table('sensor_readings_wc_b')"
fi

# ------------------------------------------------------------ copy in a transaction
step "copy_in_transaction: BEGIN; COPY; COMMIT into fresh tables of both kinds (timed with the COMMIT)"
create_tables _t
COPYT_HEAP=$(run_copy sensor_readings_heap_t txn)
COPYT_WC=$(run_copy sensor_readings_wc_t txn)
psql_q -c "SELECT widecol.drop_table('sensor_readings_wc_t')"

stop_pg
server_log_errors

# ------------------------------------------------------------ summary
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
step "summary ($ROWS rows, $ITER reads per phase, $(( $(date +%s) - T_START )) s in all)"
printf '    %-16s %14s %14s %8s  %s\n' phase widecol heap ratio unit
printf '    %-16s %14s %14s %8s  %s\n' copy "$COPY_WC" "$COPY_HEAP" "$(ratio "$COPY_WC" "$COPY_HEAP")" "rows/s (widecol/heap)"
printf '    %-16s %14s %14s %8s  %s\n' disk_bytes "$SST_BYTES" "$HEAP_TOTAL" "$(ratio "$HEAP_TOTAL" "$SST_BYTES")" "bytes (heap/widecol; engine dir incl. commit log: $ENGINE_BYTES)"
printf '    %-16s %14s %14s %8s  %s\n' point_read_p50 "$PR_WC50" "$PR_HEAP50" "$(ratio "$PR_HEAP50" "$PR_WC50")" "us (heap/widecol)"
printf '    %-16s %14s %14s %8s  %s\n' point_read_p99 "$PR_WC99" "$PR_HEAP99" "$(ratio "$PR_HEAP99" "$PR_WC99")" "us (heap/widecol)"
printf '    %-16s %14s %14s %8s  %s\n' latest10_p50 "$L_WC50" "$L_HEAP50" "$(ratio "$L_HEAP50" "$L_WC50")" "us (heap/widecol; Sort node on widecol: $LATEST_SORT)"
printf '    %-16s %14s %14s %8s  %s\n' latest10_p99 "$L_WC99" "$L_HEAP99" "$(ratio "$L_HEAP99" "$L_WC99")" "us (heap/widecol)"
printf '    %-16s %14s %14s %8s  %s\n' copy_in_txn "$COPYT_WC" "$COPYT_HEAP" "$(ratio "$COPYT_WC" "$COPYT_HEAP")" "rows/s (BEGIN; COPY; COMMIT)"
if [ "$COPY_BATCH" = 1 ]; then
    printf '    %-16s %14s %14s %8s  %s\n' copy_batch "$COPYB_WC" "$COPYB_HEAP" "$(ratio "$COPYB_WC" "$COPYB_HEAP")" "rows/s (widecol.commitlog_sync = batch)"
fi
printf '    %-16s %14s %14s %8s  %s\n' phase "USING widecol" "foreign" ratio unit
printf '    %-16s %14s %14s %8s  %s\n' tam_copy "$COPY_TAM" "$COPY_WC" "$(ratio "$COPY_TAM" "$COPY_WC")" "rows/s (access method/foreign)"
printf '    %-16s %14s %14s %8s  %s\n' tam_point_p50 "$TP_TAM50" "$TP_WC50" "$(ratio "$TP_WC50" "$TP_TAM50")" "us (foreign/access method)"
printf '    %-16s %14s %14s %8s  %s\n' tam_point_p99 "$TP_TAM99" "$TP_WC99" "$(ratio "$TP_WC99" "$TP_TAM99")" "us (foreign/access method)"
printf '    %-16s %14s %14s %8s  %s\n' tam_latest10_p50 "$TL_TAM50" "$TL_WC50" "$(ratio "$TL_WC50" "$TL_TAM50")" "us (foreign/access method)"
[ -z "$LIB_WARN" ] || echo "    $LIB_WARN"
echo
echo "RESULT copy widecol=$COPY_WC baseline=$COPY_HEAP ratio=$(ratio "$COPY_WC" "$COPY_HEAP") unit=rows/s"
echo "RESULT disk_bytes widecol=$SST_BYTES baseline=$HEAP_TOTAL ratio=$(ratio "$HEAP_TOTAL" "$SST_BYTES") unit=bytes"
echo "RESULT point_read_p50 widecol=$PR_WC50 baseline=$PR_HEAP50 ratio=$(ratio "$PR_HEAP50" "$PR_WC50") unit=us"
echo "RESULT point_read_p99 widecol=$PR_WC99 baseline=$PR_HEAP99 ratio=$(ratio "$PR_HEAP99" "$PR_WC99") unit=us"
echo "RESULT latest10_p50 widecol=$L_WC50 baseline=$L_HEAP50 ratio=$(ratio "$L_HEAP50" "$L_WC50") unit=us"
echo "RESULT latest10_p99 widecol=$L_WC99 baseline=$L_HEAP99 ratio=$(ratio "$L_HEAP99" "$L_WC99") unit=us"
echo "RESULT copy_in_transaction widecol=$COPYT_WC baseline=$COPYT_HEAP ratio=$(ratio "$COPYT_WC" "$COPYT_HEAP") unit=rows/s"
# USING widecol against the foreign table (ratio > 1: the access-method table is ahead)
echo "RESULT tam_copy widecol=$COPY_TAM baseline=$COPY_WC ratio=$(ratio "$COPY_TAM" "$COPY_WC") unit=rows/s"
echo "RESULT tam_point_read_p50 widecol=$TP_TAM50 baseline=$TP_WC50 ratio=$(ratio "$TP_WC50" "$TP_TAM50") unit=us"
echo "RESULT tam_point_read_p99 widecol=$TP_TAM99 baseline=$TP_WC99 ratio=$(ratio "$TP_WC99" "$TP_TAM99") unit=us"
echo "RESULT tam_latest10_p50 widecol=$TL_TAM50 baseline=$TL_WC50 ratio=$(ratio "$TL_WC50" "$TL_TAM50") unit=us"
if [ "$COPY_BATCH" = 1 ]; then
    echo "RESULT copy_batch widecol=$COPYB_WC baseline=$COPYB_HEAP ratio=$(ratio "$COPYB_WC" "$COPYB_HEAP") unit=rows/s"
fi
