#!/usr/bin/env bash
# The PostgreSQL store's benchmarks, in one run (README, "Benchmarks", "Beyond one machine"). Builds
# release as README installs it, starts a throw-away cluster (scripts/postgres.sh) and upvault-sandbox on
# loopback, then:
#
#   campaign   `upvault refresh --all` over G grants (a provider that rotates refresh tokens) by 1, 2 and
#              4 worker processes at once: committed refreshes per second, from the first worker's start
#              to the last one's end, every grant refreshed (checked)
#   put/get    one `upvault secret set` and one `upvault secret get`, file vault beside database vault
#              (hyperfine; both at Argon2id's minimum cost, so the difference is the store), then the same
#              through the agent after `upvault unlock` (no Argon2id at all)
#
# G=20000 by default. Needs hyperfine and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
G="${G:-20000}"
C="${C:-32}"
command -v hyperfine >/dev/null || { echo "bench-postgres: hyperfine is missing" >&2; exit 1; }

swift build -c release --static-swift-stdlib >/dev/null
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"
work="$(mktemp -d)"
sandbox_pid=""
UPVAULT_TEST_POSTGRES_DIR=""
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null
  [ -n "$UPVAULT_TEST_POSTGRES_DIR" ] && ./scripts/postgres.sh stop "$UPVAULT_TEST_POSTGRES_DIR"
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(./scripts/postgres.sh start)"
umask 077
export XDG_STATE_HOME="$work/state" UPVAULT_PASSPHRASE_FILE="$work/pass" UPVAULT_AGENT_SOCK="$work/none/agent.sock"
printf 'bench passphrase\n' > "$work/pass"

. scripts/bench-sandbox.sh
start_sandbox --rotate-refresh-tokens

rows=()
row() { rows+=("| $1 | $2 | $3 |"); printf '%-52s %-30s %s\n' "$1" "$2" "$3" >&2; }

campaign() {  # campaign WORKERS: a fresh database vault of G grants, refreshed by WORKERS processes
  export UPVAULT_PATH="$UPVAULT_TEST_POSTGRES&schema=bench_$1"
  "$bin/upvault" init --kdf 1:8 >/dev/null 2>&1
  printf '%s\n' "$secret" | "$bin/upvault" app add up --issuer "$provider" --client-id sandbox-client \
    --redirect-uri https://localhost/callback 2>/dev/null
  admin seed "count=$G" > "$work/seed.json"
  "$bin/upvault" import grants up "$work/seed.json" --shred 2>/dev/null
  admin invalidate-access-tokens > /dev/null
  local start end pids=()
  start=$(date +%s.%N)
  for i in $(seq "$1"); do
    "$bin/upvault" refresh --all --concurrency "$C" --worker "w$i" >"$work/worker$i.out" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  end=$(date +%s.%N)
  "$bin/upvault" refresh --status --json > "$work/status.json"
  python3 - "$work/status.json" "$G" <<'EOF' || exit 1
import json, sys
status = json.load(open(sys.argv[1]))
assert status["refreshed"] == int(sys.argv[2]) and status["failed"] == 0, status
EOF
  python3 -c "import sys; print('%.0f' % ($G / ($end - $start)))"
}

for workers in 1 2 4; do
  rate="$(campaign "$workers")"
  row "refresh --all, $G grants, $workers worker(s) × $C" "$rate committed refreshes/s" "every grant refreshed, each token once"
done

export UPVAULT_PATH="$work/file.upv"
"$bin/upvault" init --kdf 1:8 >/dev/null 2>&1
printf 'value' | "$bin/upvault" secret set probe 2>/dev/null
database="$UPVAULT_TEST_POSTGRES&schema=bench_putget"
"$bin/upvault" init --kdf 1:8 --vault "$database" >/dev/null 2>&1
printf 'value' | "$bin/upvault" secret set probe --vault "$database" 2>/dev/null
printf 'value' > "$work/value"
# `secret set` reads the value from stdin: measured through the shell (hyperfine subtracts its start).
hyperfine --warmup 5 --runs 60 --export-json "$work/putget.json" \
  -n "get, file" "$bin/upvault secret get probe --vault $work/file.upv" \
  -n "get, postgres" "$bin/upvault secret get probe --vault '$database'" \
  -n "put, file" "$bin/upvault secret set probe --vault $work/file.upv < $work/value" \
  -n "put, postgres" "$bin/upvault secret set probe --vault '$database' < $work/value" >/dev/null 2>&1
python3 - "$work/putget.json" <<'EOF' > "$work/putget.txt"
import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    print("%s|%.1f ms ± %.1f" % (result["command"], result["mean"] * 1000, result["stddev"] * 1000))
EOF
while IFS='|' read -r name value; do row "\`secret ${name%%,*}\` (whole command), ${name#*, }" "$value" "Argon2id 1 pass, 8 MiB"; done < "$work/putget.txt"

# The same through the agent (`upvault unlock`), as scripts call it: one agent per vault, on its own socket,
# the vault named by UPVAULT_PATH.
file_agent="UPVAULT_AGENT_SOCK=$work/file-agent/agent.sock UPVAULT_PATH=$work/file.upv"
db_agent="UPVAULT_AGENT_SOCK=$work/db-agent/agent.sock UPVAULT_PATH='$database'"
env UPVAULT_AGENT_SOCK="$work/file-agent/agent.sock" "$bin/upvault" unlock --vault "$work/file.upv" 2>/dev/null
env UPVAULT_AGENT_SOCK="$work/db-agent/agent.sock" "$bin/upvault" unlock --vault "$database" 2>/dev/null
hyperfine --warmup 5 --runs 60 --export-json "$work/agent.json" \
  -n "get, file" "$file_agent $bin/upvault secret get probe" \
  -n "get, postgres" "$db_agent $bin/upvault secret get probe" \
  -n "put, file" "$file_agent $bin/upvault secret set probe < $work/value" \
  -n "put, postgres" "$db_agent $bin/upvault secret set probe < $work/value" >/dev/null 2>&1
env UPVAULT_AGENT_SOCK="$work/file-agent/agent.sock" "$bin/upvault" lock --vault "$work/file.upv" 2>/dev/null
env UPVAULT_AGENT_SOCK="$work/db-agent/agent.sock" "$bin/upvault" lock --vault "$database" 2>/dev/null
python3 - "$work/agent.json" <<'EOF' > "$work/agent.txt"
import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    print("%s|%.1f ms ± %.1f" % (result["command"], result["mean"] * 1000, result["stddev"] * 1000))
EOF
while IFS='|' read -r name value; do row "\`secret ${name%%,*}\` through the agent, ${name#*, }" "$value" "after \`upvault unlock\`"; done < "$work/agent.txt"

echo
echo "| what | measured | notes |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
