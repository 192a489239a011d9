#!/usr/bin/env bash
# Shibboleth SP 3 from Debian (pinned upstream versions), with a private Apache. Idempotent.
set -euo pipefail
. "$LAB_REPO/lab/apt.sh"
apt_need apache2-bin 2.4. libapache2-mod-shib 3.4.1 shibboleth-sp-utils 3.4.1 openssl 3.
