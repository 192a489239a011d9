#!/usr/bin/env bash
# ruby-saml from Debian (pinned upstream version), served by rackup + WEBrick from Debian. Idempotent.
set -euo pipefail
. "$LAB_REPO/lab/apt.sh"
apt_need ruby-saml 1.13.0 ruby-rack 2.2. ruby-webrick 1.8.
