#!/usr/bin/env bash
# Unit: the deployment files pass script/check-compose (Compose schema,
# services, images, ports, config files, Dockerfile vs script/bootstrap,
# Prometheus targets and alert metrics), and check-compose catches each kind
# of mistake in a broken copy of compose.yaml. Needs no Docker engine and
# no services. Prints "N passed, M failed".
set -uo pipefail
ROOT=${CKS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
CHECK="$ROOT/script/check-compose"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
ko() { fail=$((fail + 1)); echo "not ok - $*"; }

if "$CHECK" >"$TMP/out" 2>&1; then ok "compose.yaml and deploy/ pass: $(cat "$TMP/out")"
else ko "check-compose on the real files"; sed 's/^/    /' "$TMP/out"; fi

# broken NAME PYTHON EXPECTED: apply PYTHON to the parsed compose.yaml (as
# d), write it beside links to deploy/ and the Dockerfile, expect EXPECTED.
ln -s "$ROOT/deploy" "$TMP/deploy"
ln -s "$ROOT/Dockerfile" "$TMP/Dockerfile"
broken() {
	/usr/bin/python3 - "$ROOT/compose.yaml" "$TMP/compose.yaml" "$2" <<'PY' || { ko "$1: could not write the copy"; return; }
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
s = d["services"]
exec(sys.argv[3])
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
	if "$CHECK" "$TMP/compose.yaml" >"$TMP/out" 2>&1; then
		ko "$1: accepted"
	elif grep -q -- "$3" "$TMP/out"; then
		ok "$1: refused ($3)"
	else
		ko "$1: refused, but not with '$3'"; sed 's/^/    /' "$TMP/out"
	fi
}
broken "unknown dependency" 's["consumer-b"]["depends_on"]["kafak"] = {"condition": "service_healthy"}' \
	"depends on unknown service kafak"
broken "dependency hidden behind a profile" 's["consumer-b"]["depends_on"]["producer-b"] = {"condition": "service_started"}' \
	"only runs with profile chain"
broken "image not pinned" 's["postgres-a"]["image"] = "postgres"' "not pinned"
broken "Kafka version drift" 's["kafka"]["image"] = "apache/kafka:3.7.0"' "but the tests run Kafka"
broken "PostgreSQL major drift" 's["postgres-b"]["image"] = "postgres:16-bookworm"' "bootstrap installs PostgreSQL 15"
broken "missing config file" 'd["configs"]["consumer-b"]["file"] = "./deploy/nope.conf"' "does not exist"
broken "undeclared config" 's["consumer-b"]["configs"][0]["source"] = "nope"' "undeclared config nope"
broken "undeclared volume" 's["postgres-a"]["volumes"] = ["pg-z:/var/lib/postgresql/data"]' "undeclared volume pg-z"
broken "schema violation" 's["kafka"]["healthcheck"]["retries"] = "many"' "schema:"
broken "unknown service key" 's["kafka"]["imagee"] = "x"' "schema:"
broken "metrics port not published" 's["producer-a"]["ports"] = ["9401:9999"]' "metrics-port 9400 is not published"
broken "health check elsewhere" 's["consumer-b"]["healthcheck"]["test"] = ["CMD", "true"]' "does not ask :9400/healthz"
broken "host port twice" 's["consumer-b"]["ports"] = ["9401:9400"]' "host port 9401 published by both"
broken "Kafka port it does not listen on" 's["kafka"]["ports"] = ["9092:9999"]' "Kafka listens on"
broken "unknown build target" 's["producer-a"]["build"]["target"] = "nope"' "is not a stage of"

# A config file with a setting the table does not know, or of the other role.
printf 'brokers = k:9092\nmetrics-port = 9400\norigin = A\nfrobnicate = 1\n' >"$TMP/producer-x.conf"
/usr/bin/python3 - "$ROOT/compose.yaml" "$TMP/compose.yaml" "$TMP/producer-x.conf" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["configs"]["producer-a"]["file"] = sys.argv[3]
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
"$CHECK" "$TMP/compose.yaml" >"$TMP/out" 2>&1
grep -q "unknown setting 'frobnicate'" "$TMP/out" && ok "unknown setting refused" || ko "unknown setting: $(cat "$TMP/out")"
grep -q "setting 'origin' does not apply to ckansync-producer" "$TMP/out" && ok "consumer setting in a producer file refused" || ko "role check: $(cat "$TMP/out")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
