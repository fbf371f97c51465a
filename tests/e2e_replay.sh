#!/usr/bin/env bash
# e2e: replay to rebuild (docs/scenarios/replay.md). Kafka keeps the whole
# history (retention.ms=-1), so an instance can be dropped and rebuilt from
# the topics into a new empty database, with the same digest --history.
#   1. B mirrors A and C (edits, a delete, a purge, users, a group): drop B,
#      initialise an empty database as B, replay A's and C's topics.
#   2. B syncs both ways with A and has its own edits and merges: drop B,
#      replay A's and B's own topics into a new empty instance.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

drop() { # conninfo: drops that database
	local name=${1##*dbname=}
	psql -X -q "$CKANSYNC_PG dbname=postgres" -v ON_ERROR_STOP=1 -c "DROP DATABASE \"$name\" WITH (FORCE)" >/dev/null
}
t_datasets 5 >"$T_TMP/ds.jsonl"
mapfile -t N < <(python3 -c 'import json,sys; [print(json.loads(l)["name"]) for l in open(sys.argv[1])]' "$T_TMP/ds.jsonl")

# --- 1. a mirror of A and C --------------------------------------------------------------
A=$(e_instance A) && B=$(e_instance B) && C=$(e_instance C) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
head -4 "$T_TMP/ds.jsonl" >"$T_TMP/a.jsonl"
tail -1 "$T_TMP/ds.jsonl" >"$T_TMP/c.jsonl"
check "A imports 4 datasets" "$CKS" import --db "$A" "$T_TMP/a.jsonl"
check "A: a group and a user" "$CKS" put --db "$A" --type group - <<<'{"name": "replayed-group", "title": "Replayed"}'
echo '{"name": "replay-user", "fullname": "R. User"}' | "$CKS" user put --db "$A" - >/dev/null
check "C imports 1 dataset" "$CKS" import --db "$C" "$T_TMP/c.jsonl"
check "A and C publish" e_par 't_publish "$A" "$P"' 't_publish "$C" "$P"'
check "B syncs" t_sync "$B" "$P" A C
check "A edits ${N[0]}" e_edit "$A" "${N[0]}" 'd["title"] = "edited before the rebuild"'
check "A deletes ${N[1]}" "$CKS" delete --db "$A" "${N[1]}"
check "A purges ${N[2]}" "$CKS" purge --db "$A" "${N[2]}"
check "C edits ${N[4]}" e_edit "$C" "${N[4]}" 'd["notes"] = "edited on C"'
check "A and C publish" e_par 't_publish "$A" "$P"' 't_publish "$C" "$P"'
check "B syncs" t_sync "$B" "$P" A C
OLD=$("$CKS" digest --db "$B" --history)
OLDCUR=$("$CKS" digest --db "$B")
check "drop B" drop "$B"
B=$(e_instance B) || { echo "cannot create B again"; exit 1; }
check_ne "the new B is empty" "$OLD" "$("$CKS" digest --db "$B" --history)"
check "replay A's and C's topics into the new B" t_sync "$B" "$P" A C -- --from-beginning
check_eq "rebuilt B: same digest --history as the old B" "$OLD" "$("$CKS" digest --db "$B" --history)"
check_eq "rebuilt B: same current digest" "$OLDCUR" "$("$CKS" digest --db "$B")"
check_eq "the purge was replayed too" 1 "$(t_sql "$B" "SELECT count(*) FROM ckansync.tombstone")"
check_eq "the search vectors were rebuilt" "${N[0]}" "$("$CKS" search --db "$B" rebuild)"

# --- 2. an instance with its own edits and merges (2-way with A) ---------------------------
A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
TWO=(-- --two-way --policy origin-priority:A,B)
exchange() {
	e_par 't_publish "$A" "$P"' 't_publish "$B" "$P"' &&
		e_par 't_sync "$B" "$P" A "${TWO[@]}"' 't_sync "$A" "$P" B "${TWO[@]}"'
}
python3 - >"$T_TMP/small.jsonl" <<'PY'
import json
for i in range(4):
    print(json.dumps({"name": "replay-%d" % i, "title": "Dataset %d" % i, "tags": [{"name": "t"}]}))
PY
N=(replay-0 replay-1 replay-2 replay-3)
check "A imports 4 datasets" "$CKS" import --db "$A" "$T_TMP/small.jsonl"
check "exchange" exchange
for round in 1 2 3; do
	e_edit "$A" "${N[0]}" "d['title'] = 'A $round'" >/dev/null
	e_edit "$B" "${N[0]}" "d['title'] = 'B $round'; d['notes'] = 'B notes $round'" >/dev/null
	e_edit "$B" "${N[$round]}" "d['tags'] = [{'name': 'b$round'}]" >/dev/null
	check "round $round: concurrent edits, exchange" exchange
done
check "final exchange" exchange
check "B publishes everything it has" t_publish "$B" "$P"
check_ne "B made merges" 0 "$(e_merges "$B")"
OLD=$("$CKS" digest --db "$B" --history)
check "drop B" drop "$B"
R=$(e_instance B-rebuilt) || { echo "cannot create the new instance"; exit 1; }
check "replay A's and B's topics into a new empty instance" t_sync "$R" "$P" A B "${TWO[@]}" --from-beginning
check_eq "same digest --history as the old B" "$OLD" "$("$CKS" digest --db "$R" --history)"
check_eq "it made no merge of its own: each was in the topics" 0 \
	"$(grep -A0 'stopped:' "$T_TMP/consumer.log" | tail -1 | grep -o '[0-9]* merges' | cut -d' ' -f1)"
t_summary
