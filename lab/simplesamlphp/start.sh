#!/usr/bin/env bash
# SimpleSAMLphp 1.19 (Debian) in the foreground: a private Apache (prefork + mod_php) serving Debian's
# /usr/share/simplesamlphp/www and the lab's three-page app (login, whoami, logout).
set -euo pipefail
RUN="$LAB_RUN_DIR"
rm -rf "$RUN/config" "$RUN/run" "$RUN/log" "$RUN/data" "$RUN/tmp" "$RUN/sessions" "$RUN/app"
mkdir -p "$RUN/config" "$RUN/run" "$RUN/log" "$RUN/data" "$RUN/tmp" "$RUN/sessions" "$RUN/app"
bash "$LAB_REPO/lab/tls.sh" "$LAB_DIR/.tls"
[ -f "$LAB_DIR/.tls/salt" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$LAB_DIR/.tls/salt"
SALT=$(cat "$LAB_DIR/.tls/salt")
subst() { sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$LAB_PORT|g" -e "s|@TLS@|$LAB_DIR/.tls|g" -e "s|@SALT@|$SALT|g" \
  -e "s|@IDP_ENTITY@|$LAB_IDP_ENTITY_ID|g" -e "s|@IDP_METADATA@|$LAB_IDP_METADATA|g" "$1"; }
subst "$LAB_DIR/config.php.in" > "$RUN/config/config.php"
subst "$LAB_DIR/authsources.php.in" > "$RUN/config/authsources.php"
subst "$LAB_DIR/apache.conf.in" > "$RUN/apache.conf"
cp "$LAB_DIR"/app/*.php "$RUN/app/"
cp "$LAB_IDP_METADATA" "$RUN/config/idp-metadata.xml"
chmod -R a+rX "$RUN" "$LAB_DIR/.tls"
chown -R www-data:www-data "$RUN/log" "$RUN/data" "$RUN/tmp" "$RUN/sessions"
export SIMPLESAMLPHP_CONFIG_DIR="$RUN/config"
exec apache2 -f "$RUN/apache.conf" -DFOREGROUND
