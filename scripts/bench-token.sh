#!/usr/bin/env bash
# hyperfine, in one run: `upvault token` (no refresh needed) against reading the same token from a
# kiefer config.json with python3. Needs hyperfine (apt-get install hyperfine) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d)"
sandbox_pid=""
trap '[ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"' EXIT
umask 077
"$bin/upvault-sandbox" --write-kiefer-config "$work/config.json" > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/sandbox.log" && break; sleep 0.1; done
provider="$(sed -n 's/.*listening on //p' "$work/sandbox.log")"
cp "$work/config.json" "$work/kiefer.json"
printf 'bench passphrase\n' > "$work/pass"
export UPVAULT_PATH="$work/vault.upv" UPVAULT_PASSPHRASE_FILE="$work/pass"
kdf="${KDF:-1:8}"
# The interpreter itself, not a version-manager shim (pyenv's adds about 50 ms per start).
py="$(python3 -c 'import sys; print(sys.executable)')"
"$bin/upvault" init --kdf "$kdf" >/dev/null
"$bin/upvault" import kiefer "$work/config.json" --provider-url "$provider" --shred 2>/dev/null
test "$("$bin/upvault" token)" = "$(python3 -c "import json;print(json.load(open('$work/kiefer.json'))['access_token'])")"
hyperfine -N --warmup 5 --runs "${RUNS:-200}" --export-markdown "${OUT:-/dev/stdout}" \
  -n "upvault token (Argon2id $kdf)" "$bin/upvault token" \
  -n "python3 reading kiefer config.json" "$py -c \"import json;print(json.load(open('$work/kiefer.json'))['access_token'])\""
