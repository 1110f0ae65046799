#!/bin/bash
#
# regress/check-fsyncs.sh - does some test notice a missing fsync?
#
# For every fsync of a durable step in engine/ (a file sync or a directory
# sync: each line of engine/*.c that calls ->sync( or ->sync_dir(), except
# the POSIX implementations themselves), copy the tree, replace that one call
# with WC_OK, build the durability tests and run them.  A site is "caught"
# when at least one of them fails.  Prints one line per site and a summary;
# exits non-zero if any site is not caught.
#
# Not part of 'make test' (it rebuilds the engine once per site: about a
# minute each); run it with 'make check-fsyncs' after touching a durable step.
#
# Environment: FSYNC_TESTS (the test programs, default below), WC_PL_SEED
# (powerloss_test's seed, default 4242), KEEP_TMP=1 keeps the scratch copy.
#
# Copyright (c) 2026, widecol developers

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
MAKE=${MAKE:-make}
TESTS=${FSYNC_TESTS:-durability_test powerloss_test commitlog_test recovery_test}
export WC_PL_SEED=${WC_PL_SEED:-4242}

SCRATCH=$(mktemp -d /tmp/widecol-fsyncs.XXXXXX) || exit 1
cleanup() { [ -n "${KEEP_TMP:-}" ] && echo "kept $SCRATCH" || rm -rf "$SCRATCH"; }
trap cleanup EXIT

# every sync call site, as file:line
mapfile -t sites < <(grep -n -E -- '->sync(_dir)?\(' engine/*.c |
    grep -v -E 'posix|^engine/fs\.c:[0-9]+:static' | cut -d: -f1,2)
if [ "${#sites[@]}" -eq 0 ]; then
    echo "no fsync sites found in engine/*.c" >&2
    exit 1
fi

caught=0
missed=0
for site in "${sites[@]}"; do
    file=${site%%:*}
    line=${site##*:}
    copy=$SCRATCH/tree
    rm -rf "$copy"
    mkdir -p "$copy"
    cp -r Makefile engine cluster "$copy/"
    # the call expression (receiver, ->sync or ->sync_dir, flat argument list) becomes WC_OK
    perl -i -pe 'if ($. == '"$line"') { s/[\w>.\-]+->sync(_dir)?\([^()]*\)/WC_OK/ or die "no call on line\n" }' \
        "$copy/$file" || { echo "$site: could not edit"; missed=$((missed + 1)); continue; }
    what=$(sed -n "${line}p" "$file" | sed 's/^ *//')
    bins=()
    for t in $TESTS; do bins+=("build/engine/tests/$t"); done
    if ! (cd "$copy" && $MAKE -s "${bins[@]}" >"$SCRATCH/build.log" 2>&1); then
        echo "$site: build failed ($what)"
        tail -5 "$SCRATCH/build.log"
        missed=$((missed + 1))
        continue
    fi
    failing=()
    for t in $TESTS; do
        mkdir -p "$SCRATCH/run/$t"
        if ! (cd "$copy/build" && WC_TEST_TMP=$SCRATCH/run/$t timeout 300 "./engine/tests/$t") \
            >"$SCRATCH/$t.log" 2>&1; then
            failing+=("$t")
        fi
        rm -rf "$SCRATCH/run/$t"
    done
    if [ "${#failing[@]}" -gt 0 ]; then
        caught=$((caught + 1))
        echo "caught  $site ($what): ${failing[*]}"
    else
        missed=$((missed + 1))
        echo "MISSED  $site ($what): no test failed without it"
    fi
done
echo "$caught fsync sites caught, $missed missed"
[ "$missed" -eq 0 ]
