#!/usr/bin/env bash
# The main job end to end, against the local sandbox provider (upvault-sandbox, which behaves like
# Jawbone UP did): a kiefer user's plaintext config.json becomes an app and a grant in the vault, the
# plaintext file is gone, scripts get the token from the vault, the API works, a refresh works. A
# device login of a public client found by discovery, and its revocation. Then the vault basics. Uses a cheap Argon2id cost (1 pass, 8 MiB) so that it runs in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --static-swift-stdlib >/dev/null  # the build README installs
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"
upvault="$bin/upvault"

work="$(mktemp -d)"
sandbox_pid=""
trap '"$upvault" lock >/dev/null 2>&1; [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"' EXIT
export UPVAULT_PATH="$work/vault/vault.upv"
umask 077
printf 'first passphrase\n' > "$work/pass"
export UPVAULT_PASSPHRASE_FILE="$work/pass"

# A provider on loopback, and the kiefer config one of its users kept in plaintext.
"$bin/upvault-sandbox" --write-kiefer-config "$work/config.json" --device-interval 1 > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/sandbox.log" && break; sleep 0.1; done
provider="$(sed -n 's/.*listening on //p' "$work/sandbox.log")"
echo "sandbox provider at $provider"

set -x
"$upvault" init --kdf 1:8
"$upvault" import kiefer "$work/config.json" --provider-url "$provider" --shred
test ! -e "$work/config.json"
"$upvault" app show up
"$upvault" grants
token="$("$upvault" token)"
"$upvault" api GET users/@me
"$upvault" token --min-valid 400d > /dev/null   # tokens live a year: asking for 400 days forces a refresh
"$upvault" grants
# Unlock once; then a script's loop of 1,000 token calls needs no passphrase; then lock.
export UPVAULT_AGENT_SOCK="$work/run/agent.sock"
"$upvault" unlock --ttl 10m --idle 5m
set +x
start=$(date +%s%N)
(unset UPVAULT_PASSPHRASE_FILE; for _ in $(seq 1000); do "$upvault" token > /dev/null; done)
echo "1,000 'upvault token' calls through the agent: $(( ($(date +%s%N) - start) / 1000000 )) ms"
set -x
(unset UPVAULT_PASSPHRASE_FILE; "$upvault" exec -- sh -c 'test -n "$UP_ACCESS_TOKEN" && echo "exec: UP_ACCESS_TOKEN is set for the child"')
"$upvault" status
"$upvault" lock
(unset UPVAULT_PASSPHRASE_FILE; "$upvault" token > /dev/null 2>&1) && { echo "FAIL: a token after lock" >&2; exit 1; } || echo "after lock: locked (exit $?)"
# Today's providers: discovery from the issuer, a public client's device login (the sandbox plays the
# user approving the code on another device), then the grant revoked at the provider.
"$upvault" app add today --issuer "$provider" --client-id sandbox-public --public
"$upvault" login --app today --user tv --device 2> "$work/device.log" &
login_pid=$!
set +x
for _ in $(seq 100); do grep -q 'Waiting for approval' "$work/device.log" && break; sleep 0.1; done
cat "$work/device.log"
code="$(grep -oE '[B-Z]{4}-[B-Z]{4}' "$work/device.log" | head -n 1)"
set -x
"$bin/upvault-sandbox" admin "$provider" device user_code="$code" action=approve
wait "$login_pid"
"$upvault" token --app today --user tv > /dev/null
"$upvault" revoke --app today --user tv
"$bin/upvault-sandbox" admin "$provider" revocations
"$upvault" grants --app today
printf 'ghp_example_token' | "$upvault" secret set github-token
"$upvault" secret get github-token
printf 'first passphrase\nsecond passphrase\n' | "$upvault" passwd --passphrase-fd 0 --new-passphrase-fd 0
printf 'second passphrase\n' > "$work/pass"
"$upvault" fsck
"$upvault" status
set +x
if grep -q -e "$token" -e ghp_example_token -e github-token "$UPVAULT_PATH"; then
  echo "FAIL: plaintext found in the vault file" >&2
  exit 1
fi
echo "demo: ok (config.json imported and shredded; no token, name or value appears in $UPVAULT_PATH)"
