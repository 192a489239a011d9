#!/usr/bin/env bash
# A lab CA and a server certificate for 127.0.0.1 in DIR (made once): DIR/ca.pem (the target file's
# ca_file), DIR/server.pem + DIR/server.key (the server's). Loopback only; never trusted elsewhere.
set -euo pipefail
dir="$1"
[ -f "$dir/server.pem" ] && [ -f "$dir/ca.pem" ] && exit 0
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=samlconf lab CA" \
  -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile ext.cnf \
  -out server.pem >/dev/null 2>&1
rm -f server.csr ext.cnf ca.srl
