#!/usr/bin/env bash
# SimpleSAMLphp from Debian (pinned upstream version) under a private Apache with mod_php. Idempotent.
set -euo pipefail
. "$LAB_REPO/lab/apt.sh"
# php8.2-xml / -mbstring: SimpleSAMLphp needs ext-dom and ext-mbstring, which the Debian package does not pull in
apt_need simplesamlphp 1.19.7 apache2-bin 2.4. libapache2-mod-php8.2 8.2. php8.2-xml 8.2. php8.2-mbstring 8.2. openssl 3.
