#!/usr/bin/env bash
# The incident drill's number, measured in one run on loopback against upvault-sandbox:
#   upvault refresh --all over N grants (default 100,000), every result durable (group commit),
#   next to the loop a kiefer user would write (KieferAuth.refresh_access_token per user, in Python,
#   against the same sandbox), over M grants (default 2,000). Peak memory of the upvault run included.
# Run it twice: LATENCY=0 (loopback as it is: both sides CPU-bound on 2 cores) and LATENCY=20.
# Needs a release build, /usr/bin/time and pip (kiefer is installed into a throw-away folder).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100000}"; M="${M:-2000}"
build=(swift build -c release)
[ "${STATIC:-0}" = 1 ] && build+=(--static-swift-stdlib --scratch-path .build-static)
"${build[@]}" >/dev/null
bin="$("${build[@]}" --show-bin-path)"
work="$(mktemp -d)"
sandbox_pid=""
trap '[ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"' EXIT
umask 077
python3 -m pip install --quiet --target "$work/py" kiefer 2>/dev/null

# LATENCY=ms adds that much to every provider answer (a real provider is tens of ms away).
"$bin/upvault-sandbox" --latency-ms "${LATENCY:-0}" --admin-token-file "$work/admin.token" > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/sandbox.log" && break; sleep 0.1; done
provider="$(sed -n 's/.*listening on //p' "$work/sandbox.log")"
admin() { "$bin/upvault-sandbox" admin "$provider" "$@" --admin-token-file "$work/admin.token"; }
secret="$(admin client | python3 -c "import json,sys;print(json.load(sys.stdin)['client_secret'])")"

printf 'bench passphrase\n' > "$work/pass"
export UPVAULT_PATH="$work/vault.upv" UPVAULT_PASSPHRASE_FILE="$work/pass" UPVAULT_AGENT_SOCK="$work/none/agent.sock"
"$bin/upvault" init --kdf 1:8 >/dev/null 2>&1
printf '%s\n' "$secret" | "$bin/upvault" app add up --client-id sandbox-client --redirect-uri https://localhost/callback --provider-url "$provider" 2>/dev/null
admin seed "count=$N" > "$work/grants.json"
"$bin/upvault" import grants up "$work/grants.json" --shred
admin invalidate-access-tokens > /dev/null

echo "== upvault refresh --all over $N grants"
/usr/bin/time -f "peak resident memory: %M KiB, wall %e s" "$bin/upvault" refresh --all --concurrency "${CONCURRENCY:-64}"
ls -l "$UPVAULT_PATH" | awk '{print "vault file after the run: " $5 " bytes"}'

echo "== baseline: kiefer's refresh_access_token in a Python loop over $M grants"
admin seed "count=$M" > "$work/baseline.json"
printf '{"client_id": "sandbox-client", "client_secret": "%s", "redirect_uri": "https://localhost/callback", "scope": ["basic_read"]}' "$secret" > "$work/config.json"
OAUTHLIB_INSECURE_TRANSPORT=1 PYTHONPATH="$work/py" python3 - "$work" "$provider" <<'PY'
import json, sys, time
from kiefer.auth import KieferAuth
work, provider = sys.argv[1], sys.argv[2]
KieferAuth._token_url = provider + "/auth/oauth2/token"
grants = json.load(open(work + "/baseline.json"))
auth = KieferAuth(work + "/config.json")
results = {}
start = time.monotonic()
for grant in grants:
    auth.set_access_token(grant["access_token"])
    auth.set_refresh_token(grant["refresh_token"])
    results[grant["user"]] = auth.refresh_access_token()
json.dump(results, open(work + "/baseline-out.json", "w"))  # one write at the end: no durability per grant
elapsed = time.monotonic() - start
print("kiefer loop: %d grants in %.2f s, %.0f grants/s" % (len(grants), elapsed, len(grants) / elapsed))
PY
