#!/usr/bin/env bash
# The whole test suite, unit and end to end, under a sanitizer: every library and every binary the
# end-to-end tests run (upvault, the agent, the sandbox, the crash helper) is instrumented.
#
#   scripts/sanitize.sh address          AddressSanitizer (CI runs this one)
#   scripts/sanitize.sh thread           ThreadSanitizer
#   scripts/sanitize.sh address --filter AgentTests     only some tests
#
# Builds into .build-address or .build-thread (several minutes the first time). A report fails the
# test that triggered it (its process aborts, or its stderr is no longer empty).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"
[ $# -gt 0 ] && shift
case "$kind" in
  address) export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1" UPVAULT_TEST_SLOWDOWN=3 ;;
  thread) export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" UPVAULT_TEST_SLOWDOWN=10 ;;
  *) echo "usage: $0 address|thread [swift test options]" >&2; exit 64 ;;
esac
export SWIFT_BACKTRACE=enable=no
XDG_STATE_HOME="$(mktemp -d)"
export XDG_STATE_HOME
trap 'rm -rf "$XDG_STATE_HOME"' EXIT
scratch=".build-$kind"
start=$(date +%s)
swift build --build-tests --sanitize "$kind" --scratch-path "$scratch"
built=$(date +%s)
swift test --skip-build --sanitize "$kind" --scratch-path "$scratch" "$@"
if [ $# -eq 0 ]; then
  # The fuzz corpus, replayed through the instrumented parsers (scripts/fuzz.sh explores further).
  for target in Fuzz/corpus/*/; do
    target="$(basename "$target")"
    "$scratch/debug/upvault-fuzz" "$target" Fuzz/corpus/"$target"/* > /dev/null
  done
  echo "sanitize ($kind): the fuzz corpus replays cleanly"
fi
echo "sanitize ($kind): built in $((built - start)) s, tests ran in $(($(date +%s) - built)) s"
