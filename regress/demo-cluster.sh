#!/bin/bash
#
# regress/demo-cluster.sh - what 'make demo-cluster' runs: build, install,
# start three throwaway PostgreSQL 15 instances with widecol preloaded that
# form a cluster on 127.0.0.1, show widecol.nodes and widecol.ring, stop one
# node, show it down, start it again, and remove the instances.
#
# The instances run as the postgres user (as the calling user when not
# root) in one temporary directory, listen for SQL only on Unix sockets in
# it and for each other on 127.0.0.1, on ports no one else uses.  Data
# (the coordinator) comes later; this shows the membership.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BINDIR/pg_config

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }

step "dependencies"
regress/install-deps.sh demo

step "build and install"
$MAKE PG_CONFIG="$PG_CONFIG" all
$MAKE PG_CONFIG="$PG_CONFIG" install

if [ "$(id -u)" -eq 0 ]; then
    OS_USER=postgres
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    OS_USER=$(id -un)
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi

DEMO=$(mktemp -d /tmp/widecol-demo-cluster.XXXXXX)
chown "$OS_USER" "$DEMO"

cleanup() {
    for i in 1 2 3; do
        if [ -f "$DEMO/n$i/postmaster.pid" ]; then
            as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n$i" -m immediate stop >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$DEMO"
}
trap cleanup EXIT

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
next_port() {
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}

# SQL ports and internode ports, all distinct and free
BASE=$((20000 + RANDOM % 20000))
declare -a SQLPORT NODEPORT
p=$BASE
for i in 1 2 3; do
    SQLPORT[$i]=$(next_port "$p"); p=$((SQLPORT[$i] + 1))
    NODEPORT[$i]=$(next_port "$p"); p=$((NODEPORT[$i] + 1))
done

step "the cluster secret (mode 0600)"
as_pg sh -c "umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > '$DEMO/secret'"
ls -l "$DEMO/secret"

psql_n() {
    local i=$1; shift
    as_pg PGHOST="$DEMO" PGPORT="${SQLPORT[$i]}" PGUSER=postgres PGDATABASE=postgres \
        "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 "$@"
}

# Wait until node $1 sees $2 nodes up and normal (at most 60 s).
wait_nodes() {
    for _ in $(seq 1 120); do
        n=$(psql_n "$1" -Atc "SELECT count(*) FROM widecol.nodes WHERE status = 'up' AND state = 'normal'" 2>/dev/null || echo 0)
        [ "$n" = "$2" ] && return 0
        sleep 0.5
    done
    echo "node $1 does not see $2 nodes up" >&2
    return 1
}

for i in 1 2 3; do
    step "node $i: initdb, internode port ${NODEPORT[$i]}, seed 127.0.0.1:${NODEPORT[1]}"
    as_pg "$PG_BINDIR/initdb" -D "$DEMO/n$i" -A trust -U postgres --no-sync >/dev/null
    cat >>"$DEMO/n$i/postgresql.conf" <<CONF

# widecol cluster demo
port = ${SQLPORT[$i]}
listen_addresses = ''
unix_socket_directories = '$DEMO'
shared_preload_libraries = 'widecol'
widecol.cluster_name = 'demo'
widecol.listen_address = '127.0.0.1'
widecol.port = ${NODEPORT[$i]}
widecol.seeds = '127.0.0.1:${NODEPORT[1]}'
widecol.cluster_secret_file = '$DEMO/secret'
widecol.phi_convict_threshold = 5
CONF
    as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n$i" -l "$DEMO/n$i.log" -w start >/dev/null
    psql_n "$i" -qc 'CREATE EXTENSION widecol'
    # nodes join one at a time: wait until every started node sees it normal
    for j in $(seq 1 "$i"); do wait_nodes "$j" "$i"; done
done

step "widecol.nodes on node 1"
psql_n 1 --echo-queries -c 'SELECT * FROM widecol.nodes'
step "the same cluster seen from node 3, and the ring"
psql_n 3 --echo-queries -c 'SELECT address, status, state, owns, host_id, tokens FROM widecol.nodes' \
    -c 'SELECT address, count(*) AS tokens, min(token), max(token) FROM widecol.ring GROUP BY address ORDER BY address'

step "stop node 3 (it tells the others)"
as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n3" -m fast -w stop >/dev/null
sleep 1
psql_n 1 --echo-queries -c 'SELECT address, status, state, host_id FROM widecol.nodes'

step "start node 3 again: same host id and tokens"
as_pg "$PG_BINDIR/pg_ctl" -D "$DEMO/n3" -l "$DEMO/n3.log" -w start >/dev/null
for j in 1 2 3; do wait_nodes "$j" 3; done
psql_n 1 --echo-queries -c 'SELECT address, status, state, host_id, tokens FROM widecol.nodes'

step "what the server log of node 1 says about the cluster"
grep -E 'cluster|node 127' "$DEMO/n1.log" | sed 's/^/    /' | tail -n 12

step "done; the instances are removed"
