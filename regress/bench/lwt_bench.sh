#!/usr/bin/env bash
# regress/bench/lwt_bench.sh - what 'make bench-lwt' runs: lightweight
# transactions against plain writes, in the same run, on a three-node
# cluster with replication factor 3 (three throwaway PostgreSQL 15
# instances on 127.0.0.1).
#
# ACCOUNTS rows (id, balance); CLIENTS pgbench clients spread over the three
# nodes, DURATION seconds each, on random ids (little contention), each
# statement in a PL/pgSQL function (the lightweight transaction's counts
# a WC003 timeout, whose outcome may be unknown, and lets a WC010, given up
# under contention without applying, pass as not applied, instead of
# failing):
#   baseline  UPDATE acct SET balance = balance - 1 WHERE id = :id
#             (a read at QUORUM, then a write at QUORUM)
#   lwt       UPDATE acct SET balance = balance - 1 WHERE id = :id AND balance > 0
#             (a conditional UPDATE: a read at SERIAL, then a Paxos round)
# Ends with
#   RESULT lwt_update widecol=<lwt tps> baseline=<plain tps> ratio=... unit=tps
# (ratio = lwt / plain; below 1 is expected: a Paxos round takes four round
# trips to the replicas and the read before it a Paxos prepare of its own).
#
# Environment: ACCOUNTS (10000), CLIENTS (6), DURATION (10), BENCH_DIR,
# KEEP_TMP, PG_BINDIR (a private copy of PostgreSQL: its bin directory).
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/../.."
. regress/bench/lib.sh
ACCOUNTS=${ACCOUNTS:-10000}
CLIENTS=${CLIENTS:-6}
DURATION=${DURATION:-10}
PGBENCH=$PG_BINDIR/pgbench

step "dependencies"
bench_deps postgresql-15
[ -x "$PGBENCH" ] || die "$PGBENCH is missing"

step "build and install widecol"
bench_build

bench_tmpdir bench-lwt
SCRIPTS=$DIR/scripts
mkdir -p "$SCRIPTS"
chown "$OS_USER" "$SCRIPTS"
bench_cluster_nodes 1 2 3

step "three instances in $DIR, one cluster"
for i in 1 2 3; do
    bench_start_node "$i" 1 $((CLIENTS + 20))
    for j in $(seq 1 "$i"); do bench_wait_nodes "$j" "$i"; done
done
psql_n 1 <<SQL
CREATE SERVER ks FOREIGN DATA WRAPPER widecol
  OPTIONS (replication \$\${'class': 'SimpleStrategy', 'replication_factor': 3}\$\$);
CREATE FOREIGN TABLE acct (id int, balance int) SERVER ks OPTIONS (primary_key 'id');
SET widecol.consistency = quorum;
INSERT INTO acct SELECT i, 1000000 FROM generate_series(1, $ACCOUNTS) i;
SQL
# Both run in a PL/pgSQL function (the same overhead); a lightweight
# transaction that times out (WC003: its outcome may be unknown) is
# counted, one that gave up under contention (WC010: two clients on one
# id until the timeout; it did not apply) passes as not applied.
for i in 1 2 3; do
    psql_n "$i" <<'SQL'
CREATE TABLE lwt_unknown (n int);
CREATE FUNCTION plain_dec(k int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE acct SET balance = balance - 1 WHERE id = k;
END $$;
CREATE FUNCTION lwt_dec(k int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE acct SET balance = balance - 1 WHERE id = k AND balance > 0;
EXCEPTION WHEN SQLSTATE 'WC003' THEN
    INSERT INTO lwt_unknown VALUES (1);
WHEN SQLSTATE 'WC010' THEN
    NULL;
END $$;
SQL
done
for i in 2 3; do
    for _ in $(seq 1 60); do
        [ "$(psql_n "$i" -c "SELECT count(*) FROM pg_class WHERE relname = 'acct'")" = 1 ] && break
        sleep 0.5
    done
    [ "$(psql_n "$i" -c "SELECT count(*) FROM pg_class WHERE relname = 'acct'")" = 1 ] ||
        die "the table did not reach node $i"
done

cat >"$SCRIPTS/plain.sql" <<SQL
\set id random(1, $ACCOUNTS)
SELECT plain_dec(:id);
SQL
cat >"$SCRIPTS/lwt.sql" <<SQL
\set id random(1, $ACCOUNTS)
SELECT lwt_dec(:id);
SQL
chmod 644 "$SCRIPTS"/*.sql

# tps_of SCRIPT -> tps summed over the three nodes, CLIENTS spread evenly
tps_of() {
    local per=$(( (CLIENTS + 2) / 3 )) total=0 out i pids=()
    for i in 1 2 3; do
        PGOPTIONS="-c widecol.consistency=quorum" as_pg "$PGBENCH" -n -M prepared -c "$per" \
            -j "$per" -T "$DURATION" -f "$SCRIPTS/$1.sql" \
            "host=$DIR port=${SQLPORT[$i]} user=postgres dbname=postgres" >"$DIR/pgbench.$1.$i" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    for i in 1 2 3; do
        out=$DIR/pgbench.$1.$i
        if grep -q 'failed transactions: [1-9]\|aborted' "$out"; then
            grep -Ei 'error|abort' "$out" | head -3 | sed 's/^/    pgbench: /' >&2
            die "pgbench ($1) had failures"
        fi
        total=$(awk -v t="$total" '/^tps = .*without initial/ { t += $3 } END { printf "%.0f", t }' "$out")
    done
    echo "$total"
}

step "$CLIENTS clients, ${DURATION}s each: plain UPDATE, then conditional UPDATE"
plain=$(tps_of plain)
lwt=$(tps_of lwt)
ratio=$(awk -v a="$lwt" -v b="$plain" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
unknown=0
for i in 1 2 3; do unknown=$((unknown + $(psql_n "$i" -c 'SELECT count(*) FROM lwt_unknown'))); done
echo "    plain UPDATE $plain tps, conditional UPDATE $lwt tps ($unknown of unknown outcome)"

echo
echo "RESULT lwt_update widecol=$lwt baseline=$plain ratio=$ratio unit=tps"
