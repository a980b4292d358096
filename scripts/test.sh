#!/usr/bin/env bash
# Builds memshield and every test suite, then runs them all with ctest: unit tests (GoogleTest),
# integration tests (real clients against a real server), differential tests against
# Debian's memcached, and memcached 1.6.18's own t/ suite (../shared/memcached-suite) in its
# plain, TLS and SASL modes (ctest label `suite`). Exits non-zero if anything fails.
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

# The unit and integration suites again, built with AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan). Every report goes to a file under $asan/sanitizer-logs and any file there fails
# the run. The tests stop servers with SIGTERM, so LeakSanitizer checks each memshield's exit;
# the integration fixtures also fail the test during which a report appears or a server exits
# non-zero (tests/integration/procutil.py). SANITIZE=0 skips it.
if [[ "${SANITIZE:-1}" != 0 ]]; then
  asan=${ASAN_BUILD_DIR:-build-asan}
  cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMSHIELD_SANITIZE=ON \
    -DMEMSHIELD_BUILD_BENCH=OFF -DMEMSHIELD_FUZZ=OFF >/dev/null
  cmake --build "$asan" -j"$(nproc)"
  logs="$(cd "$asan" && pwd)/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  # quarantine_size_mb=8: ASan keeps freed blocks (256 MB of them by default) and they count in
  # RSS, which test_limits bounds; -R's per-turn input buffers (memcached's default of 20
  # requests a turn) free enough 64 KB blocks to fill it. 8 MB still catches a use after free
  # of anything recently freed.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:quarantine_size_mb=8:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  # Excluded by name: integration.test_abuse (10,500 sockets against a p99 latency bound: a
  # timing test, meaningless at ASan's speed, and its code paths run in the other tests).
  rc=0
  (cd "$asan" && ctest --output-on-failure -j"$(nproc)" --timeout 900 -L 'unit|integration' \
    -E '^integration\.test_abuse$') || rc=$?
  if compgen -G "$logs/*" >/dev/null; then
    echo "sanitizer reports:" >&2
    cat "$logs"/* >&2
    rc=1
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
  if ((rc != 0)); then exit "$rc"; fi
fi
