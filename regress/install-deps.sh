#!/bin/bash
#
# regress/install-deps.sh - install the Debian 12 packages widecol needs.
#
#   regress/install-deps.sh build   compiler, PostgreSQL 15 server + headers, lz4, xxhash,
#                                   libssl-dev (HMAC of the internode handshake)
#   regress/install-deps.sh demo    same as build
#   regress/install-deps.sh test    build + cmocka, clang/libFuzzer, prove, IPC::Run
#
# Only packages that are missing are installed (checked with dpkg-query, so a
# machine that has everything pays nothing); apt-get update runs once, right
# before the install.  Installing needs root; without root the script only
# reports what is missing.
#
# Copyright (c) 2026, widecol developers

set -euo pipefail

what=${1:-test}

pkgs=(make gcc libc6-dev
      postgresql-15 postgresql-server-dev-15
      liblz4-dev libxxhash-dev libssl-dev)

case "$what" in
    build|demo) ;;
    test) pkgs+=(libcmocka-dev clang libclang-rt-14-dev perl libipc-run-perl) ;;
    *) echo "usage: $0 build|demo|test" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#pkgs[@]} packages for '$what' are present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: apt-get install ${missing[*]})" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
