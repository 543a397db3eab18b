#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes with libFuzzer (shipped with the Swift toolchain) and
# AddressSanitizer: one target per parser (Sources/upvault-fuzz/FuzzTargets.swift), seeded from
# Fuzz/corpus/TARGET (kept in the repository).
#
#   scripts/fuzz.sh                      every target for FUZZ_SECONDS (default 30) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh     ten minutes each (before a release)
#   scripts/fuzz.sh header log           only these targets
#   FUZZ_JOBS=2                          targets run side by side (default: the number of cores)
#   FUZZ_MERGE=1                         add the new inputs that found coverage to Fuzz/corpus (minimised)
#
# Prints executions per second and findings per target. A crash, trap, sanitizer report, leak or
# time-out is saved under Fuzz/findings/TARGET/ and makes the script exit 1; replay one with
# `.build/debug/upvault-fuzz TARGET FILE` and turn it into a unit test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-$(nproc)}"
scratch=".build-fuzz"

swift build --product upvault-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 | grep -E "error|warning: unre|Compiling upvault" || true
binary="$(swift build --product upvault-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --show-bin-path)/upvault-fuzz"
[ -x "$binary" ] || { echo "fuzz: the build failed" >&2; exit 1; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls Fuzz/corpus)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run_one() {
  local target="$1"
  mkdir -p "$work/$target" "Fuzz/findings/$target"
  UPVAULT_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$binary" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="Fuzz/findings/$target/" "$work/$target" "Fuzz/corpus/$target" > "$work/$target.log" 2>&1
  local status=$?
  local runs rate
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$target.log" | tail -1)"
  local found
  found="$(find "Fuzz/findings/$target" -type f | wc -l)"
  printf '%-16s %6ss %12s runs %8s exec/s  findings: %s%s\n' "$target" "$seconds" "${runs:-?}" "${rate:-?}" \
    "$found" "$([ "$status" -ne 0 ] && echo " (exit $status, see below)")"
  if [ "$status" -ne 0 ]; then grep -E "ERROR|Fatal|SUMMARY|Test unit written" "$work/$target.log" | head -5; fi
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    UPVAULT_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0 "$binary" -merge=1 "Fuzz/corpus/$target" \
      "$work/$target" > /dev/null 2>&1 || true
  fi
  return "$status"
}
export -f run_one
export work seconds binary

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time"
failed=0
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' || failed=1
find Fuzz/findings -type d -empty -delete 2>/dev/null || true
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings saved under Fuzz/findings" >&2
  exit 1
fi
echo "fuzz: no findings"
