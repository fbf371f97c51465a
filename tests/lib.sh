# tests/lib.sh — helpers for the shell tests (sourced, not run).
# Needs CKANSYNC_PG, CKANSYNC_BROKERS (script/services) and CKS_BUILD_DIR.
set -uo pipefail

: "${CKS_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${CKS_BUILD_DIR:=$CKS_SOURCE_DIR/build}"
CKS="$CKS_BUILD_DIR/ckansync"
PRODUCER="$CKS_BUILD_DIR/ckansync-producer"
CONSUMER="$CKS_BUILD_DIR/ckansync-consumer"
T_PASSED=0
T_FAILED=0
T_TMP=$(mktemp -d /tmp/cks-test.XXXXXX)
T_PIDS=()
# script/test --valgrind: run the programs under $CKS_VALGRIND (a memcheck
# command line), through wrappers, so every test runs unchanged.
if [ -n "${CKS_VALGRIND:-}" ]; then
	for _b in ckansync ckansync-producer ckansync-consumer; do
		printf '#!/bin/sh\nexec %s %s "$@"\n' "$CKS_VALGRIND" "$CKS_BUILD_DIR/$_b" >"$T_TMP/vg-$_b"
		chmod +x "$T_TMP/vg-$_b"
	done
	CKS="$T_TMP/vg-ckansync" PRODUCER="$T_TMP/vg-ckansync-producer" CONSUMER="$T_TMP/vg-ckansync-consumer"
fi

t_cleanup() {
	local p
	for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
	rm -rf "$T_TMP"
}
trap t_cleanup EXIT

t_require_services() {
	if [ -z "${CKANSYNC_PG:-}" ] || [ -z "${CKANSYNC_BROKERS:-}" ]; then
		echo "CKANSYNC_PG/CKANSYNC_BROKERS not set: run under script/test" >&2
		[ "${CI:-}" = true ] && exit 1
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
}

# t_new_db NAME_HINT → prints a conninfo for a new empty database
t_new_db() {
	local name="cks_${1}_$$_${RANDOM}${RANDOM}"
	psql -X -q "$CKANSYNC_PG dbname=postgres" -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE \"$name\"" >/dev/null || return 1
	echo "$CKANSYNC_PG dbname=$name"
}

t_prefix() { echo "t$$_${RANDOM}${RANDOM}"; }

# Real data if present, else the project's own samples.
t_datasets() {
	local real="$CKS_SOURCE_DIR/../shared/data/depositar-datasets.jsonl.gz"
	if [ -f "$real" ]; then gzip -dc "$real" | head -n "${1:-20}"
	else
		echo "note: ../shared/data absent, using tests/data/sample-datasets.jsonl" >&2
		head -n "${1:-20}" "$CKS_SOURCE_DIR/tests/data/sample-datasets.jsonl"
	fi
}

ok() { T_PASSED=$((T_PASSED + 1)); echo "ok - $*"; }
not_ok() { T_FAILED=$((T_FAILED + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: passes if the command exits 0
check() {
	local d="$1"; shift
	if "$@" >"$T_TMP/out" 2>&1; then ok "$d"; else not_ok "$d"; sed 's/^/    /' "$T_TMP/out" | tail -20; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected [$2], got [$3]"; fi
}

# check_ne DESCRIPTION A B
check_ne() {
	if [ "$2" != "$3" ]; then ok "$1"; else not_ok "$1: both are [$2]"; fi
}

t_sql() { psql -X -qAt "$1" -v ON_ERROR_STOP=1 -c "$2"; }

# Runs the producer once (publish everything pending, wait for acks).
t_publish() { # DB PREFIX [extra args]
	local db="$1" prefix="$2"; shift 2
	timeout 120 "$PRODUCER" --db "$db" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$prefix" \
		--once --partitions 2 "$@" 2>>"$T_TMP/producer.log"
}

# Runs the consumer until every partition is applied to its end.
t_sync() { # DB PREFIX ORIGIN... [-- extra args]
	local db="$1" prefix="$2"; shift 2
	local args=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=(--origin "$1"); shift; done
	[ "${1:-}" = "--" ] && shift
	timeout 180 "$CONSUMER" --db "$db" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$prefix" \
		"${args[@]}" --until-idle --partitions 2 "$@" 2>>"$T_TMP/consumer.log"
}

t_summary() {
	echo "$T_PASSED passed, $T_FAILED failed"
	if [ "$T_FAILED" -gt 0 ]; then
		echo "--- producer log (tail)"; tail -20 "$T_TMP/producer.log" 2>/dev/null
		echo "--- consumer log (tail)"; tail -40 "$T_TMP/consumer.log" 2>/dev/null
		exit 1
	fi
	exit 0
}
