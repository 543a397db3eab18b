#!/usr/bin/env bash
# What `fdatasync` costs the bulk paths (README, "Benchmarks"): `upvault refresh --all` over R grants and
# `upvault revoke --all` over V grants, each ROUNDS times with the syncs and without them (`eatmydata`
# makes fdatasync a no-op), alternating, against upvault-sandbox on loopback with the release build README
# installs. Needs eatmydata and /usr/bin/time (apt-get install eatmydata time).
set -euo pipefail
cd "$(dirname "$0")/.."
R="${R:-100000}"
V="${V:-10000}"
ROUNDS="${ROUNDS:-2}"
for tool in eatmydata /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "bench-sync: $tool is missing" >&2; exit 1; }
done
swift build -c release --static-swift-stdlib >/dev/null
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"
work="$(mktemp -d)"
sandbox_pid=""
trap '[ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"' EXIT
umask 077
export XDG_STATE_HOME="$work/state" UPVAULT_PASSPHRASE_FILE="$work/pass" UPVAULT_AGENT_SOCK="$work/none/agent.sock"
export UPVAULT_PATH="$work/vault.upv"
printf 'bench passphrase\n' > "$work/pass"
. scripts/bench-sandbox.sh
start_sandbox

"$bin/upvault" init --kdf 1:8 >/dev/null 2>&1
printf '%s\n' "$secret" | "$bin/upvault" app add up --client-id sandbox-client \
  --redirect-uri https://localhost/callback --provider-url "$provider" 2>/dev/null
printf '%s\n' "$secret" | "$bin/upvault" app add gone --issuer "$provider" --client-id sandbox-client 2>/dev/null
admin seed "count=$R" > "$work/grants.json"
"$bin/upvault" import grants up "$work/grants.json" --shred 2>/dev/null
# `timed [eatmydata] COMMAND...`: "seconds user system" of the command.
timed() { /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }; tail -1 "$work/time"; }
for _ in $(seq "$ROUNDS"); do
  for mode in synced unsynced; do
    wrap=(); [ "$mode" = unsynced ] && wrap=(eatmydata)
    admin invalidate-access-tokens > /dev/null
    read -r wall user system < <(timed "${wrap[@]}" "$bin/upvault" refresh --app up --all --concurrency 64)
    python3 -c "print('refresh --all, $R grants, $mode: %.0f/s, %.0f µs CPU per grant (%.0f user + %.0f system)' % ($R / $wall, ($user + $system) / $R * 1e6, $user / $R * 1e6, $system / $R * 1e6))"
    admin seed "count=$V" > "$work/revoke.json"
    "$bin/upvault" import grants gone "$work/revoke.json" --shred --replace >/dev/null 2>&1
    read -r wall _ _ < <(timed "${wrap[@]}" "$bin/upvault" revoke --app gone --all --concurrency 32 --json)
    python3 -c "print('revoke --all, $V grants, $mode: %.0f/s' % ($V / $wall))"
  done
done
