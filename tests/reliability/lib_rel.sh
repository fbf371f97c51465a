# tests/reliability/lib_rel.sh — helpers of the fault-injection tests
# (sourced after tests/lib.sh). Sizes come from the environment so that CI
# runs small and docs/reliability.md records a full-size run:
#   CKS_REL_REVISIONS  revisions on the origin (default 800; full: 20000)
#   CKS_REL_KILLS      SIGKILLs of a daemon (default 4; full: 20)
#   CKS_REL_SEED       seed of the kill moments (default: $RANDOM, printed)
#   CKS_REL_SESSION_MS kafka.session.timeout.ms of the crashed consumers
#                      (default 6000, the broker's minimum; 45000 is
#                      librdkafka's default, what an operator gets)

REL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RELTOOL="python3 $REL_DIR/reltool.py"
REL_N=${CKS_REL_REVISIONS:-800}
REL_KILLS=${CKS_REL_KILLS:-4}
REL_SEED=${CKS_REL_SEED:-$RANDOM}
RANDOM=$REL_SEED
REL_SESSION_MS=${CKS_REL_SESSION_MS:-6000}
echo "# sizes: $REL_N revisions, $REL_KILLS kills, seed $REL_SEED, consumer session timeout $REL_SESSION_MS ms"

# A dead consumer stays in its group until its session times out; the
# broker's minimum (6 s) keeps restarts quick. Operators see the same pause
# (45 s by default) after a crash: docs/reliability.md.
rel_consumer_config() { # FILE
	printf 'kafka.session.timeout.ms = %s\nkafka.heartbeat.interval.ms = 1000\n' "$REL_SESSION_MS" >"$1"
	chmod 600 "$1"
}

rel_now() { date +%s.%N | cut -c1-14; }
rel_since() { awk -v a="$1" -v b="$(rel_now)" 'BEGIN { printf "%.1f", b - a }'; }

# rel_make_origin DB N: instance A with about N revisions: creates, edits on
# A, edits made on a second instance C and merged on A by a real consumer
# (merge revisions with two parents, some with conflicts), deletes and a
# purge. A's producer cursor is reset afterwards, so the test publishes
# everything again to its own topics.
rel_make_origin() {
	local A=$1 n=$2 C G d m rest r=2
	C=$(t_new_db relc) && G=$(t_prefix)g || return 1
	d=$((n * 3 / 10)) m=$((n / 10))
	rest=$((n - d - 3 * m - 3))
	"$CKS" init --db "$A" --instance A >/dev/null && "$CKS" init --db "$C" --instance C >/dev/null || return 1
	$RELTOOL datasets 0 a 0 "$d" >"$T_TMP/base.jsonl"
	"$CKS" import --db "$A" --author gen "$T_TMP/base.jsonl" >/dev/null || return 1
	rel_publish "$A" "$G" && rel_sync "$C" "$G" A || return 1
	# Both sides edit the same m datasets: A's consumer merges them.
	$RELTOOL edits 1 c "$m" "$d" >"$T_TMP/c1.jsonl"
	$RELTOOL edits 1 a "$m" "$d" >"$T_TMP/a1.jsonl"
	"$CKS" import --db "$C" --author carol "$T_TMP/c1.jsonl" >/dev/null || return 1
	"$CKS" import --db "$A" --author alice "$T_TMP/a1.jsonl" >/dev/null || return 1
	while [ "$rest" -gt 0 ]; do
		local k=$((rest < d ? rest : d))
		$RELTOOL edits "$r" a "$k" "$d" >"$T_TMP/a$r.jsonl"
		"$CKS" import --db "$A" --author alice "$T_TMP/a$r.jsonl" >/dev/null || return 1
		rest=$((rest - k)) r=$((r + 1))
	done
	rel_publish "$C" "$G" && rel_sync "$A" "$G" C || return 1
	"$CKS" delete --db "$A" ds-1 >/dev/null && "$CKS" delete --db "$A" ds-2 >/dev/null &&
		"$CKS" purge --db "$A" ds-3 >/dev/null || return 1
	t_sql "$A" "DELETE FROM ckansync.producer_cursor" >/dev/null
}

# rel_writer_start DB N CHUNKS PAUSE [tolerant]: edits N datasets of the
# origin (ds-0 .. ds-(N*3/10), as rel_make_origin made them) in the
# background, in CHUNKS imports PAUSE seconds apart, so that a daemon under
# test always has fresh work;
# "tolerant" retries an import while PostgreSQL is down (a line imported
# twice is an edit without a change). Sets REL_WRITER_PID; rel_writer_wait
# waits for it and fails if it failed.
rel_writer_start() {
	local A=$1 n=$2 chunks=$3 pause=$4 d=$(($2 * 3 / 10)) tries=1
	[ "${5:-}" = tolerant ] && tries=240
	(
		set -e
		per=$(((n + chunks - 1) / chunks)) r=100
		# REL_WRITER_STOP (a file): after the n revisions, go on writing
		# until it exists (a test whose faults must all fall while it writes)
		while [ "$n" -gt 0 ] || { [ -n "${REL_WRITER_STOP:-}" ] && [ ! -e "$REL_WRITER_STOP" ]; }; do
			k=$((n > 0 && n < per ? n : per))
			[ "$k" -le "$d" ] || k=$d
			$RELTOOL edits "$r" a "$k" "$d" >"$T_TMP/w$r.jsonl"
			for t in $(seq 1 "$tries"); do
				"$CKS" import --db "$A" --author writer "$T_TMP/w$r.jsonl" >/dev/null 2>&1 && break
				[ "$t" -lt "$tries" ] || exit 1
				sleep 0.5
			done
			n=$((n - k)) r=$((r + 1))
			sleep "$pause"
		done
	) &
	REL_WRITER_PID=$!
	T_PIDS+=("$REL_WRITER_PID")
}
rel_writer_wait() { wait "$REL_WRITER_PID"; }

# rel_sync DB PREFIX ORIGIN [extra args]: t_sync with room for full sizes
rel_sync() {
	local db="$1" prefix="$2" origin="$3"; shift 3
	timeout 1500 "$CONSUMER" --db "$db" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$prefix" \
		--origin "$origin" --until-idle --partitions 2 "$@" 2>>"$T_TMP/consumer.log"
}

# rel_publish DB PREFIX [extra args]: t_publish with room for full sizes
rel_publish() {
	local db="$1" prefix="$2"; shift 2
	timeout 1500 "$PRODUCER" --db "$db" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$prefix" \
		--once --partitions 2 "$@" 2>>"$T_TMP/producer.log"
}

# rel_revisions DB [SQL-WHERE]: number of revisions
rel_revisions() { t_sql "$1" "SELECT count(*) FROM ckansync.revision${2:+ WHERE $2}"; }

# rel_applied DB: next offsets summed over the sync state (messages handled)
rel_applied() { t_sql "$1" "SELECT coalesce(sum(next_offset), 0) FROM ckansync.sync_state WHERE topic LIKE '%.revisions'"; }

# rel_topic_end TOPIC: sum of the high watermarks of a topic
rel_topic_end() {
	kcat -b "$CKANSYNC_BROKERS" -Q -t "$1:0:-1" >/dev/null 2>&1 # warm up metadata
	local p sum=0 hw
	for p in $(kcat -b "$CKANSYNC_BROKERS" -L -t "$1" 2>/dev/null | sed -n 's/.*partition \([0-9]*\),.*/\1/p'); do
		hw=$(kcat -b "$CKANSYNC_BROKERS" -Q -t "$1:$p:-1" 2>/dev/null | awk '{print $NF}')
		sum=$((sum + ${hw:-0}))
	done
	echo "$sum"
}

# rel_watermarks TOPIC: "p:hw,p:hw,..."
rel_watermarks() {
	local p out=""
	for p in $(kcat -b "$CKANSYNC_BROKERS" -L -t "$1" 2>/dev/null | sed -n 's/.*partition \([0-9]*\),.*/\1/p'); do
		out="$out${out:+,}$p:$(kcat -b "$CKANSYNC_BROKERS" -Q -t "$1:$p:-1" 2>/dev/null | awk '{print $NF}')"
	done
	echo "$out"
}

# rel_wait_log FILE PATTERN SECONDS: waits until FILE has a line matching PATTERN
rel_wait_log() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# rel_sleep_random MIN_MS MAX_MS
rel_sleep_random() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# rel_diff_rows REFERENCE MIRROR SQL: prints ("# only in ...") the rows of
# SQL that one database has and the other has not; nothing when they agree.
rel_diff_rows() {
	t_sql "$1" "$3" | sort >"$T_TMP/rows-ref"
	t_sql "$2" "$3" | sort >"$T_TMP/rows-mirror"
	comm -23 "$T_TMP/rows-ref" "$T_TMP/rows-mirror" | sed 's/^/#   only in the fault-free mirror: /' | head -20
	comm -13 "$T_TMP/rows-ref" "$T_TMP/rows-mirror" | sed 's/^/#   only in the mirror under faults: /' | head -20
}

# rel_compare_mirrors ORIGIN MIRROR REFERENCE: the mirror made under faults
# equals the origin (history digest) and a reference mirror synced without
# faults (the same revisions, conflicts and outbox, so nothing was applied
# twice or half), and passes the invariants.
rel_compare_mirrors() {
	local A=$1 B=$2 R=$3
	check_eq "digest --history of the mirror equals the origin's" \
		"$("$CKS" digest --db "$A" --history)" "$("$CKS" digest --db "$B" --history)"
	check_eq "digest of the mirror equals the origin's" \
		"$("$CKS" digest --db "$A")" "$("$CKS" digest --db "$B")"
	local ids="SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM ckansync.revision"
	check_eq "none missing: the same revision ids as the origin" \
		"$(t_sql "$A" "$ids")" "$(t_sql "$B" "$ids")"
	local q
	for q in "SELECT count(*) FROM ckansync.object_revision" \
		"SELECT count(*) FROM ckansync.revision" \
		"SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM ckansync.conflict" \
		"SELECT count(*) FROM ckansync.outbox" \
		"SELECT count(*) FROM ckansync.tombstone"; do
		check_eq "none applied twice: same as a mirror synced without faults ($q)" \
			"$(t_sql "$R" "$q")" "$(t_sql "$B" "$q")"
	done
	# On a difference, show which conflict / outbox rows differ.
	rel_diff_rows "$R" "$B" "SELECT id, kind, object_id, field_path, base_objrev, local_objrev,
		remote_objrev, remote_origin, resolution, merge_revision FROM ckansync.conflict"
	rel_diff_rows "$R" "$B" "SELECT kind, objrev_id, revision_id, object_id, conflict_id,
		payload FROM ckansync.outbox"
	check "no half-applied revision (invariants)" $RELTOOL invariants "$B"
}
