#!/usr/bin/env bash
# Reliability: restart the services under running daemons. Origin A and the
# broker live in one private set of services, mirror B's PostgreSQL in a
# second one (two sites). A ckansync-producer and a ckansync-consumer run as
# daemons while a writer keeps editing A; meanwhile the Kafka broker is
# SIGKILLed and started again on the same data twice, A's PostgreSQL gets an
# immediate shutdown while the producer publishes and B's while the
# consumer applies. The daemons must ride it all out (never exit, reconnect
# with backoff, say so in their logs), and the end result is exact: every
# revision in the topic once, B's history equal to A's.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_rel.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

SVC_A=$(mktemp -d /tmp/cks-rel-a.XXXXXX) SVC_B=$(mktemp -d /tmp/cks-rel-b.XXXXXX)
svc_a() { CKANSYNC_SERVICES_DIR=$SVC_A "$ROOT/script/services" "$@"; }
svc_b() { CKANSYNC_SERVICES_DIR=$SVC_B "$ROOT/script/services" "$@"; }
rel_cleanup() {
	t_cleanup
	svc_a stop >/dev/null 2>&1
	svc_b stop >/dev/null 2>&1
}
trap rel_cleanup EXIT
svc_b start >"$T_TMP/svc_b.env" 2>/dev/null &
svc_b_pid=$!
eval "$(svc_a start 2>/dev/null)" || { echo "cannot start private services"; exit 1; }
wait "$svc_b_pid" || { echo "cannot start the mirror's PostgreSQL"; exit 1; }
PG_B=$(sed -n "s/^export CKANSYNC_PG='\(.*\)'$/\1/p" "$T_TMP/svc_b.env")
echo "# private services: broker $CKANSYNC_BROKERS, origin PostgreSQL $CKANSYNC_PG, mirror PostgreSQL $PG_B"

A=$(t_new_db rela) || exit 1
psql -X -q "$PG_B dbname=postgres" -c 'CREATE DATABASE mirror' || exit 1
B="$PG_B dbname=mirror"
P=$(t_prefix)
T="$P.A.revisions"
t0=$(rel_now)
check "origin with $((REL_N / 2)) revisions, merges included" rel_make_origin "$A" $((REL_N / 2))
"$CKS" init --db "$B" --instance B >/dev/null

cfg="$T_TMP/consumer.conf"
rel_consumer_config "$cfg"
"$PRODUCER" --db "$A" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --partitions 3 \
	--batch-size 100 2>"$T_TMP/producer.log" &
prod=$!
"$CONSUMER" --db "$B" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A \
	--config "$cfg" --batch-size 100 2>"$T_TMP/consumer.log" &
cons=$!
T_PIDS+=("$prod" "$cons")
# The writer goes on until every fault is done (a faster pipeline made a
# fixed number of chunks end before the PostgreSQL restarts: no progress to
# see there).
REL_WRITER_STOP="$T_TMP/writer.stop"
rel_writer_start "$A" $((REL_N - REL_N / 2)) 150 0.2 tolerant

# rel_progress WHAT SECONDS: waits until the topic (WHAT=topic) or the
# mirror (WHAT=mirror) has moved on from its value now.
rel_progress() {
	local from i
	from=$([ "$1" = topic ] && rel_topic_end "$T" || rel_applied "$B")
	for i in $(seq 1 $(($2 * 4))); do
		sleep 0.25
		[ "$([ "$1" = topic ] && rel_topic_end "$T" || rel_applied "$B")" -gt "$from" ] && return 0
	done
	return 1
}

for n in 1 2; do
	check "broker restart $n: daemons busy before" rel_progress mirror 120
	rel_sleep_random 0 1000
	svc_a restart-kafka 2>>"$T_TMP/services.log"
	echo "# broker restarted ($n) at $(rel_since "$t0") s"
	check "broker restart $n: the producer publishes again" rel_progress topic 180
	check "broker restart $n: the consumer applies again" rel_progress mirror 180
done

check "origin PostgreSQL: the producer is publishing" rel_progress topic 120
rel_sleep_random 0 300
svc_a restart-pg immediate 2>>"$T_TMP/services.log"
echo "# origin PostgreSQL restarted (immediate shutdown) at $(rel_since "$t0") s"
check "origin PostgreSQL restart: the producer publishes again" rel_progress topic 180

check "mirror PostgreSQL: the consumer is applying" rel_progress mirror 120
rel_sleep_random 0 300
svc_b restart-pg immediate 2>>"$T_TMP/services.log"
echo "# mirror PostgreSQL restarted (immediate shutdown) at $(rel_since "$t0") s"
check "mirror PostgreSQL restart: the consumer applies again" rel_progress mirror 180
# They say so: a lost connection is a query that fails, a reconnect is logged
# (the "lost connection ...; retrying with backoff" line comes only when the
# first reconnect fails too, i.e. when the daemon noticed while PostgreSQL
# was still down: not every run).
check "the producer logs its reconnect to the origin's PostgreSQL" \
	grep -q "\[postgresql\].*reconnected" "$T_TMP/producer.log"
check "the consumer logs its reconnect to the mirror's PostgreSQL" \
	grep -q "\[postgresql\].*reconnected" "$T_TMP/consumer.log"

touch "$REL_WRITER_STOP"
check "the writer made its revisions through the restarts" rel_writer_wait
# Drain: everything in the outbox acknowledged, everything in the topic applied.
backlog="SELECT count(*) FROM ckansync.outbox x WHERE (x.ord, x.seq) > coalesce((SELECT (c.ord, c.seq) FROM ckansync.producer_cursor c), ('0'::xid8, 0::bigint))"
for _ in $(seq 1 1200); do [ "$(t_sql "$A" "$backlog")" = 0 ] && break; sleep 0.25; done
check_eq "the producer published everything" 0 "$(t_sql "$A" "$backlog")"
for _ in $(seq 1 2400); do [ "$(rel_applied "$B")" = "$(rel_topic_end "$T")" ] && break; sleep 0.25; done
check_eq "the consumer applied everything" "$(rel_topic_end "$T")" "$(rel_applied "$B")"
check "both daemons rode it out (still running)" kill -0 "$prod" "$cons"
kill -TERM "$prod" "$cons"
wait "$prod"
check_eq "the producer stops cleanly (exit 0: all acknowledged)" 0 $?
wait "$cons"
check_eq "the consumer stops cleanly (exit 0)" 0 $?

: >"$T_TMP/nokills"
kcat -C -b "$CKANSYNC_BROKERS" -t "$T" -e -q -f '%p %o %k %h\n' >"$T_TMP/dump" 2>/dev/null
check "the topic holds every revision exactly once" $RELTOOL topic-check "$A" "$T_TMP/dump" "$T_TMP/nokills"
sed 's/^/# /' "$T_TMP/out"
check_eq "digest --history of the mirror equals the origin's" \
	"$("$CKS" digest --db "$A" --history)" "$("$CKS" digest --db "$B" --history)"
check "no half-applied revision on the mirror (invariants)" $RELTOOL invariants "$B"
check_eq "no dead letters" 0 "$(rel_topic_end "$P.deadletter")"

echo "# what the operator sees (first lines of each kind):"
for f in producer consumer; do
	grep -E " (warn|error)" "$T_TMP/$f.log" | sed -E 's/^[^ ]+ //; s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/HOST:PORT/g' |
		cut -c1-160 | sort | uniq -c | sort -rn | head -8 | sed "s/^/#   $f: /"
	grep -E "reconnected|lost connection" "$T_TMP/$f.log" | cut -c1-160 | head -4 | sed "s/^/#   $f: /"
done
echo "# origin: $(rel_revisions "$A") revisions; total $(rel_since "$t0") s"
t_summary
