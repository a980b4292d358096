#!/usr/bin/env bash
# Builds memshield (Release) and starts it on 127.0.0.1:11211 (and [::1]:11211), TCP only.
# Extra arguments go to memshield, e.g. scripts/run.sh -m 1024 -t 4 -vv
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMEMSHIELD_BUILD_TESTS=OFF \
  -DMEMSHIELD_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target memshield
# As root, memshield (like memcached) needs -u: switch to nobody after binding unless told.
user=()
if [[ $(id -u) -eq 0 && " $* " != *" -u "* && " $* " != *" --user"* ]]; then user=(-u nobody); fi
exec build-release/bin/memshield -p 11211 "${user[@]}" "$@"
