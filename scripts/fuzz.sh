#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, AddressSanitizer and UBSan in their own
# build directory, replays the saved crash regressions, then fuzzes each target for the given
# seconds (default 30) from its checked-in seed corpus. New corpus entries and crash artifacts go
# to a temporary directory, never into the repository. Exits non-zero on any crash.
#   scripts/fuzz.sh [seconds-per-target]   env: FUZZ_BUILD_DIR, FUZZ_JOBS (targets at once),
#                                               FUZZ_TARGETS (space-separated subset), FUZZ_OUT,
#                                               FUZZ_RUNS (also stop after this many executions)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-2}
targets=(${FUZZ_TARGETS:-text_parser_fuzz meta_parser_fuzz udp_frame_fuzz connection_fuzz udp_service_fuzz binary_parser_fuzz})
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/memshield-fuzz.XXXXXX")}
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
san+=" -fno-omit-frame-pointer"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS="$san" -DMEMSHIELD_FUZZ=ON \
  -DMEMSHIELD_BUILD_TESTS=OFF -DMEMSHIELD_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_one() {
  local t=$1 bin="$build/bin/$1" dict=() regs=()
  mkdir -p "$out/$t/corpus" "$out/$t/artifacts"
  # Known crashes first: each must now pass.
  mapfile -t regs < <(find "tests/fuzz/regressions/$t" -type f ! -name '.*' 2>/dev/null)
  if ((${#regs[@]})); then
    "$bin" "${regs[@]}" >"$out/$t/regressions.log" 2>&1 ||
      { echo "fuzz: $t: a saved regression fails again (see $out/$t/regressions.log)"; return 1; }
  fi
  # protocol words, for the text-based targets
  [[ $t != udp_frame_fuzz && $t != binary_parser_fuzz ]] && dict=(-dict=tests/fuzz/text.dict)
  [[ -n ${FUZZ_RUNS:-} ]] && dict+=(-runs="$FUZZ_RUNS")
  if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
      -artifact_prefix="$out/$t/artifacts/" "${dict[@]}" "$out/$t/corpus" \
      "tests/fuzz/corpus/$t" >"$out/$t/fuzz.log" 2>&1; then
    local execs rate
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t/fuzz.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t/fuzz.log")
    echo "fuzz: $t: ok, ${execs:-?} executions (${rate:-?}/s) in ${secs}s"
  else
    echo "fuzz: $t: CRASH; input in $out/$t/artifacts/, log $out/$t/fuzz.log"
    grep -m1 -A12 -E 'ERROR: |runtime error|invariant broken' "$out/$t/fuzz.log" || true
    return 1
  fi
}

fail=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || fail=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
echo "fuzz: corpora and logs in $out"
exit "$fail"
