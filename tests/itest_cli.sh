#!/bin/sh
# Integration: every `ckansync` command's happy path, --help, --version and
# a usage error, on a database of its own on $CKANSYNC_PG. Binaries from
# $CKS_BUILD_DIR. Prints "N passed, M failed"; exits 1 if any failed.
set -u
BIN="${CKS_BUILD_DIR:-build}/ckansync"
if [ -z "${CKANSYNC_PG:-}" ]; then
	echo "skipping: CKANSYNC_PG not set"
	exit 0
fi
DBNAME="cks_cli_$$_$(date +%s)"
psql "$CKANSYNC_PG dbname=postgres" -qAtc "CREATE DATABASE $DBNAME" >/dev/null || exit 1
DB="$CKANSYNC_PG dbname=$DBNAME"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; psql "$CKANSYNC_PG dbname=postgres" -qAtc "DROP DATABASE IF EXISTS $DBNAME" >/dev/null 2>&1' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect STATUS DESCRIPTION COMMAND...: runs it, output in $TMP/out, $TMP/err
expect() {
	want=$1; what=$2; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok; else ko "$what: exit $got, wanted $want: $(head -c 300 "$TMP/err")"; fi
}
contains() { # FILE TEXT DESCRIPTION
	if grep -q -- "$2" "$1"; then ok; else ko "$3: '$2' not in $(head -c 300 "$1")"; fi
}

# tool-level
expect 0 "--help" "$BIN" --help
contains "$TMP/out" "commands:" "--help lists commands"
expect 0 "--version" "$BIN" --version
contains "$TMP/out" "ckansync " "--version"
expect 2 "no command" "$BIN"
expect 2 "unknown command" "$BIN" frobnicate

# every command: --help, --version, a usage error
for cmd in init put import show log diff delete purge digest search "user put" status conflicts; do
	# shellcheck disable=SC2086
	expect 0 "$cmd --help" "$BIN" $cmd --help
	contains "$TMP/out" "usage: ckansync $cmd" "$cmd --help"
	# shellcheck disable=SC2086
	expect 0 "$cmd --version" "$BIN" $cmd --version
	# shellcheck disable=SC2086
	expect 2 "$cmd --no-such-option" "$BIN" $cmd --no-such-option
done
expect 2 "show without NAME" "$BIN" show --db "$DB"
expect 2 "diff with one revision" "$BIN" diff --db "$DB" x
expect 2 "init without --instance" "$BIN" init --db "$DB"

# init: idempotent, another instance refused, commands before init refused
expect 1 "show before init" "$BIN" show --db "$DB" anything
contains "$TMP/err" "not initialised" "show before init says why"
expect 0 "init" "$BIN" init --db "$DB" --instance A
expect 0 "init again" "$BIN" init --db "$DB" --instance A
expect 1 "init as another instance" "$BIN" init --db "$DB" --instance B
contains "$TMP/err" "belongs to instance 'A'" "wrong instance message"

# put from a file and from stdin; CKANSYNC_DB instead of --db
printf '{"name":"cli-pkg","title":"First","tags":[{"name":"water"}],"notes":"rivers"}' >"$TMP/p.json"
expect 0 "put FILE" "$BIN" put --db "$DB" --author alice --message "first" "$TMP/p.json"
R1=$(cat "$TMP/out")
printf '{"name":"cli-pkg","title":"Second"}' | CKANSYNC_DB="$DB" "$BIN" put - >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 0 ]; then ok; else ko "put - via CKANSYNC_DB: $(cat "$TMP/err")"; fi
printf '{"name":"cli-pkg", bad json' >"$TMP/bad.json"
expect 1 "put invalid JSON" "$BIN" put --db "$DB" "$TMP/bad.json"
contains "$TMP/err" "invalid JSON" "invalid JSON message"
printf '{"name":"Bad Name"}' >"$TMP/bad2.json"
expect 1 "put invalid name" "$BIN" put --db "$DB" "$TMP/bad2.json"
contains "$TMP/err" "name" "invalid name message"

# show, log, diff
expect 0 "show" "$BIN" show --db "$DB" cli-pkg
contains "$TMP/out" '"title": "Second"' "show pretty JSON"
expect 0 "show --compact" "$BIN" show --db "$DB" --compact cli-pkg
contains "$TMP/out" '"title":"Second"' "show compact"
expect 0 "log" "$BIN" log --db "$DB" cli-pkg --compact
O1=$(sed 's/.*"objrev_id":"\([^"]*\)".*"objrev_id":"\([^"]*\)".*/\1/' "$TMP/out")
O2=$(sed 's/.*"objrev_id":"\([^"]*\)".*"objrev_id":"\([^"]*\)".*/\2/' "$TMP/out")
contains "$TMP/out" "$R1" "log has the first revision"
expect 0 "show --revision" "$BIN" show --db "$DB" cli-pkg --revision "$O1"
contains "$TMP/out" '"title": "First"' "show --revision"
expect 0 "log --since REV" "$BIN" log --db "$DB" --since "$R1"
contains "$TMP/out" "$O2" "log --since"
expect 0 "log --since TIME" "$BIN" log --db "$DB" --since 2000-01-01T00:00:00Z
expect 0 "diff" "$BIN" diff --db "$DB" "$O1" "$O2"
contains "$TMP/out" '"Second"' "diff shows the change"
expect 1 "diff unknown revision" "$BIN" diff --db "$DB" "$O1" 00000000-0000-4000-8000-000000000000

# import
cat >"$TMP/d.jsonl" <<'EOF'
{"name":"imp-one","title":"Imported one","notes":"lake data"}

{"name":"imp-two","title":"Imported two","tags":[{"name":"lake"}]}
EOF
expect 0 "import" "$BIN" import --db "$DB" "$TMP/d.jsonl"
contains "$TMP/out" "imported 2 datasets (2 revisions)" "import summary"
printf '{"name":"imp-three"}\n{"name":"BAD"}\n{"name":"imp-four"}\n' >"$TMP/bad.jsonl"
expect 1 "import stops at a bad line" "$BIN" import --db "$DB" "$TMP/bad.jsonl"
contains "$TMP/err" "line 2:" "import names the bad line"
expect 1 "import --keep-going" "$BIN" import --db "$DB" --keep-going "$TMP/bad.jsonl"
contains "$TMP/out" "1 bad lines skipped" "import --keep-going summary"
expect 0 "imported after keep-going" "$BIN" show --db "$DB" imp-four

# search, digest
expect 0 "search" "$BIN" search --db "$DB" lake
contains "$TMP/out" "imp-two" "search finds by tag"
contains "$TMP/out" "imp-one" "search finds by notes"
expect 0 "digest" "$BIN" digest --db "$DB"
D1=$(cat "$TMP/out")
expect 0 "digest --history" "$BIN" digest --db "$DB" --history
if [ ${#D1} -eq 64 ] && [ "$D1" != "$(cat "$TMP/out")" ]; then ok; else ko "digest format"; fi

# user put, delete, purge
printf '{"name":"bob","fullname":"Bob"}' | "$BIN" user put --db "$DB" - >"$TMP/out" 2>"$TMP/err"
if [ $? -eq 0 ]; then ok; else ko "user put: $(cat "$TMP/err")"; fi
expect 0 "delete" "$BIN" delete --db "$DB" imp-one
expect 0 "show deleted" "$BIN" show --db "$DB" imp-one
contains "$TMP/out" '"state": "deleted"' "delete sets state"
expect 0 "purge" "$BIN" purge --db "$DB" imp-one
expect 1 "show purged" "$BIN" show --db "$DB" imp-one
expect 1 "purge unknown" "$BIN" purge --db "$DB" no-such-package

# status, conflicts
expect 0 "status" "$BIN" status --db "$DB"
contains "$TMP/out" "instance A" "status names the instance"
expect 0 "status --json" "$BIN" status --db "$DB" --json
expect 0 "conflicts --db" "$BIN" conflicts --db "$DB"
expect 0 "conflicts --json" "$BIN" conflicts --db "$DB" --json
contains "$TMP/out" "\[\]" "no conflicts yet"
expect 1 "conflicts --brokers, broker unreachable" "$BIN" conflicts --brokers localhost:1
contains "$TMP/err" "cannot read ckansync.conflicts from localhost:1" "conflicts --brokers says which topic and broker"
expect 1 "conflicts --follow needs --brokers" "$BIN" conflicts --db "$DB" --follow
contains "$TMP/err" "give --brokers" "conflicts --follow says so"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
