#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build upvault: libsodium's headers and pkg-config.
set -euo pipefail
if pkg-config --exists libsodium 2>/dev/null; then exit 0; fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libsodium-dev pkg-config >/dev/null
