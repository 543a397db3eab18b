#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test upvault: libsodium's headers and
# pkg-config (to build), and Debian's PostgreSQL server (for the PostgreSQL store's tests, which run on a
# throw-away cluster: scripts/postgres.sh).
set -euo pipefail
missing=()
pkg-config --exists libsodium 2>/dev/null || missing+=(libsodium-dev pkg-config)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
