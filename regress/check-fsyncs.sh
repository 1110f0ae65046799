#!/bin/bash
#
# regress/check-fsyncs.sh - does some test notice a missing fsync?
#
# For every fsync of a durable step in engine/ and cluster/ (a file sync or
# a directory sync: each line of engine/*.c or cluster/*.c that calls ->sync(
# or ->sync_dir(), except the POSIX implementations themselves), copy the
# tree, replace that one call with WC_OK, build the durability tests and run
# them.  A site is "caught" when at least one of them fails.  Prints one line
# per site and a summary; exits non-zero if any site is not caught.
#
# Not part of 'make test' (it rebuilds the libraries once per site: a minute
# or two each); run it with 'make check-fsyncs' after touching a durable step.
#
# Environment: FSYNC_TESTS (the test programs, default below: a bare name is
# engine/tests/<name>, a path such as cluster/tests/hints_test is taken as
# is), FSYNC_FILES (only the sites of these files, e.g. "engine/snapshot.c
# cluster/hints.c"; default every file), WC_PL_SEED (powerloss_test's seed,
# default 4242), KEEP_TMP=1 keeps the scratch copy.
#
# Copyright (c) 2026, widecol developers

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
MAKE=${MAKE:-make}
TESTS=${FSYNC_TESTS:-durability_test powerloss_test commitlog_test recovery_test snapshot_test \
    counter_test cluster/tests/batchlog_test cluster/tests/stream_test \
    cluster/tests/schema_runtime_test cluster/tests/hints_test cluster/tests/clsync_test \
    cluster/tests/paxos_file_test}
export WC_PL_SEED=${WC_PL_SEED:-4242}

SCRATCH=$(mktemp -d /tmp/widecol-fsyncs.XXXXXX) || exit 1
cleanup() { [ -n "${KEEP_TMP:-}" ] && echo "kept $SCRATCH" || rm -rf "$SCRATCH"; }
trap cleanup EXIT

# every sync call site, as file:line
FILES=${FSYNC_FILES:-engine/*.c cluster/*.c}
# shellcheck disable=SC2086 # FILES is a list of globs
mapfile -t sites < <(grep -Hn -E -- '->sync(_dir)?\(' $FILES |
    grep -v -E 'posix|^engine/fs\.c:[0-9]+:static|store\.ops->sync' | cut -d: -f1,2)
if [ "${#sites[@]}" -eq 0 ]; then
    echo "no fsync sites found in $FILES" >&2
    exit 1
fi
bin_of() { case $1 in */*) echo "$1" ;; *) echo "engine/tests/$1" ;; esac; }

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
    for t in $TESTS; do bins+=("build/$(bin_of "$t")"); done
    if ! (cd "$copy" && $MAKE -s "${bins[@]}" >"$SCRATCH/build.log" 2>&1); then
        echo "$site: build failed ($what)"
        tail -5 "$SCRATCH/build.log"
        missed=$((missed + 1))
        continue
    fi
    failing=()
    for t in $TESTS; do
        name=${t##*/}
        mkdir -p "$SCRATCH/run/$name"
        if ! (cd "$copy/build" && WC_TEST_TMP=$SCRATCH/run/$name timeout 300 "./$(bin_of "$t")") \
            >"$SCRATCH/$name.log" 2>&1; then
            failing+=("$name")
        fi
        rm -rf "$SCRATCH/run/$name"
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
