#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test (unit and end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export SWIFT_BACKTRACE=enable=no
swift build --build-tests
swift test --skip-build "$@"
