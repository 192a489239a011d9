#!/usr/bin/env bash
# Install a Python twin: a venv of its own under the lab's run dir, with exactly the pinned
# distributions of the twin's requirements.txt (no resolver: --no-deps). Idempotent: a stamp
# named after the requirements' hash skips the work when nothing changed.
set -euo pipefail
req="$LAB_DIR/requirements.txt"
venv="$LAB_RUN_DIR/venv"
stamp="$venv/.installed-$(sha256sum "$req" | cut -c1-16)"
[ -f "$stamp" ] && { echo "already installed: $(grep -i '^pysaml2\|^python3-saml' "$req")"; exit 0; }
command -v xmlsec1 >/dev/null || { apt-get update -qq && apt-get install -y -qq xmlsec1; }
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$req"
touch "$stamp"
echo "installed: $(grep -i '^pysaml2\|^python3-saml' "$req")"
