#!/usr/bin/env bash
# regress/bench/concurrency_bench.sh - the widecol node under many clients:
# pgbench against a widecol foreign table and a heap table with its primary
# key, in the same instance and run, at 1, 2, 8, 32 and 100 clients.
#
# Workloads (prepared statements, one pgbench run per table and client count):
#   point_read   SELECT v WHERE p = $1 AND c = $2 (full primary key)
#   latest10     SELECT c, v WHERE p = $1 ORDER BY c DESC LIMIT 10
#   insert       one single-row INSERT per transaction
#   mix          90 % point_read, 10 % insert
# Like for like: the reads and the mix run with widecol.commitlog_sync =
# periodic against heap synchronous_commit = off; the inserts run twice,
# periodic vs synchronous_commit = off (insert) and, after a restart, batch
# vs synchronous_commit = on (insert_batch).
# Then the point-read p99 latency under a concurrent COPY into another
# table, widecol (COPY into a widecol table) against heap (COPY into a heap
# table with its primary key), each also idle: copy_p99 compares the two
# p99s during the COPYs (unit us, ratio = heap / widecol, > 1: widecol's
# reads wait less), copy_p99_slowdown the two slowdowns, p99 during the COPY
# over idle p99 (unit x, ratio = heap's / widecol's; target: widecol <= 5).
#
# Ends with one line per workload and client count:
#   RESULT point_read_c32 widecol=... baseline=... ratio=... unit=tps errors=...
# (ratio = widecol / heap; errors = failed transactions and aborted clients
# of both tables), and after them one line per point with the CPU time per
# transaction, which a busy machine disturbs much less than the throughput:
#   CPU point_read_c2 widecol=total/pgbench/backends/node baseline=... unit=us_per_txn(...)
# (microseconds of user + system time of pgbench, of the backends and of the
# widecol node process, divided by the transactions).  Environment:
# PARTITIONS (10000) x ROWS_PER (100) rows, DURATION seconds per run (10),
# REPEAT runs per point (3: widecol and heap in turn, the median of each
# compared; single runs on a small guest move by 20-50 %, mostly with where
# the scheduler puts pgbench and the backend), CLIENTS ("1 2 8 32 100"),
# BENCH_DIR, KEEP_TMP, WORKLOADS (all of "point latest10 insert mix p99
# batch": the steps to run, in this order whatever the order given; a part
# of them for a closer look, never for docs/benchmarks.md's full runs).
# A full run takes about 35 minutes.
# ROW_CACHE=1 runs only the point reads and the mix, with the widecol table
# cached ("caching 'rows'", widecol.row_cache_size_mb = ROW_CACHE_MB, 256,
# which must hold every row: 512 bytes per row) and warmed by one point read
# of every row first: RESULT lines point_read_cN (the cache bypassed by
# widecol.row_cache = off), point_read_cached_cN and mix_cached_cN.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/lib.sh
PARTITIONS=${PARTITIONS:-10000}
ROWS_PER=${ROWS_PER:-100}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CLIENTS=${CLIENTS:-1 2 8 32 100}
ROWS=$((PARTITIONS * ROWS_PER))
MAXC=0
for c in $CLIENTS; do [ "$c" -gt "$MAXC" ] && MAXC=$c; done
PGBENCH=$PG_BINDIR/pgbench

step "dependencies"
bench_deps postgresql-15
[ -x "$PGBENCH" ] || die "$PGBENCH is missing"

step "build and install widecol"
bench_build

bench_tmpdir bench-concurrency
ROW_CACHE=${ROW_CACHE:-}
WORKLOADS=${WORKLOADS:-point latest10 insert mix p99 batch}
WC_OPTIONS=
if [ -n "$ROW_CACHE" ]; then
    EXTRA_CONF="widecol.row_cache_size_mb = ${ROW_CACHE_MB:-256}
${EXTRA_CONF:-}"
    WC_OPTIONS=", caching 'rows'"
fi
EXTRA_CONF="max_connections = $((MAXC + 20))
${EXTRA_CONF:-}"
bench_initdb bench-concurrency
SCRIPTS=$DIR/scripts
mkdir -p "$SCRIPTS"
chown "$OS_USER" "$SCRIPTS"

step "instance in $DIR (port $PORT), $ROWS rows in $PARTITIONS partitions, ${DURATION}s per point, clients: $CLIENTS"
start_pg
psql_q -c "CREATE EXTENSION widecol"
wait_node
psql_q <<SQL
CREATE SERVER ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$);
CREATE FOREIGN TABLE kv_wc (p int, c int, v text) SERVER ks
  OPTIONS (primary_key '((p), c)', clustering_order 'c DESC'$WC_OPTIONS);
CREATE FOREIGN TABLE copy_wc (p int, c int, v text) SERVER ks
  OPTIONS (primary_key '((p), c)');
CREATE TABLE kv_heap (p int, c int, v text, PRIMARY KEY (p, c));
CREATE TABLE copy_heap (p int, c int, v text, PRIMARY KEY (p, c));
INSERT INTO kv_heap SELECT p, c, md5((p * 1000 + c)::text)
  FROM generate_series(1, $PARTITIONS) p, generate_series(1, $ROWS_PER) c;
INSERT INTO kv_wc SELECT * FROM kv_heap;
VACUUM ANALYZE kv_heap;
CHECKPOINT;
SQL
psql_q -c "SELECT widecol.flush('kv_wc')" >/dev/null
psql_q -c "SELECT widecol.compact('kv_wc')" >/dev/null
echo "    rows: heap $(psql_q -c 'SELECT count(*) FROM kv_heap'), widecol $(psql_q -c 'SELECT count(*) FROM kv_wc')"
echo "    widecol.node_worker_threads = $(psql_q -c 'SHOW widecol.node_worker_threads') (0: two per CPU on the socket, one per CPU on the ring)"

# script files, one per workload and table
for t in wc heap; do
    cat >"$SCRIPTS/point_$t.sql" <<SQL
\set p random(1, $PARTITIONS)
\set c random(1, $ROWS_PER)
SELECT v FROM kv_$t WHERE p = :p AND c = :c;
SQL
    cat >"$SCRIPTS/latest10_$t.sql" <<SQL
\set p random(1, $PARTITIONS)
SELECT c, v FROM kv_$t WHERE p = :p ORDER BY c DESC LIMIT 10;
SQL
done
# inserts go above the loaded clustering keys, never colliding between clients
cat >"$SCRIPTS/insert_wc.sql" <<SQL
\set p random(1, $PARTITIONS)
\set c 1000000 + :client_id * 10000000 + random(1, 9999999)
INSERT INTO kv_wc VALUES (:p, :c, 'inserted');
SQL
cat >"$SCRIPTS/insert_heap.sql" <<SQL
\set p random(1, $PARTITIONS)
\set c 1000000 + :client_id * 10000000 + random(1, 9999999)
INSERT INTO kv_heap VALUES (:p, :c, 'inserted') ON CONFLICT DO NOTHING;
SQL
chmod 644 "$SCRIPTS"/*.sql

# CPU time (user + system, clock ticks) of process $1; of its reaped children
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
child_ticks() { awk '{ print $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run_pgbench CLIENTS SYNC_COMMIT SCRIPT_ARGS... -> "tps errors cpu" on stdout, cpu
# being the CPU microseconds per transaction as "total/pgbench/backends/node":
# pgbench (the shell's children times), the backends (reaped by the
# postmaster when pgbench disconnects) and the widecol node process
run_pgbench() {
    local n=$1 sync=$2 out rc tps errs jobs pm node b0 b1 n0 n1 txns pgb cpu
    shift 2
    jobs=$(( n < 4 ? n : 4 ))
    pm=$(head -1 "$PGDATA/postmaster.pid")
    node=$(psql_q -c 'SELECT pid FROM widecol.node_status()')
    sleep 0.2
    b0=$(child_ticks "$pm")
    n0=$(proc_ticks "$node")
    set +e
    out=$(PGOPTIONS="-c synchronous_commit=$sync ${BENCH_PGOPTIONS:-}" as_pg "$PGBENCH" -n -M prepared -c "$n" -j "$jobs" \
              -T "$DURATION" "$@" "$CONNINFO" 2>&1; echo "rc=$?"; times)
    rc=$(sed -n 's/^rc=//p' <<<"$out")
    set -e
    sleep 0.2
    b1=$(child_ticks "$pm")
    n1=$(proc_ticks "$node")
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    # the second line of 'times': children's user and system time, e.g. 0m1.250s 0m0.310s
    pgb=$(tail -1 <<<"$out" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.0f", t * 1e6 }')
    cpu=$(awk -v t="${txns:-0}" -v p="$pgb" -v b=$(( (b1 - b0) * TICK_US )) -v nd=$(( (n1 - n0) * TICK_US )) \
              'BEGIN { if (t == 0) { print "0/0/0/0"; exit } printf "%.1f/%.1f/%.1f/%.1f", (p + b + nd) / t, p / t, b / t, nd / t }')
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
    errs=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    errs=$(( ${errs:-0} + $(grep -c 'aborted' <<<"$out" || true) ))
    if [ "$rc" -ne 0 ] || [ -z "$tps" ]; then
        # (a failed pgbench must still yield "0 errors": no pipefail exit here)
        { grep -Ei 'error|abort|fatal' <<<"$out" || echo "exit status $rc, no tps line"; } |
            head -3 | sed 's/^/    pgbench: /' >&2 || true
        errs=$((errs + 1))
        tps=${tps:-0}
    fi
    echo "$tps $errs $cpu"
}

# settle: the same settling for both sides after a restart, which left the
# heap's rows of the earlier steps to vacuum and checkpoint and widecol's
# replayed commit log in memtables: vacuum and checkpoint the heap tables,
# flush the widecol tables and wait (at most a minute) for their
# compactions, so that no background work of either side runs in the
# first runs of the next step only
settle() {
    local t i busy
    psql_q -c "VACUUM kv_heap" -c "VACUUM copy_heap" -c "CHECKPOINT" >/dev/null
    for t in kv_wc copy_wc; do psql_q -c "SELECT widecol.flush('$t')" >/dev/null; done
    for ((i = 0; i < 60; i++)); do
        busy=$(psql_q -c "SELECT count(*) FROM unnest(ARRAY['kv_wc', 'copy_wc']::regclass[]) t,
                            widecol.compaction_stats(t) s WHERE s.running OR s.pending > 0")
        [ "$busy" = 0 ] && break
        sleep 1
    done
    echo "    settled: heap vacuumed and checkpointed, widecol flushed, compactions idle after ${i} s"
}

RESULTS=
CPULINES=
# median NUMBER... -> the middle one (the lower middle of an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# compare NAME SYNC_HEAP WC_ARGS HEAP_ARGS: every client count, REPEAT runs
# of each side taken in turn, the median of each side compared (errors of
# all runs summed; the CPU line is of the last run)
compare() {
    local name=$1 sync=$2 wcargs=$3 heapargs=$4 n i w h e ew eh cw ch ws hs ratio line
    for n in $CLIENTS; do
        ws= hs= ew=0 eh=0
        for ((i = 0; i < REPEAT; i++)); do
            # shellcheck disable=SC2086
            read -r w e cw <<<"$(run_pgbench "$n" off $wcargs)"
            ws+="$w " ew=$((ew + e))
            # shellcheck disable=SC2086
            read -r h e ch <<<"$(run_pgbench "$n" "$sync" $heapargs)"
            hs+="$h " eh=$((eh + e))
        done
        # shellcheck disable=SC2086
        w=$(median $ws) h=$(median $hs)
        [ "$REPEAT" -gt 1 ] && echo "    runs ${name}_c$n: widecol ${ws}/ heap ${hs% }"
        ratio=$(awk -v a="$w" -v b="$h" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')
        line="RESULT ${name}_c$n widecol=$w baseline=$h ratio=$ratio unit=tps errors=$((ew + eh))"
        echo "    $line"
        RESULTS+="$line"$'\n'
        line="CPU ${name}_c$n widecol=$cw baseline=$ch unit=us_per_txn(total/pgbench/backends/node)"
        echo "    $line"
        CPULINES+="$line"$'\n'
    done
}

if [ -n "$ROW_CACHE" ]; then
    step "row cache: one point read of every row, then point reads and the 90/10 mix"
    psql_q <<SQL >/dev/null
DO \$\$
DECLARE r record; x text;
BEGIN
  FOR r IN SELECT p, c FROM kv_heap LOOP
    SELECT v INTO x FROM kv_wc WHERE p = r.p AND c = r.c;
  END LOOP;
END
\$\$;
SQL
    echo "    $(psql_q -c "SELECT format('%s fills, %s slots', fills, slots) FROM widecol.row_cache_stats()")"
    BENCH_PGOPTIONS="-c widecol.row_cache=off" compare point_read off "-f $SCRIPTS/point_wc.sql" \
        "-f $SCRIPTS/point_heap.sql"
    compare point_read_cached off "-f $SCRIPTS/point_wc.sql" "-f $SCRIPTS/point_heap.sql"
    compare mix_cached off "-f $SCRIPTS/point_wc.sql@9 -f $SCRIPTS/insert_wc.sql@1" \
        "-f $SCRIPTS/point_heap.sql@9 -f $SCRIPTS/insert_heap.sql@1"
    echo "    $(psql_q -c "SELECT format('%s hits, %s misses, %s fills, %s evictions', hits, misses, fills, evictions) FROM widecol.row_cache_stats()")"
    stop_pg
    step "results (ratio = widecol / heap)"
    printf '%s' "$RESULTS"
    printf '%s' "$CPULINES"
    echo "done in $(( $(date +%s) - T_START )) s"
    exit 0
fi

# want STEP: whether WORKLOADS names it
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }

step "point reads, latest-10 reads, inserts, 90/10 mix (widecol periodic vs heap synchronous_commit = off)"
want point && compare point_read off "-f $SCRIPTS/point_wc.sql" "-f $SCRIPTS/point_heap.sql"
want latest10 && compare latest10 off "-f $SCRIPTS/latest10_wc.sql" "-f $SCRIPTS/latest10_heap.sql"
want insert && compare insert off "-f $SCRIPTS/insert_wc.sql" "-f $SCRIPTS/insert_heap.sql"
want mix && compare mix off "-f $SCRIPTS/point_wc.sql@9 -f $SCRIPTS/insert_wc.sql@1" \
    "-f $SCRIPTS/point_heap.sql@9 -f $SCRIPTS/insert_heap.sql@1"

# direct_reads LABEL: the backends' direct reads so far, and how many went to the node instead
direct_reads() {
    echo "    direct reads $1: $(psql_q -c "SELECT format('%s direct, %s to the node (partition in a memtable), %s to the node (other)', reads, resident, other) FROM widecol.direct_read_stats()")"
}
direct_reads "after the mix"

if want p99; then
step "point-read p99, idle and during a concurrent COPY (4 clients), widecol then heap"
CSV=$DIR/copy.csv
psql_q -c "COPY (SELECT p, c, md5(c::text) FROM generate_series(1, 2000) p, generate_series(1, 100) c) TO STDOUT (FORMAT csv)" >"$CSV"
# p99_run LOGPREFIX TABLE -> p99 latency in us of a 4-client point-read run
p99_run() {
    rm -f "$1".*
    as_pg "$PGBENCH" -n -M prepared -c 4 -j 4 -T "$DURATION" -l --log-prefix="$1" \
        -f "$SCRIPTS/point_$2.sql" "$CONNINFO" >/dev/null 2>&1 || die "pgbench p99 run"
    cat "$1".* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; print v[i] }'
}
# p99_pair TABLE -> "idle_p99 copy_p99 copies": the idle run, then the same
# while another session COPYs 200,000 rows into copy_TABLE in a loop (the
# heap's copy table is emptied before each COPY: its primary key refuses
# the same rows twice; widecol's COPY overwrites them)
p99_pair() {
    local t=$1 idle during copier copies=$DIR/copies_$1
    idle=$(p99_run "$DIR/latency_idle_$t" "$t")
    rm -f "$copies"
    ( end=$((SECONDS + DURATION + 2))
      while [ $SECONDS -lt $end ]; do
          if [ "$t" = heap ]; then psql_q -c "TRUNCATE copy_heap"; fi
          psql_q -c "COPY copy_$t FROM STDIN (FORMAT csv)" <"$CSV" >/dev/null
          echo copy >>"$copies"
      done ) &
    copier=$!
    sleep 1
    during=$(p99_run "$DIR/latency_copy_$t" "$t")
    wait "$copier" || die "COPY into copy_$t failed"
    echo "$idle $during $(wc -l <"$copies")"
}
# REPEAT pairs of each table in turn; the medians of the idle and COPY p99s
WI= WC= HI= HC=
for ((i = 0; i < REPEAT; i++)); do
    read -r WC_IDLE WC_COPY WC_COPIES <<<"$(p99_pair wc)"
    read -r HEAP_IDLE HEAP_COPY HEAP_COPIES <<<"$(p99_pair heap)"
    echo "    widecol: p99 $WC_IDLE us idle, $WC_COPY us during $WC_COPIES COPY runs of 200,000 rows"
    echo "    heap:    p99 $HEAP_IDLE us idle, $HEAP_COPY us during $HEAP_COPIES COPY runs of 200,000 rows"
    WI+="$WC_IDLE " WC+="$WC_COPY " HI+="$HEAP_IDLE " HC+="$HEAP_COPY "
done
# shellcheck disable=SC2086
WC_IDLE=$(median $WI) WC_COPY=$(median $WC) HEAP_IDLE=$(median $HI) HEAP_COPY=$(median $HC)
[ "$REPEAT" -gt 1 ] && echo "    medians: widecol $WC_IDLE us idle, $WC_COPY us during COPY; heap $HEAP_IDLE us idle, $HEAP_COPY us during COPY"
ratio=$(awk -v a="$WC_COPY" -v b="$HEAP_COPY" 'BEGIN { printf "%.3f", (a > 0) ? b / a : 0 }')
direct_reads "after the p99 step"
line="RESULT copy_p99 widecol=$WC_COPY baseline=$HEAP_COPY ratio=$ratio unit=us errors=0"
echo "    $line (p99 during a COPY; ratio = heap / widecol)"
RESULTS+="$line"$'\n'
WC_SLOW=$(awk -v a="$WC_COPY" -v b="$WC_IDLE" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
HEAP_SLOW=$(awk -v a="$HEAP_COPY" -v b="$HEAP_IDLE" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
ratio=$(awk -v a="$WC_SLOW" -v b="$HEAP_SLOW" 'BEGIN { printf "%.3f", (a > 0) ? b / a : 0 }')
line="RESULT copy_p99_slowdown widecol=$WC_SLOW baseline=$HEAP_SLOW ratio=$ratio unit=x errors=0"
echo "    $line (p99 during the COPY / idle p99; target: widecol <= 5)"
RESULTS+="$line"$'\n'
fi

if want batch; then
step "inserts, widecol.commitlog_sync = batch vs heap synchronous_commit = on"
stop_pg
printf 'widecol.commitlog_sync = batch\n' >>"$PGDATA/postgresql.conf"
start_pg
wait_node
settle
compare insert_batch on "-f $SCRIPTS/insert_wc.sql" "-f $SCRIPTS/insert_heap.sql"
fi
stop_pg
ERRS=$(server_log_errors)
[ -z "$ERRS" ] || { echo "server log:"; echo "$ERRS"; }
[ -z "$LIB_WARN" ] || echo "$LIB_WARN"

step "results (ratio = widecol / heap; copy_p99 and copy_p99_slowdown: heap / widecol)"
printf '%s' "$RESULTS"
printf '%s' "$CPULINES"
echo "done in $(( $(date +%s) - T_START )) s"
