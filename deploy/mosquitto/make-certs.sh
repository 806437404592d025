#!/usr/bin/env bash
# make-certs.sh DIR NAME [IP...]: a private CA and a server certificate for the box's broker.
#
#   sudo deploy/mosquitto/make-certs.sh /etc/mosquitto/certs casting-01 192.168.1.20
#
# Writes DIR/ca.pem + ca.key (the CA: 10 years; keep ca.key off the box if you can) and
# DIR/server.pem + server.key (2 years) for NAME, NAME.local and each IP (what clients type to
# reach the box: the certificate must name it, or TLS clients refuse it). EC P-256 keys.
# An existing CA is reused, so clients that trust ca.pem keep working when the server
# certificate is renewed (run it again after deleting server.pem).
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
dir="$1" name="$2"
shift 2
san="DNS:$name,DNS:$name.local"
for ip in "$@"; do san="$san,IP:$ip"; done

mkdir -p "$dir"
cd "$dir"
umask 077
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
if [ ! -f ca.pem ]; then
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 3650 -subj "/CN=Gerbang CA $name" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
    echo "made CA $dir/ca.pem (give it to MQTT clients; keep ca.key safe)"
fi
if [ ! -f server.pem ]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >server.ext
    openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=$name" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 730 \
        -extfile server.ext -out server.pem 2>/dev/null
    rm -f server.csr server.ext
    echo "made $dir/server.pem for $san"
fi
chmod 644 ca.pem server.pem
