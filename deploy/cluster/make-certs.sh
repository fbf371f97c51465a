#!/bin/sh
# make-certs.sh — a private CA and one TLS certificate per broker for the
# 3-broker cluster of compose.yaml beside this file (docs/scaling.md), as
# PEM files in ./secrets: ca.pem (clients and brokers trust it), and for
# each broker kafka-N.pem (its PKCS#8 key, encrypted with $TLS_KEY_PASSWORD,
# then its certificate). Use your own PKI in production; this is for trying
# the set-up. Needs openssl. Safe to re-run: existing files are kept.
set -eu
cd "$(dirname "$0")"
: "${TLS_KEY_PASSWORD:?set TLS_KEY_PASSWORD (also in .env for compose)}"
mkdir -p secrets
umask 077
if [ ! -f secrets/ca.pem ]; then
	openssl req -x509 -newkey rsa:3072 -days 825 -nodes -subj "/CN=ckansync-cluster-ca" \
		-keyout secrets/ca.key -out secrets/ca.pem
fi
for n in 1 2 3; do
	host=kafka-$n
	[ -f "secrets/$host.pem" ] && continue
	openssl req -newkey rsa:3072 -nodes -subj "/CN=$host" -keyout "secrets/$host.key" \
		-out "secrets/$host.csr"
	printf 'subjectAltName=DNS:%s,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
		"$host" >"secrets/$host.ext"
	openssl x509 -req -in "secrets/$host.csr" -CA secrets/ca.pem -CAkey secrets/ca.key \
		-CAcreateserial -days 825 -extfile "secrets/$host.ext" -out "secrets/$host.crt"
	openssl pkcs8 -topk8 -v2 aes-256-cbc -passout env:TLS_KEY_PASSWORD \
		-in "secrets/$host.key" -out "secrets/$host.p8"
	cat "secrets/$host.p8" "secrets/$host.crt" >"secrets/$host.pem"
	rm -f "secrets/$host.key" "secrets/$host.csr" "secrets/$host.ext" "secrets/$host.p8"
done
chmod 644 secrets/*.pem # read by the broker user in the containers
echo "secrets/: ca.pem kafka-1.pem kafka-2.pem kafka-3.pem" >&2
