#!/usr/bin/env bash
# ruby-saml behind the lab's Rack app (config.ru), WEBrick on a loopback port, in the foreground.
set -euo pipefail
mkdir -p "$LAB_RUN_DIR"
[ -f "$LAB_RUN_DIR/session-secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n/+=' > "$LAB_RUN_DIR/session-secret"
export LAB_SESSION_SECRET=$(cat "$LAB_RUN_DIR/session-secret")
exec rackup -s webrick -o 127.0.0.1 -p "$LAB_PORT" -E deployment "$LAB_DIR/config.ru"
