#!/usr/bin/env bash
# Install a Node twin: `npm ci` of the twin's package.json + package-lock.json (exact versions, from
# the npm registry) into the lab's run dir. Idempotent: a stamp named after the lockfile's hash.
set -euo pipefail
dest="$LAB_RUN_DIR/node"
stamp="$dest/.installed-$(sha256sum "$LAB_DIR/package-lock.json" | cut -c1-16)"
[ -f "$stamp" ] && { echo "already installed"; exit 0; }
command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
rm -rf "$dest"
mkdir -p "$dest"
cp "$LAB_DIR/package.json" "$LAB_DIR/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error)
touch "$stamp"
echo "installed: $(cd "$dest" && npm ls --depth=0 2>/dev/null | tail -n +2)"
