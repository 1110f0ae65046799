#!/bin/bash
#
# regress/demo.sh - what 'make demo' runs: build, install, start a throwaway
# PostgreSQL 15 instance with widecol preloaded, show what works, and remove
# the instance again.
#
# The instance runs as the postgres user (as the calling user when not
# root) in a temporary directory, listens only on a Unix socket in that
# directory, on a port no one else uses.  Nothing outside the temporary
# directory is touched except the extension's installation.
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

# PostgreSQL refuses root: run it as postgres then.  A C.UTF-8 locale keeps
# initdb independent of the caller's (possibly ungenerated) locale.
if [ "$(id -u)" -eq 0 ]; then
    OS_USER=postgres
    as_pg() { runuser -u postgres -- env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
else
    OS_USER=$(id -un)
    as_pg() { env LANG=C.UTF-8 LC_ALL=C.UTF-8 "$@"; }
fi

DEMO=$(mktemp -d /tmp/widecol-demo.XXXXXX)
chown "$OS_USER" "$DEMO"
PGDATA=$DEMO/data
LOG=$DEMO/server.log

cleanup() {
    if [ -f "$PGDATA/postmaster.pid" ]; then
        as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DEMO"
}
trap cleanup EXIT

# A port with nothing listening on it over TCP or in the socket directory.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
PORT=$((20000 + RANDOM % 20000))
while ! port_free "$PORT"; do
    PORT=$((PORT + 1))
done

step "initdb in $PGDATA"
as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
cat >>"$PGDATA/postgresql.conf" <<CONF

# widecol demo
port = $PORT
listen_addresses = ''
unix_socket_directories = '$DEMO'
shared_preload_libraries = 'widecol'
widecol.num_tokens = 16
CONF
grep -A6 '^# widecol demo' "$PGDATA/postgresql.conf"

step "start PostgreSQL (port $PORT, socket in $DEMO)"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$LOG" -w start >/dev/null

psql_demo() {
    as_pg PGHOST="$DEMO" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres \
        "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 --echo-queries "$@"
}

step "the extension, its functions and GUCs"
psql_demo <<'SQL'
CREATE EXTENSION widecol;
\dx widecol
\df widecol.*
SELECT widecol.version();
SELECT name, setting, unit, context, short_desc
  FROM pg_settings WHERE name LIKE 'widecol.%' ORDER BY name;
SQL

step "the node background worker"
psql_demo <<'SQL'
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN (SELECT running FROM widecol.node_status());
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT * FROM widecol.node_status();
SELECT pid, backend_type, wait_event_type, wait_event, backend_start
  FROM pg_stat_activity WHERE backend_type = 'widecol node';
SQL

step "the engine directory \$PGDATA/widecol"
ls -la "$PGDATA/widecol"

step "stop PostgreSQL (fast): the node closes its engine"
as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
grep -E 'widecol' "$LOG" || true

step "remove the instance"
cleanup
trap - EXIT
echo "done: the throwaway instance is gone."
echo "SQL tables (foreign data wrapper, table access method) come with a later"
echo "release; see README.md for what works so far."
