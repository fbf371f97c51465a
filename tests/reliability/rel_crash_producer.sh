#!/usr/bin/env bash
# Reliability: crash the producer. Origin A holds half of CKS_REL_REVISIONS
# revisions (merges included) and a writer adds the other half meanwhile;
# its ckansync-producer is SIGKILLed CKS_REL_KILLS times at random moments
# while it publishes, and restarted each time. The topic
# must hold every revision, with extra copies only of revisions whose
# acknowledgement the producer had not yet recorded when it died (it resends
# from its cursor), and a mirror synced from that topic equals the origin.
# Real broker and PostgreSQL (script/services).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_rel.sh"
t_require_services

A=$(t_new_db rela) && B=$(t_new_db relb) || { echo "cannot create databases"; exit 1; }
P=$(t_prefix)
T="$P.A.revisions"
t0=$(rel_now)
check "origin with $((REL_N / 2)) revisions, merges included" rel_make_origin "$A" $((REL_N / 2))
"$CKS" init --db "$B" --instance B >/dev/null
echo "# origin: $(rel_revisions "$A") revisions, $(rel_revisions "$A" "kind = 'merge'") merges ($(rel_since "$t0") s)"
rel_writer_start "$A" $((REL_N - REL_N / 2)) $((REL_KILLS * 4)) 1 # outlasts the kills

kills="$T_TMP/kills"
: >"$kills"
mid=0 prev=0
for k in $(seq 1 "$REL_KILLS"); do
	log="$T_TMP/producer-$k.log"
	"$PRODUCER" --db "$A" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --partitions 3 \
		--batch-size 100 2>"$log" &
	pid=$!
	T_PIDS+=("$pid")
	# Kill while publishing: once this run has had something acknowledged.
	for _ in $(seq 1 600); do
		grep -q "publishing instance" "$log" && [ "$(rel_topic_end "$T")" -gt "$prev" ] && break
		sleep 0.05
	done
	rel_sleep_random 0 300
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	sleep 0.5 # let the broker finish what was on the wire
	cursor=$(t_sql "$A" "SELECT ord::text || ' ' || seq FROM ckansync.producer_cursor")
	echo "$(rel_watermarks "$T") ${cursor:-0 0}" >>"$kills"
	now=$(rel_topic_end "$T")
	[ "$now" -gt "$prev" ] && mid=$((mid + 1))
	echo "# kill $k: $now messages in the topic, cursor ${cursor:-none}"
	prev=$now
done
check_eq "every kill hit the producer while it was publishing" "$REL_KILLS" "$mid"
check "the writer made $((REL_N - REL_N / 2)) more revisions meanwhile" rel_writer_wait
echo "# origin: $(rel_revisions "$A") revisions"
check "a restarted producer publishes the rest (--once: every report in)" \
	rel_publish "$A" "$P" --partitions 3
kcat -C -b "$CKANSYNC_BROKERS" -t "$T" -e -q -f '%p %o %k %h\n' >"$T_TMP/dump" 2>/dev/null
check "the topic holds every revision, duplicates only where unacknowledged" \
	$RELTOOL topic-check "$A" "$T_TMP/dump" "$kills"
sed 's/^/# /' "$T_TMP/out"
check "a mirror syncs from the topic" rel_sync "$B" "$P" A
check_eq "digest --history of the mirror equals the origin's" \
	"$("$CKS" digest --db "$A" --history)" "$("$CKS" digest --db "$B" --history)"
check "no half-applied revision on the mirror (invariants)" $RELTOOL invariants "$B"
check_eq "no dead letters" 0 "$(rel_topic_end "$P.deadletter")"
echo "# total $(rel_since "$t0") s"
t_summary
