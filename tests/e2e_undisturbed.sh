#!/usr/bin/env bash
# e2e: undisturbed use during a sync (docs/scenarios/undisturbed.md). A
# holds thousands of revisions not yet on B; the producer (A) and the
# consumer (B) run as daemons while a writer keeps editing on A and another
# on B, some of the very packages being synced. No write fails, none waits
# long (every put is timed), and at the end every object revision of A is
# on B. CKS_UNDISTURBED_N sets the number of datasets (default 2000; 1000
# with a sanitizer build, which checks the same paths for memory errors).
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

N=${CKS_UNDISTURBED_N:-2000}
if [ -z "${CKS_UNDISTURBED_N:-}" ] && e_sanitized; then N=1000; echo "# sanitizer build: $N datasets"; fi
WRITES=20
MAX_MS=5000 # a put slower than this counts as blocked
A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)

python3 - "$N" >"$T_TMP/ds.jsonl" <<'EOF'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"name": "ds-%05d" % i, "title": "Dataset %d" % i,
                      "notes": "generated for the undisturbed-use test",
                      "tags": [{"name": "t%d" % (i % 17)}],
                      "resources": [{"url": "http://example.org/%d.csv" % i, "format": "CSV"}]}))
EOF
check "A: $N datasets ($N revisions)" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
TOTAL=$(t_sql "$A" "SELECT count(*) FROM ckansync.object_revision")

# writer DB LABEL: WRITES edits, each timed; "ok MS" or "failed MS" per line
writer() {
	local db=$1 label=$2 i name t0 t1
	for i in $(seq 1 $WRITES); do
		name=$(printf 'ds-%05d' $(((i * 7) % 60)))
		[ "$label" = B ] && ! "$CKS" show --db "$db" "$name" >/dev/null 2>&1 && name="b-only-$i"
		t0=$(date +%s%N)
		if "$CKS" put --db "$db" --author "writer-$label" - >/dev/null 2>>"$T_TMP/writer-$label.err" \
			<<<"{\"name\": \"$name\", \"title\": \"written by $label, edit $i\"}"; then
			echo "ok $((($(date +%s%N) - t0) / 1000000))"
		else
			echo "failed $((($(date +%s%N) - t0) / 1000000))"
		fi
	done >"$T_TMP/writer-$label.out"
}

# The sync, as daemons (small batches: many transactions, as in production).
"$PRODUCER" --db "$A" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --partitions 2 \
	--batch-size 200 2>"$T_TMP/producer.log" &
PROD=$!
T_PIDS+=("$PROD")
"$CONSUMER" --db "$B" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A \
	--partitions 2 --batch-size 100 --policy origin-priority:A,B 2>"$T_TMP/consumer.log" &
CONS=$!
T_PIDS+=("$CONS")
at_start=$(t_sql "$B" "SELECT count(*) FROM ckansync.object_revision r JOIN ckansync.revision v ON v.id = r.revision_id WHERE v.origin = 'A'")
writer "$A" A &
WA=$!
writer "$B" B &
WB=$!
wait $WA $WB
at_end=$(t_sql "$B" "SELECT count(*) FROM ckansync.object_revision r JOIN ckansync.revision v ON v.id = r.revision_id WHERE v.origin = 'A'")
echo "# B held $at_start of A's $TOTAL object revisions when the writers started, $at_end when they stopped"
if [ "$at_start" -lt "$TOTAL" ]; then ok "the writers ran while the sync was in progress"; else not_ok "the sync was over before the writers started ($at_start)"; fi

for w in A B; do
	check_eq "writer on $w: $WRITES edits, none failed" "$WRITES 0" \
		"$(grep -c '^ok' "$T_TMP/writer-$w.out") $(grep -c '^failed' "$T_TMP/writer-$w.out")"
	max=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$T_TMP/writer-$w.out")
	if [ "$max" -lt $MAX_MS ]; then ok "writer on $w never blocked (slowest put $max ms)"
	else not_ok "writer on $w: a put took $max ms"; fi
done

# Let the daemons finish A's history (including the writer's edits on A).
A_IDS=$(e_objrev_ids "$A")
want=$(wc -l <<<"$A_IDS")
for _ in $(seq 1 240); do
	have=$(t_sql "$B" "SELECT count(*) FROM ckansync.object_revision r JOIN ckansync.revision v ON v.id = r.revision_id WHERE v.origin = 'A'")
	[ "$have" -ge "$want" ] && break
	sleep 0.5
done
kill -TERM "$PROD" "$CONS"
wait "$PROD"; rp=$?
wait "$CONS"; rc=$?
check_eq "producer and consumer stop cleanly on SIGTERM" "0 0" "$rp $rc"
missing=$(comm -23 <(echo "$A_IDS") <(e_objrev_ids "$B") | wc -l)
check_eq "every one of A's $want object revisions is on B" 0 "$missing"
check_eq "no dead letters, no errors" 0 "$(grep -Ec 'dead-lettered| error[ :]' "$T_TMP/consumer.log" "$T_TMP/producer.log" | awk -F: '{ s += $2 } END { print s + 0 }')"
check_eq "B's writes are all there" "$WRITES" "$(t_sql "$B" "SELECT count(*) FROM ckansync.revision WHERE author = 'writer-B'")"
conflicted=$(t_sql "$B" "SELECT count(DISTINCT object_id) FROM ckansync.conflict")
echo "# $(e_merges "$B") merge revisions on B, conflicts on $conflicted packages both writers edited"
t_summary
