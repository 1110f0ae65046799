#!/bin/bash
#
# regress/bench/point_read_callgrind.sh - instructions per prepared point
# read in the backend, counted by valgrind's callgrind: a heap table with its
# primary key, a widecol foreign table answered by the row cache, the same
# table past the cache (widecol.row_cache = off), and a table USING widecol
# (cached), in one instance.  Instruction counts do not depend on what else
# runs on the machine, so two builds (commits) compare on a busy machine
# where timings cannot.
#
#   regress/bench/point_read_callgrind.sh TREE1 TREE2 ...
#   READS=2000 regress/bench/point_read_callgrind.sh /tmp/pg-old /tmp/pg-new
#
# A TREE is a copy of the PostgreSQL 15 installation with its own widecol
# installed (docs/benchmarks.md, "Where a point read's time goes", has the
# steps).  For each tree the whole instance runs under callgrind: 1,000 rows
# (100 partitions of 10), every row read once so the cache holds it, then
# for each table two pgbench sessions (-M prepared, one client, a fixed
# random seed) of WARM and WARM + READS point reads "SELECT v WHERE p = $1
# AND c = $2".  A session's backend writes its instruction count when it
# exits; the difference of the two sessions divided by READS is the cost of
# one read in the backend (statement protocol, planning, execution), free of
# the session's start and its first executions.  Reads past the cache also
# cost the node, which is not counted here.  Not run in CI; about two
# minutes per tree.
#
# Environment: READS (1000), WARM (50), KEEP=1 keeps the callgrind files
# (their directory is printed) for callgrind_annotate.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
READS=${READS:-1000}
WARM=${WARM:-50}
[ $# -ge 1 ] || { echo "usage: $0 TREE1 TREE2 ..." >&2; exit 2; }
. regress/bench/callgrind_instance.sh
cg_init point-cg 45391

# The instructions of the backend of the pgbench session just run: of the
# two sessions (PostgresMain) that pgbench opens (a first one only looks at
# the server), the larger, once both ended after the files listed in $1 (the
# server's binary has no symbols of static functions to tell them apart by).
session_ir() {
    local before=$1 f found
    for _ in $(seq 1 600); do
        found=
        for f in "$CG"/cg.*; do
            grep -qxF "$f" "$before" && continue
            # complete once the totals are written
            grep -q '^totals:' "$f" 2>/dev/null || continue
            grep -q 'PostgresMain' "$f" || continue
            found+="$(awk '/^totals:/ { print $2; exit }' "$f") "
        done
        if [ "$(wc -w <<<"$found")" -ge 2 ]; then
            tr ' ' '\n' <<<"$found" | sort -n | tail -1
            return 0
        fi
        sleep 0.1
    done
    echo "no callgrind file of the pgbench session appeared" >&2
    exit 1
}

# pgbench_ir SCRIPT N [PGOPTIONS]: instructions of the backend of one
# session of N transactions
pgbench_ir() {
    local before=$DIR/before.$RANDOM
    ls -1 "$CG"/cg.* >"$before" 2>/dev/null || true
    PGOPTIONS="${3:-}" as_pg "$BIN/pgbench" -n -M prepared -c 1 -t "$2" --random-seed=7 \
        -f "$1" "$CONNINFO" >/dev/null 2>&1
    session_ir "$before"
}

n=0
for tree in "$@"; do
    d=$DIR/t$n
    n=$((n + 1))
    cg_start "$tree" "$d" "widecol.row_cache_size_mb = 16"
    psql_q <<SQL
CREATE SERVER ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$);
CREATE FOREIGN TABLE kv_wc (p int, c int, v text) SERVER ks
  OPTIONS (primary_key '((p), c)', clustering_order 'c DESC', caching 'rows');
CREATE TABLE kv_tam (p int, c int, v text) USING widecol
  WITH (keyspace = 'ks', primary_key = '((p), c)', clustering_order = 'c DESC', caching = 'rows');
CREATE TABLE kv_heap (p int, c int, v text, PRIMARY KEY (p, c));
INSERT INTO kv_heap SELECT p, c, md5((p * 1000 + c)::text)
  FROM generate_series(1, 100) p, generate_series(1, 10) c;
INSERT INTO kv_wc SELECT * FROM kv_heap;
INSERT INTO kv_tam SELECT * FROM kv_heap;
VACUUM ANALYZE kv_heap;
DO \$\$
DECLARE r record; x text;
BEGIN
  FOR r IN SELECT p, c FROM kv_heap LOOP
    SELECT v INTO x FROM kv_wc WHERE p = r.p AND c = r.c;
    SELECT v INTO x FROM kv_tam WHERE p = r.p AND c = r.c;
  END LOOP;
END
\$\$;
SQL
    for t in heap wc tam; do
        as_pg tee "$d/point_$t.sql" >/dev/null <<SQL
\set p random(1, 100)
\set c random(1, 10)
SELECT v FROM kv_$t WHERE p = :p AND c = :c;
SQL
    done
    line="tree $tree: instructions per point read in the backend ($READS reads):"
    for k in heap wc_cached wc_uncached tam_cached; do
        case $k in
            heap) s=$d/point_heap.sql o= ;;
            wc_cached) s=$d/point_wc.sql o= ;;
            wc_uncached) s=$d/point_wc.sql o="-c widecol.row_cache=off" ;;
            tam_cached) s=$d/point_tam.sql o= ;;
        esac
        a=$(pgbench_ir "$s" "$WARM" "$o")
        b=$(pgbench_ir "$s" $((WARM + READS)) "$o")
        line+=" $k $(((b - a) / READS))"
    done
    echo "$line"
    echo "    $(psql_q -c "SELECT format('row cache: %s hits, %s misses', hits, misses) FROM widecol.row_cache_stats()")"
    cg_stop "$d"
done
[ "${KEEP:-0}" != 1 ] || echo "callgrind files: $DIR/t*/cg"
