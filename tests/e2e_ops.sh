#!/usr/bin/env bash
# e2e: operating a real A → B replication. A producer and a consumer run as
# daemons with --metrics-port on free ports; the test scrapes /metrics and
# /healthz while it imports datasets, makes a divergent edit (merge +
# conflict) and injects a record nobody can decode (dead letter), then
# checks `ckansync status` (with and without --brokers, lag after the
# consumer stops), JSON logs with context on every line, and that a password
# in the conninfo appears in no log.
. "$(dirname "$0")/lib.sh"
t_require_services

A=$(t_new_db a) && B=$(t_new_db b) || { echo "cannot create databases"; exit 1; }
P=$(t_prefix)
SECRET="pw-$RANDOM-never-logged"
check "init A" "$CKS" init --db "$A" --instance A
check "init B" "$CKS" init --db "$B" --instance B
t_datasets 20 >"$T_TMP/ds.jsonl"
check "import 20 datasets on A" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PP=$(free_port)
CP=$(free_port)
# kafka.* settings only come from a file; statistics every second for the test.
printf 'kafka.statistics.interval.ms = 1000\nbatch-size = 7\n' >"$T_TMP/common.conf"
chmod 600 "$T_TMP/common.conf"

# http PORT PATH → prints "STATUS BODY" (python: curl is not a dependency)
http() {
	python3 - "$1" "$2" <<'EOF'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=5)
    print(r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except Exception as e:
    print(0, e)
EOF
}
# metric PORT NAME [LABEL_SUBSTRING] → sum of the matching samples (0 if none)
metric() {
	python3 - "$1" "$2" "${3:-}" <<'EOF'
import re, sys, urllib.request
try:
    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
except Exception:
    print(-1); sys.exit(0)
total = 0.0
for line in text.splitlines():
    m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line)
    if m and m.group(1) == sys.argv[2] and sys.argv[3] in (m.group(2) or ""):
        total += float(m.group(3))
print(int(total) if total == int(total) else total)
EOF
}
# wait_metric PORT NAME FILTER MIN: until the sum reaches MIN (60 s at most)
wait_metric() {
	local i v
	for i in $(seq 1 120); do
		v=$(metric "$1" "$2" "$3")
		[ "${v%.*}" -ge "$4" ] 2>/dev/null && return 0
		sleep 0.5
	done
	echo "timeout: $2{$3} = $v, wanted >= $4" >&2
	return 1
}

"$PRODUCER" --db "$A password=$SECRET" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" \
	--partitions 2 --config "$T_TMP/common.conf" --metrics-port "$PP" \
	2>"$T_TMP/producer.log" &
PPID_=$!
T_PIDS+=("$PPID_")
"$CONSUMER" --db "$B password=$SECRET" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" \
	--origin A --partitions 2 --config "$T_TMP/common.conf" --metrics-port "$CP" --group-id "$P" \
	--log-format json 2>"$T_TMP/consumer.log" &
CPID=$!
T_PIDS+=("$CPID")

check "consumer applies the 20 creations (metrics)" \
	wait_metric "$CP" ckansync_consumer_applied_total 'outcome="created"' 20
check_eq "producer: 20 revisions published on $P.A.revisions" 20 \
	"$(metric "$PP" ckansync_producer_published_total "topic=\"$P.A.revisions\"")"
check_eq "producer: publish latency histogram counts them" 20 \
	"$(metric "$PP" ckansync_producer_publish_latency_seconds_count)"
# The gauge follows the delivery reports within a loop turn (20 ms while
# messages are in flight); it stayed stale for the whole poll interval when
# it was set only at the top of the loop, before the reports were counted.
in_flight_zero() {
	local i
	for i in $(seq 1 10); do
		[ "$(metric "$PP" ckansync_producer_inflight_messages)" = 0 ] && return 0
		sleep 0.2
	done
	echo "in flight: $(metric "$PP" ckansync_producer_inflight_messages)"
	return 1
}
check "producer: nothing in flight" in_flight_zero
check_eq "producer: /healthz ok" "200 ok" "$(http "$PP" /healthz)"
check_eq "consumer: /healthz ok" "200 ok" "$(http "$CP" /healthz)"
check_eq "consumer: PostgreSQL connected" 1 "$(metric "$CP" ckansync_postgresql_connected)"
check_eq "consumer: replication delay observed for each" 20 \
	"$(metric "$CP" ckansync_consumer_replication_delay_seconds_count)"
n=$(metric "$CP" ckansync_consumer_apply_latency_seconds_count)
[ "$n" -ge 20 ] && ok "consumer: apply latency observed ($n)" || not_ok "apply latency count $n"
check "consumer: batches committed" wait_metric "$CP" ckansync_consumer_batches_total "" 3
check "consumer: lag gauges reach 0 on both partitions" python3 - "$CP" "$P" <<'EOF'
import re, sys, time, urllib.request
for _ in range(40):
    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
    lags = re.findall(r'^ckansync_consumer_lag_messages\{topic="%s\.A\.revisions",partition="\d"\} (\S+)$' % sys.argv[2], text, re.M)
    if len(lags) == 2 and all(float(v) == 0 for v in lags):
        sys.exit(0)
    time.sleep(0.5)
print(text); sys.exit(1)
EOF
check "librdkafka statistics: consumer sees a broker up" \
	wait_metric "$CP" ckansync_kafka_broker_up 'client="consumer"' 1
check "librdkafka statistics: producer sent messages" \
	wait_metric "$PP" ckansync_kafka_tx_messages_total 'client="producer"' 1
check_eq "unknown path: 404" 404 "$(http "$CP" /nope | cut -d' ' -f1)"

# A divergent edit: B changes the title, then A does: B merges with a conflict.
first=$(head -1 "$T_TMP/ds.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
edit_title() { # DB TITLE
	"$CKS" show --db "$1" "$first" | python3 -c '
import json, sys
d = json.load(sys.stdin); d["title"] = sys.argv[1]; print(json.dumps(d))' "$2" |
		"$CKS" put --db "$1" --author ops -
}
check "B edits $first" edit_title "$B" "Title from B"
check "A edits $first" edit_title "$A" "Title from A"
check "consumer merges (metrics)" wait_metric "$CP" ckansync_consumer_merges_total "" 1
check "conflict counted by kind" wait_metric "$CP" ckansync_consumer_conflicts_total 'kind="field"' 1

# A record nobody can decode goes to the dead-letter topic, counted by class.
printf 'junk-key:not an avro record\n' | timeout 30 kcat -P -b "$CKANSYNC_BROKERS" \
	-t "$P.A.revisions" -p 0 -K: 2>>"$T_TMP/kcat.log"
check "dead letter counted" wait_metric "$CP" ckansync_consumer_dead_letters_total "" 1

# A second consumer on the same metrics port is refused at start.
"$CONSUMER" --db "$B" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A \
	--metrics-port "$CP" >/dev/null 2>"$T_TMP/busy.log"
rc=$?
check_eq "metrics port in use: exit 1" 1 "$rc"
check "... saying so" grep -q "cannot listen on port $CP" "$T_TMP/busy.log"

# ckansync status, once the dead letter's batch is committed.
st() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); o=[o for o in d["origins"] if o["origin"]=="A"][0]; print(eval(sys.argv[2]))' "$T_TMP/st.json" "$1"; }
for i in $(seq 1 40); do
	"$CKS" status --db "$B" --json --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" >"$T_TMP/st.json"
	[ "$(st 'o["dead_letters"]')" = 1 ] && break
	sleep 0.25
done
check_eq "status: instance B" B "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instance"])' "$T_TMP/st.json")"
check_eq "status: origin A, lag 0" 0 "$(st 'o["lag"]')"
check_eq "status: one dead letter" 1 "$(st 'o["dead_letters"]')"
check_eq "status: a conflict in the last hour" True "$(st 'o["conflicts_last_hour"] >= 1')"
check_eq "status: last revision is A's edit" True \
	"$(st 'o["last_revision"] is not None and len(o["last_revision"]) == 36')"
check_eq "status: revisions and objects partitions (4), each with an end offset" 4 \
	"$(st 'len([p for p in o["partitions"] if "end_offset" in p])')"
"$CKS" status --db "$B" --topic-prefix "$P" >"$T_TMP/st.txt"
check "status (text) names origin A and its dead letter" \
	grep -q "^origin A: .*dead letters 1" "$T_TMP/st.txt"

# Stop the consumer; a new revision on A shows up as lag 1.
kill -TERM "$CPID"
wait "$CPID"
check_eq "consumer stops cleanly on SIGTERM" 0 "$?"
check "A edits again" edit_title "$A" "Title from A, again"
check "producer publishes it" wait_metric "$PP" ckansync_producer_published_total \
	"topic=\"$P.A.revisions\"" 22
"$CKS" status --db "$B" --json --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" >"$T_TMP/st.json"
check_eq "status: lag 1 while the consumer is down" 1 "$(st 'o["lag"]')"
kill -TERM "$PPID_"
wait "$PPID_"
check_eq "producer stops cleanly on SIGTERM" 0 "$?"

# Logs: JSON lines with context, instance id, and no secret anywhere.
check "consumer log: every line is JSON with ts, level, program, pid, instance B" \
	python3 - "$T_TMP/consumer.log" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, "empty log"
for l in lines:
    d = json.loads(l)
    assert {"ts", "level", "program", "pid", "msg"} <= d.keys(), l
    assert d["program"] == "ckansync-consumer", l
    assert d["level"] in ("error", "warn", "info", "debug"), l
assert any(d.get("instance") == "B" for d in map(json.loads, lines))
assert any("dead-lettered" in json.loads(l)["msg"] for l in lines), "no dead-letter line"
EOF
check "producer log (text) names program and instance" grep -q "ckansync-producer@A info" "$T_TMP/producer.log"
check_eq "no log line holds the password" 0 "$(cat "$T_TMP"/*.log | grep -c -- "$SECRET")"
t_summary
