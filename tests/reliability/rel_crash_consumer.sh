#!/usr/bin/env bash
# Reliability: crash the consumer. Origin A holds CKS_REL_REVISIONS revisions
# (creates, edits, merges with two parents and conflicts, deletes, a purge),
# all published; mirror B's ckansync-consumer is SIGKILLed CKS_REL_KILLS times
# at random moments while it applies them, spread over the topic, the last
# one while B has committed heads that wait for a merge further on in the
# topic (the origin's), and restarted each time. At the
# end B's digest --history equals A's, B holds exactly what a mirror synced
# without faults holds (nothing applied twice, nothing missing) and no
# revision is half-applied. Real broker and PostgreSQL (script/services).
# 1,600 revisions and batches of 50 by default: each quarter of the topic is
# then eight batches, so a kill aimed at the end of a quarter cannot
# overshoot to the end of the topic (with 800 and batches of 200, a quarter
# was one batch, and the faster consumer of the sixth pass sometimes applied
# the whole topic before the third kill, leaving nothing for the last one).
: "${CKS_REL_REVISIONS:=1600}"
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_rel.sh"
t_require_services

A=$(t_new_db rela) && B=$(t_new_db relb) && R=$(t_new_db relr) || { echo "cannot create databases"; exit 1; }
P=$(t_prefix)
t0=$(rel_now)
check "origin with $REL_N revisions, merges included" rel_make_origin "$A" "$REL_N"
"$CKS" init --db "$B" --instance B >/dev/null && "$CKS" init --db "$R" --instance R >/dev/null
# B's consumer is slowed down for the test's sake: each batch's offset write
# (one row per partition the batch moved, inside the batch's transaction)
# waits 30 ms. The consumer applies some thousands of revisions a second
# now, faster than the test's looks at B (a psql each, slower still under a
# loaded ctest -j2): a kill meant for the first quarter of the topic landed
# at 1,100 of 1,598 messages and the next run finished the rest before any
# other kill. A batch now takes at least 30 ms, the kills land where they
# are aimed, and a kill is likelier to hit a batch in the middle. The
# reference mirror R is not slowed.
t_sql "$B" "CREATE FUNCTION public.rel_slow_batch() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN PERFORM pg_sleep(0.03); RETURN NEW; END \$\$;
	CREATE TRIGGER rel_slow_batch BEFORE INSERT OR UPDATE ON ckansync.sync_state
	FOR EACH ROW EXECUTE FUNCTION public.rel_slow_batch()" >/dev/null ||
	{ echo "cannot slow B down"; exit 1; }
echo "# origin: $(rel_revisions "$A") revisions, $(rel_revisions "$A" "kind = 'merge'") merges ($(rel_since "$t0") s)"
check "producer publishes the origin" rel_publish "$A" "$P" --partitions 3
total=$(rel_topic_end "$P.A.revisions")
echo "# topic $P.A.revisions: $total messages"

cfg="$T_TMP/consumer.conf"
rel_consumer_config "$cfg"
mid=0 done_early=0 prev=0 waiting=0
heads_waiting() { t_sql "$B" "SELECT count(*) FROM ckansync.pending_head"; }
for k in $(seq 1 "$REL_KILLS"); do
	log="$T_TMP/consumer-$k.log"
	"$CONSUMER" --db "$B" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A \
		--config "$cfg" --batch-size 50 2>"$log" &
	pid=$!
	T_PIDS+=("$pid")
	if [ "$k" -lt "$REL_KILLS" ]; then
		# Kill while applying: once this run has committed something and
		# B is past the start of the k-th part of the topic, a random
		# moment later (up to 2.5 s) but before the end of that part (a
		# fast consumer would otherwise finish the topic first).
		from=$((total * (k - 1) / REL_KILLS)) upto=$((total * k / REL_KILLS))
		[ "$from" -gt "$prev" ] || from=$prev
		# (an earlier run may have applied the whole topic: then there is
		# no progress to wait for)
		for _ in $(seq 1 3000); do
			a=$(rel_applied "$B")
			{ [ "$a" -gt "$from" ] || [ "$a" -ge "$total" ]; } && break
			sleep 0.1
		done
		for _ in $(seq 1 $((RANDOM % 51))); do
			[ "$(rel_applied "$B")" -lt "$upto" ] || break
			sleep 0.05
		done
	else
		# The last kill: once heads wait for a merge that is still to be
		# read (a restart must not merge them itself, nor record the
		# conflicts of that merge: compared below with a fault-free mirror).
		# If an earlier run already applied the whole topic (a fast
		# consumer), while the heads it left still wait. This run may
		# also outrun the test: read the rest of the topic and merge every
		# waiting head between two looks (the whole topic applied, no head
		# waiting); then there is nothing left to interrupt, and the loop
		# ends (it used to wait out all its 3,000 turns, minutes of psql).
		for _ in $(seq 1 3000); do
			a=$(rel_applied "$B") h=$(heads_waiting)
			{ [ "$a" -gt "$prev" ] || [ "$prev" -ge "$total" ]; } && [ "$h" -gt 0 ] && break
			[ "$a" -ge "$total" ] && [ "$h" -eq 0 ] && break
			sleep 0.05
		done
	fi
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	now=$(rel_applied "$B")
	n=$(heads_waiting)
	# mid-work: it made progress (or an earlier run had applied the whole
	# topic), and messages or a merge of waiting heads were still to do
	if { [ "$now" -gt "$prev" ] || [ "$prev" -ge "$total" ]; } &&
		{ [ "$now" -lt "$total" ] || [ "$n" -gt 0 ]; }; then
		mid=$((mid + 1))
	elif [ "$now" -ge "$total" ] && [ "$n" -eq 0 ] && [ "$waiting" -gt 0 ]; then
		# This run, restarted with heads an earlier kill left waiting,
		# finished the topic and merged them before the test could
		# interrupt it (between two of its looks at B, which take longer
		# under a loaded ctest -j2): the case the kills are for (a restart
		# must not merge waiting heads before it reads the merge of them)
		# was run all the same, and the comparison below judges it; the
		# kills after it have nothing left to hit.
		done_early=$((done_early + 1))
		echo "# kill $k: the restarted consumer finished the topic and merged its waiting heads before it could be killed"
	fi
	[ "$n" -gt 0 ] && waiting=$((waiting + 1))
	echo "# kill $k: $now of $total messages applied, $n head(s) waiting for a merge"
	prev=$now
done
check_eq "every kill hit the consumer while it had work to do, or found it done after one had left heads waiting" \
	"$REL_KILLS" "$((mid + done_early))"
check "at least two kills hit the consumer while it had work to do ($mid)" test "$mid" -ge 2
check_ne "a kill left heads waiting for a merge still to be read" 0 "$waiting"
t1=$(rel_now)
check "a restarted consumer finishes the sync" rel_sync "$B" "$P" A --config "$cfg"
echo "# last run after the kills: $(rel_since "$t1") s"
check "a reference mirror synced without faults" rel_sync "$R" "$P" A --config "$cfg"
rel_compare_mirrors "$A" "$B" "$R"
check_eq "merges replicated" "$(rel_revisions "$A" "kind = 'merge'")" "$(rel_revisions "$B" "kind = 'merge'")"
check_eq "no dead letters" 0 "$(rel_topic_end "$P.deadletter")"
echo "# total $(rel_since "$t0") s"
t_summary
