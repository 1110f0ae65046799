#!/bin/bash
#
# regress/bench/compaction_bench.sh - what 'make bench-compaction' runs.
#
#   make bench-compaction
#   WINDOWS=30 DEVICES=500 regress/bench/compaction_bench.sh     # quicker
#   SKIP_AMP=1 regress/bench/compaction_bench.sh                   # part (a) only
#
# (b) space and read amplification after an overwrite-heavy workload under
#     STCS and LCS, engine level: build/bench/compaction_bench
#     (regress/bench/compaction_bench.c) against RocksDB universal and leveled
#     compaction; options through AMP_ARGS (e.g. AMP_ARGS='--partitions=20000').
# (a) TTL expiry, SQL level, one throwaway PostgreSQL 15 instance: a widecol
#     foreign table under TimeWindowCompactionStrategy (1-MINUTE windows stand
#     for days) holding WINDOWS windows of a time series, each written with a
#     back-dated widecol.write_timestamp and flushed into its own SSTable; the
#     oldest window is written last with a short TTL (EXPIRE_AFTER seconds) so
#     that it expires at a known moment, gc_grace_seconds = 0.  Its cost: the
#     widecol node process's CPU (all threads) and I/O from just before that
#     moment until its SSTable is gone.  Baseline: a heap table with the same
#     rows, expired with DELETE ... WHERE ts < <end of the oldest window> and
#     VACUUM, then CHECKPOINT: the CPU and I/O of the backend plus the
#     checkpointer, background writer and WAL writer.
#
# Ends with exactly four lines "RESULT <name> widecol=.. baseline=.. ratio=.. unit=..",
# ratio = how many times better widecol is.  docs/benchmarks.md has the results.
#
# Environment: WINDOWS (30), DEVICES (2000), READINGS per device per window
# (30), EXPIRE_AFTER (30 s), SKIP_AMP (0), AMP_ARGS (''), KEEP_TMP (0),
# BENCH_DIR (/tmp), EXTRA_CONF (lines appended to postgresql.conf).
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/lib.sh
WINDOWS=${WINDOWS:-30}
DEVICES=${DEVICES:-2000}
READINGS=${READINGS:-30}
EXPIRE_AFTER=${EXPIRE_AFTER:-30}
SKIP_AMP=${SKIP_AMP:-0}
PER_WINDOW=$((DEVICES * READINGS))
ROWS=$((PER_WINDOW * WINDOWS))
AMP_BIN=build/bench/compaction_bench

# ------------------------------------------------------------ dependencies, build
step "dependencies"
bench_deps librocksdb-dev

step "build and install widecol, build $AMP_BIN"
bench_build
gcc -std=gnu11 -O2 -g -Wall -D_GNU_SOURCE -Iengine \
    -DROCKSDB_VERSION_STR="\"$(dpkg-query -W -f='${Version}' librocksdb-dev)\"" \
    -o "$AMP_BIN" regress/bench/compaction_bench.c build/libwcengine.a \
    -lrocksdb -llz4 -lxxhash -lpthread -lm
bench_tmpdir bench-compaction-sql

# ------------------------------------------------------------ (b) amplification
AMP_RESULTS=
if [ "$SKIP_AMP" != 1 ]; then
    step "(b) space and read amplification: $AMP_BIN ${AMP_ARGS:-}"
    AMP_OUT=$DIR/amp.out
    # shellcheck disable=SC2086
    set +e
    "$AMP_BIN" --dir="${BENCH_DIR:-/tmp}" ${AMP_ARGS:-} | tee "$AMP_OUT" | grep -v '^RESULT'
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" -eq 0 ] || die "$AMP_BIN failed (see above)"
    AMP_RESULTS=$(grep '^RESULT' "$AMP_OUT")
    [ "$(wc -l <<<"$AMP_RESULTS")" -eq 3 ] || die "$AMP_BIN printed no RESULT lines"
fi

# ------------------------------------------------------------ (a) instance
step "(a) TTL expiry: instance in $DIR"
bench_initdb bench-compaction
start_pg
psql_q -c "CREATE EXTENSION widecol"
wait_node
NODE_PID=$(psql_q -c "SELECT pid FROM widecol.node_status()")
ENGINE_DIR=$(psql_q -c "SELECT data_directory FROM widecol.node_status()")
echo "    node pid $NODE_PID, engine directory $ENGINE_DIR"
psql_q -F ' = ' -c "SELECT name, current_setting(name) FROM pg_settings
    WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_level',
                   'autovacuum', 'maintenance_work_mem', 'widecol.commitlog_sync',
                   'widecol.memtable_size_mb', 'widecol.compaction_throughput',
                   'widecol.concurrent_compactors') ORDER BY name" | sed 's/^/    /'

COLS='device_id text NOT NULL, ts timestamptz NOT NULL, temperature numeric, humidity numeric,
      battery_level numeric, signal_strength integer'
TWCS_MAP="{'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', 'compaction_window_size': 1}"
psql_q <<SQL
CREATE SERVER ts FOREIGN DATA WRAPPER widecol
  OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$);
CREATE TABLE readings_heap ($COLS, PRIMARY KEY (device_id, ts));
CREATE FOREIGN TABLE readings_wc ($COLS) SERVER ts
  OPTIONS (primary_key '(device_id, ts)', clustering_order 'ts DESC',
           compaction \$\$$TWCS_MAP\$\$,
           default_time_to_live '$((WINDOWS * 60))', gc_grace_seconds '0');
SQL
echo "    readings_heap: heap, PRIMARY KEY (device_id, ts)"
echo "    readings_wc:   widecol, compaction $TWCS_MAP, default_time_to_live $((WINDOWS * 60)), gc_grace_seconds 0"

# ------------------------------------------------------------ (a) data
# Window i (0 = oldest) covers [B + 60 i, B + 60 (i + 1)) seconds; window WINDOWS-1
# ends at the start of the current minute.  Rows: DEVICES devices x READINGS
# readings per window (every 60/READINGS s); values are deterministic so both
# tables hold the same rows.
B=$(( $(date +%s) / 60 * 60 - WINDOWS * 60 ))
STEP_S=$((60 / READINGS))
[ "$STEP_S" -ge 1 ] || die "READINGS must be at most 60"
gen_rows() {   # first_window last_window
    cat <<SQL
SELECT 'dev-' || lpad(d::text, 5, '0'), to_timestamp($B + 60 * i + $STEP_S * k),
       round((18 + 8 * sin((60 * i + $STEP_S * k) / 240.0) + (d % 10) / 10.0)::numeric, 2),
       round((40 + (d * 7 + k) % 20)::numeric, 1),
       round((100 - i * 0.5 - k * 0.01 - d % 7)::numeric, 2),
       -95 + (d * 13 + k) % 50
  FROM generate_series($1, $2) i, generate_series(0, $READINGS - 1) k, generate_series(0, $DEVICES - 1) d
 ORDER BY i, k, d
SQL
}
step "(a) data: $WINDOWS windows of 1 minute (standing for days) x $DEVICES devices x $READINGS readings = $ROWS rows ($PER_WINDOW per window), first window starts at $(date -u -d "@$B" '+%F %T') UTC"
# windows WINDOWS-1 .. 1: long TTLs that expire them one window apart, 10 minutes
# after the load at the earliest (after the run)
t0=$(date +%s.%N)
{
    for ((i = WINDOWS - 1; i >= 1; i--)); do
        echo "SET widecol.write_timestamp = '$(( (B + 60 * i + 59) * 1000000 ))';"
        echo "SET widecol.ttl = $(( B + 60 * i - $(date +%s) + 600 + WINDOWS * 60 ));"
        echo "INSERT INTO readings_wc $(gen_rows "$i" "$i");"
        echo "SELECT widecol.flush('readings_wc');"
    done
} | psql_q >/dev/null
t1=$(date +%s.%N)
printf '    widecol windows %d..1: INSERT + widecol.flush() per window, %.1f s\n' $((WINDOWS - 1)) "$(awk "BEGIN { print $t1 - $t0 }")"
psql_q -c "INSERT INTO readings_heap $(gen_rows 0 $((WINDOWS - 1)))"
psql_q -c "VACUUM ANALYZE readings_heap" -c "CHECKPOINT"
t2=$(date +%s.%N)
printf '    heap: one INSERT of all %d rows in time order, VACUUM ANALYZE, CHECKPOINT: %.1f s\n' "$ROWS" "$(awk "BEGIN { print $t2 - $t1 }")"
HEAP_COUNT=$(psql_q -c "SELECT count(*) FROM readings_heap")
[ "$HEAP_COUNT" = "$ROWS" ] || die "heap holds $HEAP_COUNT rows, expected $ROWS"

# window 0 last, with the short TTL: it expires EXPIRE_AFTER s after this write
W0_START=$(date +%s.%N)
psql_q >/dev/null <<SQL
SET widecol.write_timestamp = '$(( (B + 59) * 1000000 ))';
SET widecol.ttl = $EXPIRE_AFTER;
INSERT INTO readings_wc $(gen_rows 0 0);
SELECT widecol.flush('readings_wc');
SQL
W0_END=$(date +%s.%N)
printf '    widecol window 0 (the oldest write timestamps), TTL %d s: written and flushed in %.1f s; expires at the earliest %s\n' \
    "$EXPIRE_AFTER" "$(awk "BEGIN { print $W0_END - $W0_START }")" "$(date -u -d "@$(awk "BEGIN { printf \"%d\", $W0_START + $EXPIRE_AFTER }")" '+%T')"

wait_compaction() {
    psql_q -c "DO \$\$ BEGIN FOR i IN 1 .. 600 LOOP
                 EXIT WHEN (SELECT NOT running AND pending = 0 FROM widecol.compaction_stats('readings_wc'));
                 PERFORM pg_sleep(0.05); END LOOP; END \$\$;"
}
wait_compaction
WC_COUNT=$(psql_q -c "SELECT count(*) FROM readings_wc")
SUMS=$(psql_q -c "SELECT (SELECT sum(signal_strength) FROM readings_wc) = (SELECT sum(signal_strength) FROM readings_heap)")
read -r STRATEGY SST_BEFORE SST_BYTES_BEFORE <<<"$(psql_q -F ' ' -c "SELECT compaction_strategy, sstable_count, sstable_bytes FROM widecol.tables WHERE table_name = 'readings_wc'::regclass")"
echo "    widecol: count(*) = $WC_COUNT, sum(signal_strength) equal to the heap's: $SUMS; strategy $STRATEGY;" \
     "$SST_BEFORE SSTables, $SST_BYTES_BEFORE bytes"
psql_q -F ' ' -c "SELECT 'windows (newest first, at most 16 listed):', window_sstables FROM widecol.compaction_stats('readings_wc')" | sed 's/^/    /'
[ "$WC_COUNT" = "$ROWS" ] || die "widecol holds $WC_COUNT rows, expected $ROWS"
[ "$SUMS" = t ] || die "the tables hold different data"
case "$STRATEGY" in *TimeWindow*|TWCS) ;; *) die "the widecol table's strategy is '$STRATEGY', not TWCS (is protocol v2 in this build?)" ;; esac
[ "$SST_BEFORE" = "$WINDOWS" ] || die "expected one SSTable per window ($WINDOWS), the table has $SST_BEFORE"
read -r HEAP_BYTES_BEFORE <<<"$(psql_q -c "SELECT pg_total_relation_size('readings_heap')")"
echo "    heap: $HEAP_COUNT rows, pg_total_relation_size $HEAP_BYTES_BEFORE bytes"
TDIR=$(ls -d "$ENGINE_DIR"/t*/ | head -1)
nsst() { find "$TDIR" -maxdepth 1 -name '*.sst' | wc -l; }
[ "$(nsst)" = "$WINDOWS" ] || die "$TDIR holds $(nsst) *.sst files, expected $WINDOWS"

# ------------------------------------------------------------ (a) measuring
# snap LABEL NAME PID ...: one line per process: label name pid cpu_ns ticks rchar wchar read_bytes write_bytes
#   cpu_ns = sum of /proc/PID/task/*/schedstat run time (every thread, ns)
#   ticks  = utime + stime of /proc/PID/stat (every thread, also exited ones; 1/CLK_TCK s)
SNAP=$DIR/snap.sh
cat >"$SNAP" <<'SH'
#!/bin/bash
label=$1; shift
while [ $# -ge 2 ]; do
    name=$1 pid=$2; shift 2
    ns=$(cat /proc/$pid/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }')
    ticks=$(sed 's/^.*) //' /proc/$pid/stat | awk '{ print $12 + $13 }')
    io=$(awk '$1 == "rchar:" || $1 == "wchar:" || $1 == "read_bytes:" || $1 == "write_bytes:" { printf " %s", $2 }' /proc/$pid/io)
    echo "$label $name $pid $ns $ticks$io"
    if [ -n "${SNAP_THREADS:-}" ]; then   # per thread: label tid:<tid> <tid> <ns>
        for t in /proc/$pid/task/*; do
            echo "$label tid:${t##*/} ${t##*/} $(awk '{ print $1 }' "$t/schedstat" 2>/dev/null || echo 0) 0 0 0 0 0"
        done
    fi
done >>"${SNAP_FILE:?}"
SH
chmod +x "$SNAP"
export SNAP_FILE=$DIR/snaps.txt
: >"$SNAP_FILE"
# delta LABEL1 LABEL2 NAME FIELD -> value of FIELD (ns ticks rchar wchar rb wb) in LABEL2 minus LABEL1
delta() {
    awk -v a="$1" -v b="$2" -v n="$3" -v f="$4" '
        BEGIN { split("ns ticks rchar wchar rb wb", k, " "); for (i in k) col[k[i]] = i + 3 }
        $1 == a && $2 == n { x = $col[f] } $1 == b && $2 == n { y = $col[f] }
        END { printf "%d", y - x }' "$SNAP_FILE"
}
ms() { awk -v ns="$1" 'BEGIN { printf "%.3f", ns / 1e6 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.3f", b / 1048576 }'; }

step "(a) widecol: the node process (pid $NODE_PID, all threads) while TWCS drops the expired window"
# idle reference: the same process over 3 s with nothing to do
SNAP_THREADS=1 "$SNAP" idle0 node "$NODE_PID"; T_IDLE0=$(date +%s.%N)
sleep 3
SNAP_THREADS=1 "$SNAP" idle1 node "$NODE_PID"; T_IDLE1=$(date +%s.%N)
START_AT=$(awk "BEGIN { printf \"%.3f\", $W0_START + $EXPIRE_AFTER - 0.2 }")
NOW=$(date +%s.%N)
if awk "BEGIN { exit !($NOW > $START_AT) }"; then
    die "the load took too long: window 0 may already have expired before the measurement (raise EXPIRE_AFTER)"
fi
sleep "$(awk "BEGIN { print $START_AT - $NOW }")"
SNAP_THREADS=1 "$SNAP" wc0 node "$NODE_PID"; T_WC0=$(date +%s.%N)
deadline=$(( $(date +%s) + 60 ))
while [ "$(nsst)" -ge "$WINDOWS" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "widecol did not drop the expired window's SSTable within 60 s of its expiry ($(nsst) files in $TDIR)"
    sleep 0.02
done
T_DROP=$(date +%s.%N)
sleep 0.1
SNAP_THREADS=1 "$SNAP" wc1 node "$NODE_PID"; T_WC1=$(date +%s.%N)
WC_S=$(awk "BEGIN { printf \"%.3f\", $T_WC1 - $T_WC0 }")
IDLE_S=$(awk "BEGIN { printf \"%.3f\", $T_IDLE1 - $T_IDLE0 }")
WC_NS=$(delta wc0 wc1 node ns)
IDLE_NS=$(delta idle0 idle1 node ns)
WC_IO=$(( $(delta wc0 wc1 node rb) + $(delta wc0 wc1 node wb) ))
WC_CHARS=$(( $(delta wc0 wc1 node rchar) + $(delta wc0 wc1 node wchar) ))
printf '    measured from %.1f s before the earliest expiry to 0.1 s after the SSTable file was gone: %s s (file gone %.2f s after the earliest expiry)\n' \
    0.2 "$WC_S" "$(awk "BEGIN { print $T_DROP - $W0_START - $EXPIRE_AFTER }")"
echo "    node CPU: $(ms "$WC_NS") ms (schedstat, all threads); $(delta wc0 wc1 node ticks) ticks of utime+stime"
echo "    node I/O: read_bytes $(delta wc0 wc1 node rb), write_bytes $(delta wc0 wc1 node wb); rchar $(delta wc0 wc1 node rchar), wchar $(delta wc0 wc1 node wchar)"
echo "    idle node for comparison: $(ms "$IDLE_NS") ms CPU over $IDLE_S s (commit-log sync thread, compaction checks)," \
     "I/O read_bytes+write_bytes $(( $(delta idle0 idle1 node rb) + $(delta idle0 idle1 node wb) ))"
echo "    node threads (CPU ms; the idle column scaled to the measured interval):"
awk -v w="$WC_S" -v i="$IDLE_S" '
    $2 ~ /^tid:/ { v[$1, $3] = $4; tids[$3] = 1 }
    END { for (t in tids) {
              e = v["wc1", t] - v["wc0", t]; d = (v["idle1", t] - v["idle0", t]) * w / i
              if (e > 50000 || d > 50000) printf "        tid %-8s expiry %9.3f   idle %9.3f\n", t, e / 1e6, d / 1e6 } }' "$SNAP_FILE"
read -r STRATEGY SST_AFTER SST_BYTES_AFTER <<<"$(psql_q -F ' ' -c "SELECT compaction_strategy, sstable_count, sstable_bytes FROM widecol.tables WHERE table_name = 'readings_wc'::regclass")"
read -r EXPIRED COMPLETED BREAD BWRITTEN <<<"$(psql_q -F ' ' -c "SELECT sstables_expired, compactions_completed, bytes_read, bytes_written FROM widecol.compaction_stats('readings_wc')")"
WC_COUNT_AFTER=$(psql_q -c "SELECT count(*) FROM readings_wc")
echo "    after: $SST_AFTER SSTables, $SST_BYTES_AFTER bytes (before: $SST_BEFORE, $SST_BYTES_BEFORE); sstables_expired $EXPIRED;" \
     "compactions_completed $COMPLETED (compaction bytes read $BREAD, written $BWRITTEN); count(*) $WC_COUNT_AFTER"
[ "$WC_COUNT_AFTER" = $((ROWS - PER_WINDOW)) ] || die "widecol holds $WC_COUNT_AFTER rows after the expiry, expected $((ROWS - PER_WINDOW))"

step "(a) heap: DELETE FROM readings_heap WHERE ts < <end of window 0>; VACUUM readings_heap; CHECKPOINT"
CUTOFF="to_timestamp($((B + 60)))"
read -r CKPT_PID BGW_PID WALW_PID <<<"$(psql_q -F ' ' -c "SELECT
    (SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'),
    (SELECT pid FROM pg_stat_activity WHERE backend_type = 'background writer'),
    (SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter')")"
HEAP_OUT=$(psql_q <<SQL
SELECT pg_backend_pid() AS bpid \gset
\setenv BPID :bpid
\! "$SNAP" h0 backend \$BPID checkpointer $CKPT_PID bgwriter $BGW_PID walwriter $WALW_PID
DELETE FROM readings_heap WHERE ts < $CUTOFF;
\! "$SNAP" h1 backend \$BPID checkpointer $CKPT_PID bgwriter $BGW_PID walwriter $WALW_PID
VACUUM readings_heap;
\! "$SNAP" h2 backend \$BPID checkpointer $CKPT_PID bgwriter $BGW_PID walwriter $WALW_PID
CHECKPOINT;
\! "$SNAP" h3 backend \$BPID checkpointer $CKPT_PID bgwriter $BGW_PID walwriter $WALW_PID
SELECT count(*) FROM readings_heap;
SQL
)
HEAP_COUNT_AFTER=$(tail -1 <<<"$HEAP_OUT")
[ "$HEAP_COUNT_AFTER" = $((ROWS - PER_WINDOW)) ] || die "heap holds $HEAP_COUNT_AFTER rows after the DELETE, expected $((ROWS - PER_WINDOW))"
HEAP_BYTES_AFTER=$(psql_q -c "SELECT pg_total_relation_size('readings_heap')")
HEAP_NS=0; HEAP_IO=0; HEAP_CHARS=0
for p in backend checkpointer bgwriter walwriter; do
    HEAP_NS=$((HEAP_NS + $(delta h0 h3 $p ns)))
    HEAP_IO=$((HEAP_IO + $(delta h0 h3 $p rb) + $(delta h0 h3 $p wb)))
    HEAP_CHARS=$((HEAP_CHARS + $(delta h0 h3 $p rchar) + $(delta h0 h3 $p wchar)))
done
printf '    %-28s %12s %8s %14s %14s %14s %14s\n' "" "CPU ms" ticks read_bytes write_bytes rchar wchar
for row in "backend DELETE:backend:h0:h1" "backend VACUUM:backend:h1:h2" "backend CHECKPOINT (waits):backend:h2:h3" \
           "checkpointer:checkpointer:h0:h3" "background writer:bgwriter:h0:h3" "WAL writer:walwriter:h0:h3"; do
    IFS=: read -r label p a b <<<"$row"
    printf '    %-28s %12s %8s %14s %14s %14s %14s\n' "$label" "$(ms "$(delta "$a" "$b" "$p" ns)")" "$(delta "$a" "$b" "$p" ticks)" \
        "$(delta "$a" "$b" "$p" rb)" "$(delta "$a" "$b" "$p" wb)" "$(delta "$a" "$b" "$p" rchar)" "$(delta "$a" "$b" "$p" wchar)"
done
echo "    heap total: CPU $(ms "$HEAP_NS") ms, read_bytes+write_bytes $HEAP_IO ($(mb "$HEAP_IO") MiB), rchar+wchar $HEAP_CHARS"
echo "    heap: $HEAP_COUNT_AFTER rows left; pg_total_relation_size $HEAP_BYTES_AFTER bytes (before: $HEAP_BYTES_BEFORE; plain VACUUM keeps the file size, the space is reused by later inserts)"

stop_pg
server_log_errors

# ------------------------------------------------------------ summary
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.3f", a / b }'; }
WC_MS=$(ms "$WC_NS"); HEAP_MS=$(ms "$HEAP_NS")
step "summary ($(( $(date +%s) - T_START )) s in all)"
echo "    (a) expiring 1 of $WINDOWS windows ($PER_WINDOW of $ROWS rows):"
echo "        CPU  widecol node $WC_MS ms (includes $(ms "$(awk -v n="$IDLE_NS" -v s="$IDLE_S" -v w="$WC_S" 'BEGIN { printf "%d", n / s * w }')") ms of idle background work over the $WC_S s)" \
     "vs heap $HEAP_MS ms: $(ratio "$HEAP_NS" "$WC_NS")x (target >= 50x: $(awk -v r="$(ratio "$HEAP_NS" "$WC_NS")" 'BEGIN { print (r == "inf" || r >= 50) ? "met" : "NOT met" }'))"
echo "        I/O  widecol read_bytes+write_bytes $WC_IO vs heap $HEAP_IO ($(mb "$HEAP_IO") MiB); rchar+wchar $WC_CHARS vs $HEAP_CHARS"
echo "        disk widecol $SST_BYTES_BEFORE -> $SST_BYTES_AFTER bytes; heap $HEAP_BYTES_BEFORE -> $HEAP_BYTES_AFTER bytes"
[ -z "$LIB_WARN" ] || echo "    $LIB_WARN"
echo
echo "RESULT ttl_expiry widecol=$WC_MS baseline=$HEAP_MS ratio=$(ratio "$HEAP_NS" "$WC_NS") unit=ms"
[ -z "$AMP_RESULTS" ] || echo "$AMP_RESULTS"
