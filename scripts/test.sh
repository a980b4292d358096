#!/usr/bin/env bash
# Builds memshield and every test suite, then runs them all with ctest: unit tests (GoogleTest),
# integration tests (real clients against a real server) and differential tests against
# Debian's memcached. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
# libFuzzer targets under ASan/UBSan, 20 s each (two at a time): only where clang is installed.
cd - >/dev/null  # back to the repository root
if command -v clang++ >/dev/null; then scripts/fuzz.sh 20; fi
