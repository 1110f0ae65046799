# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are used by the scripts that source it
# regress/bench/lib.sh - what the SQL benchmarks (sql_bench.sh,
# compaction_bench.sh) share: build and install widecol, a throwaway
# PostgreSQL 15 instance owned by the postgres user when run as root, and the
# helpers to talk to it.  Sourced from the repository root after
# 'set -euo pipefail'; nothing here runs on its own.
#
# Copyright (c) 2026, widecol developers

MAKE=${MAKE:-make}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BINDIR/pg_config
T_START=$(date +%s)
LIB_WARN=

step() { printf '\n==> %s\n' "$*"; }
die() { echo "FAILED: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    OS_USER=postgres
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    OS_USER=$(id -un)
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi

# bench_deps PACKAGE: the build dependencies of make test, plus PACKAGE.
bench_deps() {
    regress/install-deps.sh build
    if ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; then
        [ "$(id -u)" -eq 0 ] || die "$1 is missing (apt-get install $1)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1"
    fi
}

# bench_build: build and install widecol; print what is measured, and where.
# The build of this checkout replaces whatever the server at PG_BINDIR had:
# SKIP_BUILD=1 measures the widecol.so installed there instead (built from
# another checkout, say), and says so.
bench_build() {
    local src so
    mkdir -p build/bench
    if [ "${SKIP_BUILD:-0}" = 1 ]; then
        so="$($PG_CONFIG --pkglibdir)/widecol.so"
        [ -f "$so" ] || die "SKIP_BUILD=1, but no widecol.so is installed in $($PG_CONFIG --pkglibdir)"
        BENCH_SO=build/bench/widecol-installed.so
        cp "$so" "$BENCH_SO"
        src="the widecol.so installed in $($PG_CONFIG --pkglibdir) (SKIP_BUILD=1: not built from this checkout; installed $(date -r "$so" '+%F %T'))"
    else
        $MAKE -s PG_CONFIG="$PG_CONFIG" all >/dev/null
        $MAKE -s PG_CONFIG="$PG_CONFIG" install >/dev/null
        BENCH_SO=widecol.so
        if git rev-parse --git-dir >/dev/null 2>&1; then
            src="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- extension engine cluster sql || echo ' + uncommitted changes')"
        else
            src="$(pwd) (not a git checkout)"
        fi
    fi
    echo "widecol: $src; $($PG_BINDIR/postgres --version); $(nproc) CPUs, $(free -g | awk '/^Mem/ { print $2 }') GiB RAM"
}

# bench_tmpdir NAME: DIR (under BENCH_DIR, default /tmp), PGDATA and LOG in
# it; the instance is stopped and DIR removed on exit (KEEP_TMP=1 keeps it).
bench_tmpdir() {
    DIR=$(mktemp -d "${BENCH_DIR:-/tmp}/widecol-$1.XXXXXX")
    chown "$OS_USER" "$DIR"
    chmod 755 "$DIR"
    PGDATA=$DIR/data
    LOG=$DIR/server.log
    trap bench_cleanup EXIT
}
bench_cleanup() {
    if [ -f "$PGDATA/postmaster.pid" ]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}

psql_q() { "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }
psql_e() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }

# bench_initdb NAME: a free port (PORT, CONNINFO) and a cluster in PGDATA
# that preloads widecol and syncs like a production server: fsync and
# synchronous_commit on, no autovacuum; EXTRA_CONF lines are appended.
bench_initdb() {
    port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    PORT=$((20000 + RANDOM % 20000))
    while ! port_free "$PORT" || [ -e "$DIR/.s.PGSQL.$PORT" ]; do PORT=$((PORT + 1)); done
    CONNINFO="host=$DIR port=$PORT user=postgres dbname=postgres"
    as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<CONF

# widecol $1
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'widecol'
timezone = 'UTC'
shared_buffers = 1GB
fsync = on
synchronous_commit = on
full_page_writes = on
wal_level = replica
max_wal_size = 4GB
checkpoint_timeout = 30min
autovacuum = off
jit = off
CONF
    if [ -n "${EXTRA_CONF:-}" ]; then
        printf '# EXTRA_CONF\n%s\n' "$EXTRA_CONF" >>"$PGDATA/postgresql.conf"
    fi
}

# Other people may 'make install' on this machine while we run: check that
# the server loaded the widecol.so this run built, or with SKIP_BUILD=1 the
# one installed when it began (compared after the start, so a replacement
# between load and check is reported too, conservatively).
start_pg() {
    as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$LOG" -w start >/dev/null
    if ! cmp -s "${BENCH_SO:-widecol.so}" "$($PG_CONFIG --pkglibdir)/widecol.so"; then
        LIB_WARN="WARNING: the installed widecol.so differs from the one this run measures (another 'make install' during the run?): results may not be of this tree"
        echo "$LIB_WARN"
    fi
}
stop_pg() { as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; }

# wait_node: up to 10 s for the widecol node to report running.
wait_node() {
    psql_q -c "DO \$\$ BEGIN FOR i IN 1 .. 200 LOOP
                 EXIT WHEN (SELECT running FROM widecol.node_status());
                 PERFORM pg_sleep(0.05); END LOOP; END \$\$;"
    [ "$(psql_q -c 'SELECT running FROM widecol.node_status()')" = t ] || die "the widecol node is not running (see $LOG)"
}

# server_log_errors: the server log's errors, after the instance stopped.
server_log_errors() {
    grep -E 'ERROR|FATAL|PANIC|TRAP|terminated by signal' "$LOG" | grep -v 'the database system is' | head -20 | sed 's/^/    server log: /' || true
}

# bench_cluster_nodes NAME...: for instances $DIR/n<NAME> of one cluster
# benchmark: NODES, free ports SQLPORT[NAME] and NODEPORT[NAME] (internode),
# a shared cluster secret in $DIR/secret, every instance stopped on exit
# (after bench_tmpdir); psql_n NAME ARGS... runs psql on one of them.
bench_cluster_nodes() {
    local p i
    port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    next_port() {
        local q=$1
        while ! port_free "$q" || [ -e "$DIR/.s.PGSQL.$q" ]; do q=$((q + 1)); done
        echo "$q"
    }
    NODES="$*"
    declare -gA SQLPORT NODEPORT
    p=$((20000 + RANDOM % 20000))
    for i in $NODES; do
        SQLPORT[$i]=$(next_port "$p"); p=$((SQLPORT[$i] + 1))
        NODEPORT[$i]=$(next_port "$p"); p=$((NODEPORT[$i] + 1))
    done
    as_pg sh -c "umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > '$DIR/secret'"
    trap bench_cleanup_nodes EXIT
}
bench_cleanup_nodes() {
    local i
    for i in $NODES; do
        if [ -f "$DIR/n$i/postmaster.pid" ]; then
            as_pg "$PG_BINDIR/pg_ctl" -D "$DIR/n$i" -m immediate stop >/dev/null 2>&1 || true
        fi
    done
    bench_cleanup
}
psql_n() {
    local i=$1
    shift
    as_pg "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 \
        "host=$DIR port=${SQLPORT[$i]} user=postgres dbname=postgres" "$@"
}

# bench_wait_nodes NODE COUNT: NODE sees COUNT nodes up and normal (at most 60 s).
bench_wait_nodes() {
    local n
    for _ in $(seq 1 120); do
        n=$(psql_n "$1" -c "SELECT count(*) FROM widecol.nodes WHERE status = 'up' AND state = 'normal'" 2>/dev/null || echo 0)
        [ "$n" = "$2" ] && return 0
        sleep 0.5
    done
    die "node $1 does not see $2 nodes up"
}

# bench_start_node NAME SEED_NAME MAX_CONNECTIONS: instance $DIR/n<NAME> of
# the cluster 'bench-<SEED_NAME>' (after bench_cluster_nodes), started, with
# the extension created.
bench_start_node() {
    local i=$1 seed=$2
    as_pg "$PG_BINDIR/initdb" -D "$DIR/n$i" -A trust -U postgres --no-sync >/dev/null
    cat >>"$DIR/n$i/postgresql.conf" <<CONF

# widecol cluster benchmark, node $i
port = ${SQLPORT[$i]}
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'widecol'
max_connections = $3
shared_buffers = 256MB
autovacuum = off
jit = off
widecol.cluster_name = 'bench-$seed'
widecol.listen_address = '127.0.0.1'
widecol.port = ${NODEPORT[$i]}
widecol.seeds = '127.0.0.1:${NODEPORT[$seed]}'
widecol.cluster_secret_file = '$DIR/secret'
CONF
    as_pg "$PG_BINDIR/pg_ctl" -D "$DIR/n$i" -l "$DIR/n$i.log" -w start >/dev/null
    psql_n "$i" -c 'CREATE EXTENSION widecol'
}
