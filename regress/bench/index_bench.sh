#!/usr/bin/env bash
# regress/bench/index_bench.sh - what 'make bench-index' runs: the latency of
# a query by a secondary index against the same query as a filtered scan of
# the whole table (widecol.allow_filtering), same data, same instance, same
# run.
#
# One throwaway PostgreSQL 15 instance.  Table items (id int, state text,
# payload text), partition key id, ROWS rows whose state takes CARD values
# (ROWS / CARD rows per value), flushed to SSTables, with an index on state.
# widecol: SELECT count(*) ... WHERE state = '<random value>' (the index),
# ITER times; baseline: WHERE state || '' = '<random value>' with
# widecol.allow_filtering on (the index cannot serve the expression: every
# row is read and filtered), BASE_ITER times.  Each query is timed inside the
# server (clock_timestamp around EXECUTE, planning included), and both
# answers are checked to be equal for one value.
#
# Ends with one line:
#   RESULT index_query_p50 widecol=<us> baseline=<us> ratio=<baseline/widecol> unit=us
# (ratio above 1: the index is faster).
#
# Environment: ROWS (100000), CARD (1000), ITER (300), BASE_ITER (15),
# PG_ROOT (a private copy of the PostgreSQL installation, as make test
# takes it), BENCH_DIR, KEEP_TMP.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
if [ -n "${PG_ROOT:-}" ]; then
    PG_BINDIR=$PG_ROOT/usr/lib/postgresql/15/bin
fi
. regress/bench/lib.sh
ROWS=${ROWS:-100000}
CARD=${CARD:-1000}
ITER=${ITER:-300}
BASE_ITER=${BASE_ITER:-15}

step "dependencies"
bench_deps postgresql-15

step "build and install widecol"
bench_build

bench_tmpdir bench-index
bench_initdb bench-index
start_pg
psql_q -c "CREATE EXTENSION widecol"
wait_node

step "load $ROWS rows, $CARD states"
psql_q <<SQL
CREATE SERVER bench FOREIGN DATA WRAPPER widecol
    OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 1}\$\$);
CREATE FOREIGN TABLE items (id int, state text, payload text)
    SERVER bench OPTIONS (primary_key '((id))');
INSERT INTO items SELECT i, 's' || (i % $CARD), repeat('x', 80) FROM generate_series(1, $ROWS) i;
SELECT widecol.flush('items');
SQL
t0=$(date +%s.%N)
psql_q -c "SELECT widecol.create_index('items', 'state')" >/dev/null
t1=$(date +%s.%N)
echo "index built (backfill of $ROWS rows) in $(echo "$t1 - $t0" | bc) s"
psql_q -c "SELECT widecol.flush('items')"

# p50 in microseconds of n runs of the query q (%L: a random state value)
p50() {
    psql_q <<SQL
SET widecol.allow_filtering = on;
CREATE TEMP TABLE t (us float8);
DO \$\$
DECLARE
    t0 timestamptz;
    n bigint;
BEGIN
    FOR i IN 1 .. $2 LOOP
        t0 := clock_timestamp();
        EXECUTE format($1, 's' || floor(random() * $CARD)::int) INTO n;
        INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1e6);
    END LOOP;
END \$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)) FROM t;
SQL
}

step "check: both answer the same"
a=$(psql_q -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM items WHERE state = 's7'")
b=$(psql_q -c "SET widecol.allow_filtering = on" -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM items WHERE state || '' = 's7'")
[ "$a" = "$b" ] && [ -n "$a" ] || die "the index and the filtered scan disagree for state s7"
psql_q -c "EXPLAIN (COSTS OFF) SELECT count(*) FROM items WHERE state = 's7'"

step "queries: $ITER by the index, $BASE_ITER by a filtered scan"
idx=$(p50 "'SELECT count(*) FROM items WHERE state = %L'" "$ITER")
base=$(p50 "'SELECT count(*) FROM items WHERE state || '''' = %L'" "$BASE_ITER")
stop_pg
errors=$(server_log_errors)
[ -z "$errors" ] || echo "$errors"
[ -z "$LIB_WARN" ] || echo "$LIB_WARN"
echo "rows per value: $((ROWS / CARD)); total $(($(date +%s) - T_START)) s"
echo "RESULT index_query_p50 widecol=$idx baseline=$base ratio=$(echo "scale=2; $base / $idx" | bc) unit=us"
