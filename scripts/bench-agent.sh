#!/usr/bin/env bash
# hyperfine, in one run: `upvault token` through the agent, the same with the passphrase from a file
# (one Argon2id run per call, default cost), and `pass show` with a warm gpg-agent. Then a shell loop of
# 1,000 `upvault token` calls through the agent. Needs hyperfine, pass and gnupg (apt-get install
# hyperfine pass gnupg) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
# STATIC=1: the Swift runtime linked in (--static-swift-stdlib), in a build folder of its own.
build=(swift build -c release)
[ "${STATIC:-0}" = 1 ] && build+=(--static-swift-stdlib --scratch-path .build-static)
"${build[@]}" >/dev/null
bin="$("${build[@]}" --show-bin-path)"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  UPVAULT_AGENT_SOCK="$work/run/agent.sock" UPVAULT_PATH="$work/vault.upv" "$bin/upvault" lock 2>/dev/null || true
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  gpgconf --homedir "$work/gnupg" --kill gpg-agent 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
umask 077
"$bin/upvault-sandbox" --write-kiefer-config "$work/config.json" > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/sandbox.log" && break; sleep 0.1; done
provider="$(sed -n 's/.*listening on //p' "$work/sandbox.log")"
printf 'bench passphrase\n' > "$work/pass"
export UPVAULT_PATH="$work/vault.upv"
kdf="${KDF:-moderate}"
UPVAULT_PASSPHRASE_FILE="$work/pass" "$bin/upvault" init --kdf "$kdf" >/dev/null 2>&1
UPVAULT_PASSPHRASE_FILE="$work/pass" "$bin/upvault" import kiefer "$work/config.json" --provider-url "$provider" --shred 2>/dev/null
UPVAULT_AGENT_SOCK="$work/run/agent.sock" UPVAULT_PASSPHRASE_FILE="$work/pass" "$bin/upvault" unlock 2>/dev/null

# pass, with a key without passphrase and its gpg-agent already running (warm).
export GNUPGHOME="$work/gnupg" PASSWORD_STORE_DIR="$work/password-store"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "bench <bench@example.invalid>" default default never 2>/dev/null
key="$(gpg --list-keys --with-colons | awk -F: '/^fpr/ {print $10; exit}')"
pass init "$key" >/dev/null
UPVAULT_AGENT_SOCK="$work/run/agent.sock" "$bin/upvault" token | pass insert -e up/token >/dev/null
pass show up/token >/dev/null

hyperfine -N --warmup 5 --runs "${RUNS:-100}" --export-markdown "${OUT:-/dev/stdout}" \
  -n "upvault token, through the agent" "env UPVAULT_AGENT_SOCK=$work/run/agent.sock $bin/upvault token" \
  -n "upvault token, passphrase file (Argon2id $kdf per call)" "env UPVAULT_AGENT_SOCK=$work/none/agent.sock UPVAULT_PASSPHRASE_FILE=$work/pass $bin/upvault token" \
  -n "pass show, warm gpg-agent" "pass show up/token"

echo "1,000 upvault token calls through the agent, one shell loop:"
export UPVAULT_AGENT_SOCK="$work/run/agent.sock"
time (for _ in $(seq 1000); do "$bin/upvault" token >/dev/null; done)
