# shellcheck shell=bash
# regress/bench/callgrind_instance.sh - what the callgrind benchmarks
# (copy_callgrind.sh, point_read_callgrind.sh) share: a scratch directory,
# and a throwaway instance of a TREE (a copy of the PostgreSQL 15
# installation with its own widecol installed) running whole under
# valgrind's callgrind, one output file per process.  Sourced after
# 'set -euo pipefail'; nothing here runs on its own.
#
# Copyright (c) 2026, widecol developers

command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
    { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }

# cg_init NAME PORT: DIR (a scratch directory, removed on exit unless KEEP=1),
# as_pg, CG_PORT and CONNINFO; an instance still running on exit is stopped.
cg_init() {
    DIR=$(mktemp -d "/tmp/widecol-$1.XXXXXX")
    chmod 755 "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$DIR"
        as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
    else
        as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
    fi
    CG_PORT=$2
    CONNINFO="host=$DIR port=$CG_PORT user=postgres dbname=postgres"
    PGPID=
    trap cg_cleanup EXIT
}
cg_cleanup() {
    [ -z "$PGPID" ] || kill -QUIT "$PGPID" 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"
}

psql_q() { as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }

# inclusive instructions of function $2 in callgrind file $1
incl() { callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
             awk -v f=":$2 " '!n && index($0, f) { gsub(",", "", $1); print $1; n = 1 }'; }

# cg_start TREE D [CONF]: an instance of TREE in D/data (BIN: its binaries),
# started under callgrind (files D/cg/cg.<pid>, CG), with CONF appended to its
# settings, the extension created and the node running.
cg_start() {
    BIN=$1/usr/lib/postgresql/15/bin
    [ -x "$BIN/postgres" ] || { echo "no PostgreSQL under $1" >&2; exit 2; }
    CG=$2/cg
    as_pg mkdir -p "$CG"
    as_pg "$BIN/initdb" -D "$2/data" -A trust -U postgres --no-sync >/dev/null
    cat >>"$2/data/postgresql.conf" <<CONF
port = $CG_PORT
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'widecol'
shared_buffers = 128MB
autovacuum = off
jit = off
${3:-}
CONF
    as_pg valgrind --tool=callgrind --callgrind-out-file="$CG/cg.%p" -q \
        "$BIN/postgres" -D "$2/data" >"$2/log" 2>&1 &
    PGPID=$!
    for _ in $(seq 1 300); do psql_q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
    psql_q -c "CREATE EXTENSION widecol"
    psql_q -c "DO \$\$ BEGIN FOR i IN 1 .. 600 LOOP
                 EXIT WHEN (SELECT running FROM widecol.node_status());
                 PERFORM pg_sleep(0.1); END LOOP; END \$\$"
}

# cg_stop D: stop the instance of cg_start (every process writes its file).
cg_stop() {
    as_pg "$BIN/pg_ctl" -D "$1/data" -m fast -w -t 600 stop >/dev/null
    wait "$PGPID" || true
    PGPID=
}
