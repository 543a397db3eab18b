# Sourced by the bench scripts: `start_sandbox [ARGS...]` starts upvault-sandbox from "$bin" on loopback
# (its log and admin token in "$work"), waits until it listens, and sets `sandbox_pid` (for the caller's
# clean-up), `provider` (its URL), `secret` (its client secret) and the function `admin` (its admin API).
start_sandbox() {
  "$bin/upvault-sandbox" "$@" --admin-token-file "$work/admin.token" > "$work/sandbox.log" 2>&1 &
  sandbox_pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$work/sandbox.log" && break; sleep 0.1; done
  provider="$(sed -n 's/.*listening on //p' "$work/sandbox.log")"
  secret="$(admin client | python3 -c "import json,sys;print(json.load(sys.stdin)['client_secret'])")"
}

admin() { "$bin/upvault-sandbox" admin "$provider" "$@" --admin-token-file "$work/admin.token"; }
