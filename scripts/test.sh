#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test (unit and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export SWIFT_BACKTRACE=enable=no
# Vault anchors of the test vaults go to a throw-away state directory, not the user's.
XDG_STATE_HOME="$(mktemp -d)"
export XDG_STATE_HOME
trap 'rm -rf "$XDG_STATE_HOME"' EXIT
swift build --build-tests
swift test --skip-build "$@"
