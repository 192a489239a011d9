#!/usr/bin/env bash
# Shibboleth SP 3 (Debian) in the foreground: shibd and a private Apache with mod_shib, both in this
# process group (the lab stops the group). Config: Debian's defaults + the documented per-deployment
# steps (configure.py), keys from shib-keygen, TLS from a lab CA (lab/shibboleth/.tls, made once).
set -euo pipefail
RUN="$LAB_RUN_DIR"
BASE="https://127.0.0.1:$LAB_PORT"
# shibd resolves relative paths under $SHIBSP_<X>DIR/shibboleth, as it does under /etc, /run, ...
rm -rf "$RUN/etc" "$RUN/run" "$RUN/cache" "$RUN/log" "$RUN/www"
mkdir -p "$RUN/etc/shibboleth" "$RUN/run/shibboleth" "$RUN/cache/shibboleth" "$RUN/log/shibboleth" "$RUN/www"
ETC="$RUN/etc/shibboleth"
bash "$LAB_REPO/lab/tls.sh" "$LAB_DIR/.tls"
"$LAB_PYTHON" "$LAB_DIR/configure.py" /etc/shibboleth "$ETC" "$BASE/shibboleth" \
  "$LAB_IDP_ENTITY_ID" "$LAB_IDP_METADATA"
# The SP's signing and encryption keys, as shib-keygen makes them for a new deployment (kept across
# runs so the SP's metadata stays the same).
mkdir -p "$LAB_DIR/.keys"
for use in signing encrypt; do
  [ -f "$LAB_DIR/.keys/sp-$use-key.pem" ] || shib-keygen -o "$LAB_DIR/.keys" -n "sp-$use" -h 127.0.0.1 -y 10 \
    -e "$BASE/shibboleth" -u root -g root >/dev/null 2>&1
  cp "$LAB_DIR/.keys/sp-$use-key.pem" "$LAB_DIR/.keys/sp-$use-cert.pem" "$ETC/"
done
cp "$LAB_DIR/whoami.cgi" "$RUN/www/whoami.cgi"
sed -e "s|@RUN@|$RUN|g" -e "s|@PORT@|$LAB_PORT|g" -e "s|@TLS@|$LAB_DIR/.tls|g" \
  "$LAB_DIR/apache.conf.in" > "$RUN/apache.conf"
chmod -R a+rX "$RUN" "$LAB_DIR/.tls"
export SHIBSP_CONFIG="$ETC/shibboleth2.xml" SHIBSP_CFGDIR="$RUN/etc" SHIBSP_RUNDIR="$RUN/run" \
  SHIBSP_CACHEDIR="$RUN/cache" SHIBSP_LOGDIR="$RUN/log" SHIBSP_LOGGING="$ETC/console.logger"
# Debian's shibd.service restarts shibd when it fails (Restart=on-failure, RestartSec=30s); so does
# the lab, after 1 s and at most 20 times (a crash is then one refused login, not a dead target).
(
  for i in $(seq 1 20); do
    shibd -F -f -c "$ETC/shibboleth2.xml" -p "$RUN/run/shibboleth/shibd.pid" -w 30 && break
    echo "lab: shibd exited with status $? (restart $i of 20, as Debian's Restart=on-failure)" >&2
    sleep 1
  done
) &
# Wait for shibd's socket so the first request does not race it (bounded: 30 s).
for _ in $(seq 1 300); do [ -S "$RUN/run/shibboleth/shibd.sock" ] && break; sleep 0.1; done
exec apache2 -f "$RUN/apache.conf" -DFOREGROUND
