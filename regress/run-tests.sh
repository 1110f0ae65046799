#!/bin/bash
#
# regress/run-tests.sh - what 'make test' runs, from a fresh Debian 12 machine.
#
# Stages, in order (a failing stage is counted and the next one still runs,
# except when the build itself fails):
#
#   deps     regress/install-deps.sh test: apt-get only what is missing
#   build    make && make install (PostgreSQL 15 from /usr/lib/postgresql/15)
#   layers   make check-layers: engine/ and cluster/ include no PostgreSQL
#            header and call no palloc/pfree/ereport/elog, engine/ includes
#            no cluster/ header; one test
#   unit     every engine/tests/*_test.c and cluster/tests/*_test.c program
#            (cmocka); each cmocka test counts, a crash counts as a failure
#   fuzz     every engine/fuzz/*_fuzz.c and cluster/fuzz/*_fuzz.c libFuzzer
#            target (built by 'make fuzz'), run for FUZZ_SECONDS (15)
#            seconds; seeds are taken from <dir>/corpus/<target>/ and a
#            dictionary from <dir>/<target>.dict when they exist
#   regress  pg_regress over regress/schedule (tests in regress/sql/, expected
#            output in regress/expected/) on a temporary instance started
#            with regress/regress.conf (shared_preload_libraries = 'widecol');
#            each test counts
#   tap      every regress/t/*.pl through prove with PostgreSQL::Test::Cluster;
#            each file counts
#
# PostgreSQL refuses to run as root, so pg_regress and prove run as the
# 'postgres' user in a scratch directory it owns; logs, diffs and fuzz
# artifacts are copied to build/test-results/ afterwards.  Run as an
# ordinary user, everything runs as that user (the packages must be there).
#
# The last line of output is exactly "N passed, N failed"; the exit status is
# non-zero when anything failed.
#
# Environment: FUZZ_SECONDS (15), KEEP_TMP=1 keeps the scratch directory,
# TAP_TESTS_ONLY="007_many_clients 020_privileges" runs only those TAP files.
# ONLY="layers unit fuzz regress tap" runs a subset of the test stages, SKIP_BUILD=1
# skips deps and build (tests what is already built and installed).
#
# Copyright (c) 2026, widecol developers

set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
MAKE=${MAKE:-make}
# PG_ROOT=/tmp/pg-me runs everything against a private copy of the installation
# (cp -a of /usr/lib/postgresql/15 and /usr/share/postgresql/15 under it, see
# README.md), so that no lock on the system installation is needed.
PG_ROOT=${PG_ROOT:-}
PG_BINDIR=$PG_ROOT/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BINDIR/pg_config
PGXS_DIR=$PG_ROOT/usr/lib/postgresql/15/lib/pgxs
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
JOBS=$(nproc 2>/dev/null || echo 2)   # parallel compiles of the unit and fuzz builds
ONLY=${ONLY:-layers unit fuzz regress tap}
RESULTS=$ROOT/build/test-results

passed=0
failed=0
failures=()
start_time=$SECONDS

pass() { passed=$((passed + ${2:-1})); }
fail() { failed=$((failed + ${2:-1})); failures+=("$1"); echo "FAILED: $1"; }
stage() { echo; echo "======== $* ($((SECONDS - start_time)) s)"; }
wanted() { [[ " $ONLY " == *" $1 "* ]]; }

finish() {
    echo
    echo "======== done in $((SECONDS - start_time)) s; results in $RESULTS"
    for f in "${failures[@]+"${failures[@]}"}"; do
        echo "  failed: $f"
    done
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

# Run a command as the postgres user when we are root (PostgreSQL refuses
# root), as ourselves otherwise; always in a clean environment (a C.UTF-8
# locale, no PG* variables of the caller) plus the NAME=value words given
# before the command.
if [ "$(id -u)" -eq 0 ]; then
    PGUSER_OS=postgres
    as_pg() { runuser -u postgres -- env -i PATH="$PG_BINDIR:$PATH" LANG=C.UTF-8 "$@"; }
else
    PGUSER_OS=$(id -un)
    as_pg() { env -i PATH="$PG_BINDIR:$PATH" LANG=C.UTF-8 "$@"; }
fi

# ---------------------------------------------------------------- deps, build
if [ -z "${SKIP_BUILD:-}" ]; then
    stage deps
    if ! regress/install-deps.sh test; then
        fail "deps: regress/install-deps.sh"
        finish
    fi

    stage build
    if ! { $MAKE PG_CONFIG="$PG_CONFIG" all && $MAKE PG_CONFIG="$PG_CONFIG" install; }; then
        fail "build: make && make install"
        finish
    fi
fi

WORK=$(mktemp -d /tmp/widecol-test.XXXXXX) || exit 1
cleanup() {
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "scratch directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

# ---------------------------------------------------------------- layers
if wanted layers; then
    stage layers
    mkdir -p "$RESULTS/layers"
    if $MAKE --no-print-directory PG_CONFIG="$PG_CONFIG" check-layers >"$RESULTS/layers/check-layers.log" 2>&1; then
        pass "check-layers"
        cat "$RESULTS/layers/check-layers.log"
    else
        fail "layers: make check-layers (engine/ or cluster/ breaks the layer rule)"
        cat "$RESULTS/layers/check-layers.log"
    fi
fi

# ---------------------------------------------------------------- unit
# Counts the cmocka tests of one program from its output; a program that
# fails without a cmocka failure line (crash, timeout) counts as one failure.
run_unit() {
    local src=$1 bin name log rc npass nfail
    name=${src%.c}
    bin=$ROOT/build/$name
    name=${name//\//_}
    log=$RESULTS/unit/$name.log
    if [ ! -x "$bin" ]; then
        fail "unit: $src did not build"
        return
    fi
    mkdir -p "$WORK/unit/$name"
    (cd "$ROOT/build" && WC_TEST_TMP=$WORK/unit/$name timeout 600 "$bin") >"$log" 2>&1
    rc=$?
    npass=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
    nfail=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s), .*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
    [ "$npass" -gt 0 ] && pass "$src" "$npass"
    if [ "$nfail" -gt 0 ]; then
        fail "unit: $src ($nfail cmocka tests)" "$nfail"
    elif [ "$rc" -ne 0 ]; then
        fail "unit: $src (exit status $rc)"
    fi
    if [ "$rc" -ne 0 ] || [ "$nfail" -gt 0 ]; then
        tail -n 40 "$log"
    fi
    echo "unit: $src: $npass passed, $nfail failed, exit status $rc"
}

if wanted unit; then
    stage unit
    mkdir -p "$RESULTS/unit"
    unit_srcs=$(ls engine/tests/*_test.c cluster/tests/*_test.c 2>/dev/null)
    if [ -z "$unit_srcs" ]; then
        echo "no unit tests yet"
    else
        $MAKE -j"$JOBS" -k unit-build || fail "unit: make unit-build"
        for src in $unit_srcs; do
            run_unit "$src"
        done
    fi
fi

# ---------------------------------------------------------------- fuzz
run_fuzz() {
    local src=$1 name bin log rc args dir
    name=$(basename "$src" .c)
    dir=$(dirname "$src")
    bin=$ROOT/build/fuzz/$name
    log=$RESULTS/fuzz/$name.log
    if [ ! -x "$bin" ]; then
        fail "fuzz: $name did not build"
        return
    fi
    mkdir -p "$WORK/fuzz/$name" "$RESULTS/fuzz/$name-artifacts"
    args=(-max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=30
          -artifact_prefix="$RESULTS/fuzz/$name-artifacts/" -print_final_stats=1)
    [ -f "$dir/$name.dict" ] && args+=(-dict="$dir/$name.dict")
    args+=("$WORK/fuzz/$name")
    [ -d "$dir/corpus/$name" ] && args+=("$dir/corpus/$name")
    timeout $((FUZZ_SECONDS + 300)) "$bin" "${args[@]}" >"$log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        pass "$name"
        echo "fuzz: $name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') runs)"
    else
        fail "fuzz: $name (exit status $rc, artifacts in $RESULTS/fuzz/$name-artifacts)"
        tail -n 60 "$log"
    fi
}

if wanted fuzz; then
    stage fuzz
    mkdir -p "$RESULTS/fuzz"
    fuzz_srcs=$(ls engine/fuzz/*_fuzz.c cluster/fuzz/*_fuzz.c 2>/dev/null)
    if [ -z "$fuzz_srcs" ]; then
        echo "no fuzz targets yet"
    else
        $MAKE -j"$JOBS" -k fuzz || fail "fuzz: make fuzz"
        for src in $fuzz_srcs; do
            run_fuzz "$src"
        done
    fi
fi

# Scratch copies of regress/ that the postgres user may write into.
mkdir -p "$WORK/pg"
cp -r regress/sql regress/expected regress/t regress/schedule regress/regress.conf "$WORK/pg/"
chown -R "$PGUSER_OS" "$WORK"

# ---------------------------------------------------------------- pg_regress
if wanted regress; then
    stage regress
    out=$WORK/pg/regress-out
    as_pg mkdir -p "$out"
    (cd "$WORK/pg" && as_pg HOME="$WORK/pg" timeout 900 \
        "$PG_REGRESS" \
            --bindir="$PG_BINDIR" \
            --inputdir="$WORK/pg" \
            --outputdir="$out" \
            --temp-instance="$out/tmp_check" \
            --temp-config="$WORK/pg/regress.conf" \
            --schedule="$WORK/pg/schedule" \
            --encoding=UTF8 --no-locale) 2>&1 | tee "$WORK/pg/regress.log"
    rc=${PIPESTATUS[0]}
    n_ok=$(grep -cE '^ *(test +)?[^ ]+ +\.\.\. ok' "$WORK/pg/regress.log")
    n_bad=$(grep -cE '^ *(test +)?[^ ]+ +\.\.\. (FAILED|failed)' "$WORK/pg/regress.log")
    pass regress "$n_ok"
    if [ "$n_bad" -gt 0 ]; then
        fail "regress: $(grep -E '\.\.\. (FAILED|failed)' "$WORK/pg/regress.log" |
                         awk '{print ($1 == "test") ? $2 : $1}' | tr '\n' ' ')" "$n_bad"
    elif [ "$rc" -ne 0 ]; then
        fail "regress: pg_regress exit status $rc"
    fi
    if [ -s "$out/regression.diffs" ]; then
        head -n 200 "$out/regression.diffs"
    fi
    mkdir -p "$RESULTS/regress"
    cp -r "$out/results" "$out/regression.diffs" "$out/regression.out" \
        "$out/log" "$RESULTS/regress/" 2>/dev/null
    cp -r "$out/tmp_check/log" "$RESULTS/regress/instance-log" 2>/dev/null
fi

# ---------------------------------------------------------------- TAP
if wanted tap; then
    stage tap
    for t in "$WORK"/pg/t/*.pl; do
        [ -e "$t" ] || { echo "no TAP tests yet"; break; }
        name=$(basename "$t" .pl)
        if [ -n "${TAP_TESTS_ONLY:-}" ] && [[ " $TAP_TESTS_ONLY " != *" $name "* ]]; then
            continue
        fi
        tdir=$WORK/pg/tap/$name
        as_pg mkdir -p "$tdir"
        (cd "$WORK/pg" && as_pg \
            HOME="$WORK/pg" \
            TMPDIR="$WORK/pg/tap" \
            PERL5LIB="$PGXS_DIR/src/test/perl${PERL5LIB:+:$PERL5LIB}" \
            PG_REGRESS="$PG_REGRESS" \
            TESTDIR="$tdir" \
            WIDECOL_SRC="$ROOT" \
            timeout 900 prove "t/$name.pl")
        rc=$?
        if [ "$rc" -eq 0 ]; then
            pass "$name"
        else
            fail "tap: t/$name.pl (exit status $rc, logs in $RESULTS/tap/$name)"
            tail -n 60 "$tdir/tmp_check/log/regress_log_$name" 2>/dev/null
            # what the servers said that was not a client statement: the
            # background workers' side of a failure
            for slog in "$tdir"/tmp_check/log/"${name}"_*.log; do
                [ -f "$slog" ] || continue
                echo "---- $(basename "$slog"), last lines other than statements:"
                grep -v -e ' LOG:  statement: ' -e '^\s' "$slog" | tail -n 25
            done
        fi
        mkdir -p "$RESULTS/tap/$name"
        cp -r "$tdir/tmp_check/log/." "$RESULTS/tap/$name/" 2>/dev/null
    done
fi

finish
