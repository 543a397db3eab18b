#!/usr/bin/env bash
# The main job end to end, in a throw-away directory: create a vault, store and read secrets, change
# the passphrase, verify. Uses a cheap Argon2id cost (1 pass, 8 MiB) so that it runs in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
swift build -c release --product upvault >/dev/null
upvault="$(swift build -c release --show-bin-path)/upvault"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export UPVAULT_PATH="$work/vault/vault.upv"
umask 077
printf 'first passphrase\n' > "$work/pass"
export UPVAULT_PASSPHRASE_FILE="$work/pass"

set -x
"$upvault" init --kdf 1:8
printf 'ghp_example_token' | "$upvault" secret set github-token
printf 'hunter2\n' | "$upvault" secret set db-password
"$upvault" secret list
"$upvault" secret get github-token
printf 'first passphrase\nsecond passphrase\n' | "$upvault" passwd --passphrase-fd 0 --new-passphrase-fd 0
printf 'second passphrase\n' > "$work/pass"
"$upvault" secret get db-password
"$upvault" secret rm db-password
"$upvault" fsck
"$upvault" status
set +x
if grep -q -e ghp_example_token -e hunter2 -e github-token "$UPVAULT_PATH"; then
  echo "FAIL: plaintext found in the vault file" >&2
  exit 1
fi
echo "demo: ok (no name or value appears in $UPVAULT_PATH)"
