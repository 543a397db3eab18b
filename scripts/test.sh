#!/usr/bin/env bash
# The test command: installs what is missing, starts a throw-away PostgreSQL cluster (scripts/postgres.sh)
# for the PostgreSQL store's tests, runs every test (unit and end-to-end), then stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export SWIFT_BACKTRACE=enable=no
# Vault anchors of the test vaults go to a throw-away state directory, not the user's.
XDG_STATE_HOME="$(mktemp -d)"
export XDG_STATE_HOME
UPVAULT_TEST_POSTGRES_DIR=""
trap 'rm -rf "$XDG_STATE_HOME"; [ -z "$UPVAULT_TEST_POSTGRES_DIR" ] || ./scripts/postgres.sh stop "$UPVAULT_TEST_POSTGRES_DIR"' EXIT
eval "$(./scripts/postgres.sh start)"
swift build --build-tests
swift test --skip-build "$@"
