#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for upvault's tests, benchmarks and demo, from Debian's server
# (installed by scripts/setup.sh).
#
#   eval "$(scripts/postgres.sh start)"   # creates and starts a cluster; prints the environment to use
#   scripts/postgres.sh stop "$UPVAULT_TEST_POSTGRES_DIR"   # stops it and removes every file of it
#
# The cluster lives in a new temporary directory, listens on a Unix socket in that directory only (no
# TCP port, nothing another user on the machine can reach), and runs as the invoking user, or as the
# unprivileged `postgres` user when invoked as root (initdb refuses root; CI runs as root). It has one
# role, `upvault`, with a random password kept in a 0600 passfile: the tests connect the way a user
# should, with libpq's PGPASSFILE, never a password on a command line.
set -euo pipefail

bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        echo "postgres.sh: no PostgreSQL server found; run scripts/setup.sh" >&2
        exit 1
    fi
    echo "$dir"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local bin dir
    bin="$(bindir)"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/upvault-pg.XXXXXX")"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    chmod 0700 "$dir"
    local superpass userpass
    superpass="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    userpass="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    (
        umask 077
        printf '%s\n' "$superpass" > "$dir/superpass"
    )
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/superpass"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/superpass" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=on -c max_connections=200" \
        start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    (
        umask 077
        printf '%s:*:*:postgres:%s\n%s:*:*:upvault:%s\n' "$dir" "$superpass" "$dir" "$userpass" > "$dir/pgpass"
    )
    PGPASSFILE="$dir/pgpass" "$bin/psql" -X -q -h "$dir" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE upvault LOGIN PASSWORD '$userpass'" \
        -c "CREATE DATABASE upvault OWNER upvault" >/dev/null
    rm -f "$dir/superpass"
    cat <<EOF
export UPVAULT_TEST_POSTGRES_DIR='$dir'
export UPVAULT_TEST_POSTGRES='postgres://upvault@/upvault?host=$dir'
export PGPASSFILE='$dir/pgpass'
EOF
}

stop() {
    local dir="${1:?usage: postgres.sh stop DIRECTORY}"
    case "$dir" in
    */upvault-pg.*) ;;
    *)
        echo "postgres.sh: $dir is not a cluster this script made" >&2
        exit 1
        ;;
    esac
    if [ -d "$dir/data" ]; then as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true; fi
    rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*)
    echo "usage: postgres.sh start | stop DIRECTORY" >&2
    exit 2
    ;;
esac
