#!/usr/bin/env bash
# Security, end to end on a private broker with a SASL_SSL listener
# (CKANSYNC_SASL_SSL=1 script/services start: SCRAM-SHA-512, TLS with a CA
# made at start):
#  - producer and consumer talk TLS + SASL/SCRAM through kafka.* settings in
#    a config file; a wrong password stops them with a clear error, a missing
#    CA is reported as a certificate problem, plaintext is refused;
#  - secrets (Kafka password, PostgreSQL password) never appear in logs (even
#    at debug level, librdkafka's too), --help or error messages;
#  - a config file holding secrets that others can read gets a warning;
#  - names, notes, extras and authors full of quotes, backslashes, SQL and
#    shell are stored and replicated exactly, and nothing ever runs them;
#    every SQL statement in the code is a literal (values are parameters);
#  - private packages are never published unless publish.private is set.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_rel.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

SVC=$(mktemp -d /tmp/cks-sec.XXXXXX)
svc() { CKANSYNC_SERVICES_DIR=$SVC "$ROOT/script/services" "$@"; }
sec_cleanup() {
	t_cleanup
	svc stop >/dev/null 2>&1
}
trap sec_cleanup EXIT
eval "$(CKANSYNC_SASL_SSL=1 svc start 2>/dev/null)" || { echo "cannot start private services"; exit 1; }
[ -n "${CKANSYNC_SASL_BROKERS:-}" ] || { echo "no SASL_SSL listener"; exit 1; }
echo "# private broker: PLAINTEXT $CKANSYNC_BROKERS, SASL_SSL $CKANSYNC_SASL_BROKERS"

DBPW="pg-secret-$RANDOM$RANDOM" # in the conninfo: the test cluster trusts, libpq keeps it
A="$(t_new_db seca) password=$DBPW" && B="$(t_new_db secb) password=$DBPW" &&
	A2="$(t_new_db secc) password=$DBPW" && B2="$(t_new_db secd) password=$DBPW" || exit 1
P=$(t_prefix)
MARK="$T_TMP/executed" # created only if something runs a record's text
OUT="$T_TMP/all-output" # everything the programs print, checked for secrets
: >"$OUT"

# sec_conf FILE ROLE DB [PASSWORD] [more lines]: a config file for SASL_SSL
sec_conf() {
	local f=$1 db=$3 pw=${4:-$CKANSYNC_SASL_PASSWORD}
	shift 4 2>/dev/null || shift $#
	{
		echo "# ckansync test config"
		echo "db = $db"
		echo "brokers = $CKANSYNC_SASL_BROKERS"
		echo "kafka.security.protocol = SASL_SSL"
		echo "kafka.sasl.mechanisms = SCRAM-SHA-512"
		echo "kafka.sasl.username = $CKANSYNC_SASL_USER"
		echo "kafka.sasl.password = $pw"
		echo "kafka.ssl.ca.location = $CKANSYNC_SASL_CA"
		for l in "$@"; do echo "$l"; done
	} >"$f"
	chmod 600 "$f"
}
run() { # DESCRIPTION EXPECTED_STATUS COMMAND...: runs, keeps output in $OUT
	local d=$1 want=$2 rc; shift 2
	"$@" >"$T_TMP/run.out" 2>&1
	rc=$?
	cat "$T_TMP/run.out" >>"$OUT"
	if [ "$want" = any ] || [ "$rc" = "$want" ]; then ok "$d"; else
		not_ok "$d: exit status $rc, want $want"
		tail -5 "$T_TMP/run.out" | cut -c1-300 | sed 's/^/    /'
	fi
}

"$CKS" init --db "$A" --instance A >/dev/null && "$CKS" init --db "$B" --instance B >/dev/null &&
	"$CKS" init --db "$A2" --instance A >/dev/null && "$CKS" init --db "$B2" --instance B >/dev/null || exit 1

# --- data: hostile text, private packages ---------------------------------
$RELTOOL hostile "$MARK" >"$T_TMP/hostile.jsonl"
check "names and notes full of quotes, backslashes, SQL and shell are stored" \
	"$CKS" import --db "$A" --author "O'Reilly \\ \"; DROP TABLE ckansync.revision; --" \
	--message "\$(touch $MARK) %s %n \\' \$\$" "$T_TMP/hostile.jsonl"
n_hostile=$(wc -l <"$T_TMP/hostile.jsonl")
for f in secret-plans going-private; do
	printf '{"name":"%s","title":"TOP-SECRET-MARKER %s","private":true}\n' "$f" "$f"
done >"$T_TMP/private.jsonl"
printf '{"name":"going-private","title":"public for now"}\n' >"$T_TMP/public.jsonl"
check "a public package" "$CKS" import --db "$A" "$T_TMP/public.jsonl"
check "private packages (one was public before)" "$CKS" import --db "$A" "$T_TMP/private.jsonl"

# --- TLS + SASL/SCRAM through kafka.* ---------------------------------------
sec_conf "$T_TMP/producer.conf" p "$A" "$CKANSYNC_SASL_PASSWORD" "kafka.debug = security,broker,conf,protocol"
sec_conf "$T_TMP/consumer.conf" c "$B" "$CKANSYNC_SASL_PASSWORD"
run "producer publishes over SASL_SSL (SCRAM-SHA-512, TLS), debug logs on" 0 \
	timeout 120 "$PRODUCER" --config "$T_TMP/producer.conf" --topic-prefix "$P" --once --log-level debug
run "consumer follows over SASL_SSL (JSON logs)" 0 \
	timeout 300 "$CONSUMER" --config "$T_TMP/consumer.conf" --topic-prefix "$P" --origin A --until-idle \
	--log-format json
# The admin commands that read Kafka take kafka.* from $CKANSYNC_CONFIG.
CKANSYNC_CONFIG="$T_TMP/consumer.conf" run "status --brokers over SASL_SSL" 0 \
	timeout 60 "$CKS" status --db "$B" --brokers "$CKANSYNC_SASL_BROKERS" --topic-prefix "$P" --json
check_eq "... reads the end offsets: lag 0" 0 "$(python3 -c '
import json, sys
st = json.load(open(sys.argv[1]))
parts = [p for o in st["origins"] for p in o["partitions"]]
print(-1 if not parts or any("end_offset" not in p for p in parts) else sum(p["lag"] for p in parts))' \
	"$T_TMP/run.out" 2>&1)"
CKANSYNC_CONFIG="$T_TMP/consumer.conf" run "conflicts --brokers over SASL_SSL" 0 \
	timeout 60 "$CKS" conflicts --brokers "$CKANSYNC_SASL_BROKERS" --topic-prefix "$P"
run "conflicts --brokers without the SASL settings fails" 1 \
	env -u CKANSYNC_CONFIG timeout 60 "$CKS" conflicts --brokers "$CKANSYNC_SASL_BROKERS" \
	--topic-prefix "$P"
for i in $(seq 0 $((n_hostile - 1))); do
	check_eq "hostile-$i replicated byte for byte" "$("$CKS" show --db "$A" "hostile-$i")" \
		"$("$CKS" show --db "$B" "hostile-$i")"
done
check_eq "hostile authors and messages replicated byte for byte" \
	"$("$CKS" log --db "$A" hostile-0 --compact | python3 -c 'import json,sys; print([(r["author"], r["message"]) for r in json.load(sys.stdin)])')" \
	"$("$CKS" log --db "$B" hostile-0 --compact | python3 -c 'import json,sys; print([(r["author"], r["message"]) for r in json.load(sys.stdin)])')"
check_eq "every revision but the 2 private ones replicated (no table dropped)" \
	"$(($(rel_revisions "$A") - 2))" "$(rel_revisions "$B")"
check "nothing a record says was executed" test ! -e "$MARK"
check "no system/popen/exec/fork in the daemons and library" \
	sh -c "! grep -nE '\\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|fork|vfork|posix_spawn|dlopen)\\(' $ROOT/common/*.c $ROOT/producer/*.c $ROOT/consumer/*.c"
check "every SQL statement in the code is a literal (values are parameters)" $RELTOOL sql-audit "$ROOT"
sed 's/^/# /' "$T_TMP/out"

# --- private packages -------------------------------------------------------
kcat_sasl() {
	kcat -b "$CKANSYNC_SASL_BROKERS" -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 \
		-X sasl.username="$CKANSYNC_SASL_USER" -X sasl.password="$CKANSYNC_SASL_PASSWORD" \
		-X ssl.ca.location="$CKANSYNC_SASL_CA" "$@"
}
kcat_sasl -C -t "$P.A.revisions" -e -q -f '%s\n' >"$T_TMP/payloads" 2>/dev/null
check_eq "private packages never reach the topic" 0 "$(grep -c TOP-SECRET-MARKER "$T_TMP/payloads")"
check_eq "the mirror has no private package" "" "$("$CKS" show --db "$B" secret-plans 2>/dev/null)"
check_eq "a package made private keeps its last public state on the mirror" '"public for now"' \
	"$("$CKS" show --db "$B" going-private | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["title"]))')"
"$CKS" import --db "$A2" "$T_TMP/private.jsonl" >/dev/null
sec_conf "$T_TMP/producer2.conf" p "$A2" "$CKANSYNC_SASL_PASSWORD" "publish.private = true"
run "publish.private = true publishes them" 0 \
	timeout 120 "$PRODUCER" --config "$T_TMP/producer2.conf" --topic-prefix "${P}p" --once
kcat_sasl -C -t "${P}p.A.revisions" -e -q -f '%s\n' >"$T_TMP/payloads2" 2>/dev/null
check "... and only then" grep -q TOP-SECRET-MARKER "$T_TMP/payloads2"

# --- wrong credentials, no CA, plaintext ------------------------------------
sec_conf "$T_TMP/bad.conf" p "$A" "wrong-$DBPW"
run "a wrong Kafka password stops the producer (exit 1)" 1 \
	timeout 120 "$PRODUCER" --config "$T_TMP/bad.conf" --topic-prefix "$P" --once
check "... saying that authentication failed" grep -q "authentication failed" "$T_TMP/run.out"
sec_conf "$T_TMP/badc.conf" c "$B2" "wrong-$DBPW"
run "a wrong Kafka password stops the consumer (exit 1)" 1 \
	timeout 120 "$CONSUMER" --config "$T_TMP/badc.conf" --topic-prefix "$P" --origin A --until-idle
check "... saying that authentication failed" grep -q "authentication failed" "$T_TMP/run.out"
grep -v ssl.ca.location "$T_TMP/producer.conf" >"$T_TMP/noca.conf"
chmod 600 "$T_TMP/noca.conf"
run "without the CA the broker's certificate is not trusted" 124 \
	timeout 15 "$PRODUCER" --config "$T_TMP/noca.conf" --topic-prefix "$P" --once
check "... and the log says so" grep -q "certificate verify failed" "$T_TMP/run.out"
run "plaintext to the SASL_SSL listener goes nowhere" 124 \
	timeout 15 "$PRODUCER" --db "$A" --brokers "$CKANSYNC_SASL_BROKERS" --topic-prefix "$P" --once
check "... and the log hints at security.protocol" grep -q "security.protocol" "$T_TMP/run.out"

# --- secrets never in logs, --help or errors --------------------------------
run "producer --help (after a config file with secrets)" 0 "$PRODUCER" --config "$T_TMP/producer.conf" --help
run "consumer --help" 0 "$CONSUMER" --config "$T_TMP/consumer.conf" --help
run "ckansync --help" 0 "$CKS" --help
run "PostgreSQL unreachable: the error names the server, not the password" 1 \
	timeout 30 "$PRODUCER" --db "host=127.0.0.1 port=1 dbname=x user=u password=$DBPW" \
	--brokers "$CKANSYNC_BROKERS" --once
run "ckansync status with a password in --db" 1 "$CKS" status --db "host=127.0.0.1 port=1 password=$DBPW"
run "a config error on a secret's line" 2 "$CONSUMER" --config <(printf 'kafka.sasl.password %s\n' "$CKANSYNC_SASL_PASSWORD")
run "a misspelt secret setting" 2 "$CONSUMER" --config <(printf 'sasl.password = %s\n' "$CKANSYNC_SASL_PASSWORD")
run "a misspelt kafka.* secret setting" 1 "$CONSUMER" --db "$B" --brokers "$CKANSYNC_SASL_BROKERS" --origin A \
	--config <(printf 'kafka.sasl.pasword = %s\n' "$CKANSYNC_SASL_PASSWORD")
check "librdkafka's debug dump ran (the secrets were there to leak)" grep -q "sasl.username" "$OUT"
check_eq "the Kafka password appears nowhere" 0 "$(grep -c -F "$CKANSYNC_SASL_PASSWORD" "$OUT")"
check_eq "the PostgreSQL password appears nowhere" 0 "$(grep -c -F "$DBPW" "$OUT")"

# --- config files holding secrets that others can read ----------------------
warn="readable by other users"
for mode in 644 640 604; do
	chmod "$mode" "$T_TMP/producer.conf" "$T_TMP/consumer.conf"
	"$PRODUCER" --config "$T_TMP/producer.conf" --db "host=127.0.0.1 port=1" --once >"$T_TMP/w1" 2>&1
	"$CONSUMER" --config "$T_TMP/consumer.conf" --db "host=127.0.0.1 port=1" --origin A --until-idle >"$T_TMP/w2" 2>&1
	check "mode $mode: the producer warns" grep -q "$warn" "$T_TMP/w1"
	check "mode $mode: the consumer warns" grep -q "$warn" "$T_TMP/w2"
done
chmod 600 "$T_TMP/producer.conf"
"$PRODUCER" --config "$T_TMP/producer.conf" --db "host=127.0.0.1 port=1" --once >"$T_TMP/w1" 2>&1
check "mode 600: no warning" sh -c "! grep -q '$warn' $T_TMP/w1"
printf 'brokers = %s\nbatch-size = 100\n' "$CKANSYNC_BROKERS" >"$T_TMP/plain.conf"
chmod 644 "$T_TMP/plain.conf"
"$PRODUCER" --config "$T_TMP/plain.conf" --db "host=127.0.0.1 port=1" --once >"$T_TMP/w1" 2>&1
check "a readable file without secrets: no warning" sh -c "! grep -q '$warn' $T_TMP/w1"
t_summary
