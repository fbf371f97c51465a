#!/usr/bin/env bash
# e2e: scaling out (docs/scaling.md). Origin A publishes to a 6-partition
# topic; instance B runs three consumers in one group. Each must get a share
# of the partitions and apply some of the revisions; when one is killed
# (SIGKILL) mid-stream, the other two take its partitions over from the
# offsets stored in B; B ends with A's exact history (digest --history),
# every revision once.
. "$(dirname "$0")/lib.sh"
t_require_services

A=$(t_new_db a) && B=$(t_new_db b) || { echo "cannot create databases"; exit 1; }
P=$(t_prefix)
check "init A" "$CKS" init --db "$A" --instance A
check "init B" "$CKS" init --db "$B" --instance B
python3 -c '
for i in range(300):
    print("{\"name\": \"scale-%03d\", \"title\": \"Dataset %d\"}" % (i, i))' >"$T_TMP/ds1.jsonl"
python3 -c '
for i in range(300, 360):
    print("{\"name\": \"scale-%03d\", \"title\": \"Dataset %d\"}" % (i, i))' >"$T_TMP/ds2.jsonl"
check "import 300 datasets on A" "$CKS" import --db "$A" "$T_TMP/ds1.jsonl"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { # PORT NAME → sum of the samples of NAME (-1 if unreachable)
	python3 - "$1" "$2" <<'PY'
import re, sys, urllib.request
try:
    t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
except Exception:
    print(-1); sys.exit(0)
print(int(sum(float(m.group(2)) for m in re.finditer(r"^(%s)(?:\{[^}]*\})? (\S+)$" % sys.argv[2], t, re.M))))
PY
}
applied_in_b() { t_sql "$B" "SELECT count(*) FROM ckansync.revision"; }
wait_applied() { # N: until B holds N revisions (120 s at most)
	local i
	for i in $(seq 1 240); do [ "$(applied_in_b)" -ge "$1" ] && return 0; sleep 0.5; done
	echo "B holds $(applied_in_b) revisions, wanted $1" >&2; return 1
}

# A dead consumer is noticed after the session timeout: 6 s, not 45.
printf 'kafka.session.timeout.ms = 6000\nkafka.heartbeat.interval.ms = 1000\n' >"$T_TMP/group.conf"
ports=() pids=()
for i in 1 2 3; do
	port=$(free_port)
	"$CONSUMER" --db "$B" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A \
		--group-id "$P-b" --partitions 6 --batch-size 20 --metrics-port "$port" \
		--config "$T_TMP/group.conf" \
		2>"$T_TMP/consumer$i.log" &
	pids+=($!) ports+=("$port")
	T_PIDS+=($!)
done
# shares → the partitions each consumer was last assigned, total (once all joined)
shares() {
	local i n total=0 line=""
	for i in 1 2 3; do
		n=$(grep -o "assigned [0-9]* partition" "$T_TMP/consumer$i.log" | tail -1 | grep -o "[0-9]*")
		line="$line ${n:-0}"
		total=$((total + ${n:-0}))
	done
	echo "$total$line"
}
wait_group() { # until the three share the 12 partitions (the group is stable)
	local i s
	for i in $(seq 1 120); do
		s=$(shares)
		case "$s" in "12 0 "* | "12 "*" 0 "* | *" 0") ;; "12 "*) return 0 ;; esac
		sleep 0.5
	done
	echo "shares: $s" >&2; return 1
}
check "the three consumers join one group and share the 12 partitions" wait_group
check "publish 300 revisions to 6 partitions" t_publish "$A" "$P" --partitions 6
check "the three consumers apply the 300 revisions" wait_applied 300
for i in 0 1 2; do
	n=$(shares | cut -d' ' -f$((i + 2)))
	[ "${n:-0}" -ge 1 ] && ok "consumer $((i + 1)) holds ${n} partition(s)" || not_ok "consumer $((i + 1)) holds none"
	a=$(metric "${ports[$i]}" ckansync_consumer_applied_total)
	[ "$a" -ge 1 ] && ok "consumer $((i + 1)) applied $a" || not_ok "consumer $((i + 1)) applied $a"
done

# One consumer dies without a goodbye; the others take over its partitions.
kill -KILL "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
check "import 60 more on A" "$CKS" import --db "$A" "$T_TMP/ds2.jsonl"
check "publish them" t_publish "$A" "$P" --partitions 6
check "the two survivors apply everything" wait_applied 360
check_eq "B has A's exact history" "$("$CKS" digest --db "$A" --history)" \
	"$("$CKS" digest --db "$B" --history)"
check_eq "each revision once" 360 "$(t_sql "$B" "SELECT count(DISTINCT id) FROM ckansync.revision")"
for i in 1 2; do
	kill -TERM "${pids[$i]}"
	wait "${pids[$i]}"
	check_eq "consumer $((i + 1)) stops cleanly" 0 "$?"
done
t_summary
