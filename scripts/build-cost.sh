#!/usr/bin/env bash
# What the PostgreSQL store costs a clean build (README, "Benchmarks", "On PostgreSQL"), in one run, each
# build from an empty scratch directory (the package mirror already fetched, so no network time):
#
#   app, UPVault only          `swift build --target UPVault`: what an app that embeds the vault builds
#   app, UPVaultPostgres       `swift build --target UPVaultPostgres`: the same app on PostgreSQL
#   CLI without, then with     `swift build --target UPVaultOAuth` (the CLI's layers below the store
#                              choice), then `--target UPVaultPostgres` on top of it in the same directory:
#                              what the Postgres store adds to the CLI's build
#
# CONFIG=release measures release builds (debug by default). Needs /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${CONFIG:-debug}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

swift package resolve >/dev/null
build() {  # build SCRATCH TARGET: wall seconds of one build
  /usr/bin/time -f '%e' -o "$work/time" swift build -c "$config" --scratch-path "$1" --target "$2" >/dev/null 2>&1
  cat "$work/time"
}
rows=()
row() { rows+=("| $1 | $2 s |"); printf '%-60s %s s\n' "$1" "$2" >&2; }

row "clean $config build, an app on UPVault only" "$(build "$work/a" UPVault)"
rm -rf "$work/a"
row "clean $config build, an app on UPVaultPostgres" "$(build "$work/b" UPVaultPostgres)"
rm -rf "$work/b"
below="$(build "$work/c" UPVaultOAuth)"
row "clean $config build, the CLI's layers without the store (UPVaultOAuth)" "$below"
row "then UPVaultPostgres added in the same directory" "$(build "$work/c" UPVaultPostgres)"

echo
echo "| $(nproc) cores | wall time |"
echo "|---|---|"
printf '%s\n' "${rows[@]}"
