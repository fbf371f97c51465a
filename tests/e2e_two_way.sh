#!/usr/bin/env bash
# e2e: 2-way sync A ↔ B with concurrent edits on both sides
# (docs/two-way.md, docs/scenarios/two-way.md). Each instance runs a
# producer and a consumer following the other, both with --two-way and the
# same symmetric policy. After quiescence both hold the same history
# (digest --history), both made the very same merge revisions (same ids, same
# bytes), and an extra exchange makes nothing new: no ping-pong.
# Also: --two-way refuses an asymmetric policy, and an instance whose
# consumer sees a merge made with another policy stops with a clear error.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

POL=origin-priority:A,B
TWO=(-- --two-way --policy "$POL")
A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)

# --- configuration enforces the conditions ---------------------------------------------
for pol in local-wins remote-wins; do
	if "$CONSUMER" --db "$B" --brokers "$CKANSYNC_BROKERS" --origin A --two-way --policy "$pol" \
		--until-idle >"$T_TMP/refused.log" 2>&1; then
		not_ok "--two-way accepted $pol"
	elif grep -q "symmetric policy" "$T_TMP/refused.log"; then
		ok "--two-way refuses $pol (asymmetric)"
	else
		not_ok "--two-way $pol: unexpected error: $(tail -1 "$T_TMP/refused.log")"
	fi
done

publish_both() { e_par 't_publish "$A" "$P"' 't_publish "$B" "$P"'; }
# exchange [seq]: publish both, then both consumers (at the same time, or
# one after the other with "seq")
exchange() {
	publish_both || return 1
	if [ "${1:-}" = seq ]; then
		t_sync "$B" "$P" A "${TWO[@]}" && t_sync "$A" "$P" B "${TWO[@]}"
	else
		e_par 't_sync "$B" "$P" A "${TWO[@]}"' 't_sync "$A" "$P" B "${TWO[@]}"'
	fi
}
nrev() { t_sql "$1" "SELECT count(*) FROM ckansync.object_revision"; }
merge_ids() { t_sql "$1" "SELECT id FROM ckansync.object_revision WHERE cardinality(parents) = 2 ORDER BY id"; }
quiet_edit() { e_edit "$@" >/dev/null; }

python3 - >"$T_TMP/ds.jsonl" <<'PY'
import json
for i in range(4):
    print(json.dumps({"name": "two-way-%d" % i, "title": "Dataset %d" % i, "notes": "n%d" % i,
                      "url": "http://example.org/%d" % i, "tags": [{"name": "t"}],
                      "resources": [{"id": "00000000-0000-4000-8000-%012d" % i, "url": "http://r/%d" % i}]}))
PY
mapfile -t N < <(python3 -c 'import json,sys; [print(json.loads(l)["name"]) for l in open(sys.argv[1])]' "$T_TMP/ds.jsonl")
check "A imports 4 datasets" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
check "first exchange (B gets A's datasets)" exchange
check_eq "A and B equal" equal "$(e_digests "$A" "$B")"

# --- round 1: the case that used to ping-pong --------------------------------------------
# A edits twice, B once, concurrently; each instance merges on its own.
check "A: edit 1 of ${N[0]} (title)" quiet_edit "$A" "${N[0]}" 'd["title"] = "A title"'
check "A: edit 2 of ${N[0]} (url)" quiet_edit "$A" "${N[0]}" 'd["url"] = "http://a.example.org/x"'
check "B: edit of ${N[0]} (title, notes)" quiet_edit "$B" "${N[0]}" 'd["title"] = "B title"; d["notes"] = "B notes"'
check "A and B publish" publish_both
check "B merges A's edits" t_sync "$B" "$P" A "${TWO[@]}"
check "A merges B's edit" t_sync "$A" "$P" B "${TWO[@]}"
check_eq "each made one merge" "1 1" "$(e_merges "$A") $(e_merges "$B")"
check_eq "the same merge revision on both (same id)" "$(merge_ids "$A")" "$(merge_ids "$B")"
check_eq "the same state (digest)" "$("$CKS" digest --db "$A")" "$("$CKS" digest --db "$B")"
check_eq "title chosen by priority (A), notes from B" "A title|B notes|http://a.example.org/x" \
	"$(e_field "$B" "${N[0]}" '"|".join([d["title"], d["notes"], d["url"]])')"
check_eq "both recorded the title conflict" "field title|field title" "$(e_conflicts "$A")|$(e_conflicts "$B")"
before="$(nrev "$A") $(nrev "$B")"
check "they exchange their merges" exchange
check_eq "nothing new: each already had the other's merge" "$before" "$(nrev "$A") $(nrev "$B")"
check_eq "same history (digest --history)" equal "$(e_digests "$A" "$B")"

# --- rounds 2-3: concurrent edits of several packages, syncs together or in turn ------
edits=3 # round 1
for round in 2 3; do
	i=$((round % 4)); j=$(((round + 1) % 4))
	quiet_edit "$A" "${N[$i]}" "d['title'] = 'A round $round'" && edits=$((edits + 1))
	quiet_edit "$B" "${N[$i]}" "d['tags'] = d.get('tags', []) + [{'name': 'b-round-$round'}]" && edits=$((edits + 1))
	quiet_edit "$B" "${N[$j]}" "d['notes'] = 'B round $round'" && edits=$((edits + 1))
	quiet_edit "$A" "${N[$j]}" "d['extras'] = [{'key': 'round', 'value': '$round'}]" && edits=$((edits + 1))
	if [ $((round % 2)) = 0 ]; then order=seq; else order=; fi
	# half of the time only one side syncs before the next round's edits
	if [ $round = 3 ]; then
		check "round $round: A publishes, only B syncs" t_publish "$A" "$P"
		check "round $round: B syncs" t_sync "$B" "$P" A "${TWO[@]}"
	else
		check "round $round: exchange ${order:-at the same time}" exchange $order
	fi
done
# Quiescence: exchange until equal (bounded), then once more.
for k in 1 2 3 4; do
	exchange
	[ "$(e_digests "$A" "$B")" = equal ] && break
done
check_eq "after quiescence: same history (digest --history)" equal "$(e_digests "$A" "$B")"
check_eq "same current state (digest)" "$("$CKS" digest --db "$A")" "$("$CKS" digest --db "$B")"
check_eq "same merge revisions" "$(merge_ids "$A")" "$(merge_ids "$B")"
before="$(nrev "$A") $(nrev "$B")"
check "one more exchange" exchange
check_eq "no ping-pong: nothing new" "$before" "$(nrev "$A") $(nrev "$B")"
m=$(e_merges "$A")
if [ "$m" -ge 1 ] && [ "$m" -le $((edits + 1)) ]; then ok "merges bounded: $m for $edits concurrent edits"
else not_ok "merges: $m for $edits edits"; fi
check_eq "every merge has two parents known on both" 0 \
	"$(t_sql "$A" "SELECT count(*) FROM ckansync.object_revision r, unnest(r.parents) p WHERE NOT EXISTS (SELECT 1 FROM ckansync.object_revision x WHERE x.id = p)")"

# --- heads do not depend on the order revisions arrive in -------------------------------------
# A edits twice and B once, both publish; C reads A's topic then B's, D
# reads B's then A's: both make the same merge and end equal, and equal to
# A and B once these two have exchanged.
A=$(e_instance A) && B=$(e_instance B) && C=$(e_instance C) && D=$(e_instance D) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
check "A3 imports" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
check "exchange" exchange
quiet_edit "$A" "${N[2]}" 'd["title"] = "A3 one"'
quiet_edit "$A" "${N[2]}" 'd["notes"] = "A3 two"'
quiet_edit "$B" "${N[2]}" 'd["title"] = "B3"'
check "A3 and B3 publish" publish_both
check "C: A's topic first" t_sync "$C" "$P" A "${TWO[@]}"
check "C: then B's" t_sync "$C" "$P" B "${TWO[@]}"
check "D: B's topic first" t_sync "$D" "$P" B "${TWO[@]}"
check "D: then A's" t_sync "$D" "$P" A "${TWO[@]}"
check_eq "C and D: the same history" equal "$(e_digests "$C" "$D")"
check_eq "C and D: one merge each, the same" "$(merge_ids "$C")" "$(merge_ids "$D")"
check "A3 and B3 exchange" exchange
check_eq "A3, B3, C and D: the same history" equal "$(e_digests "$A" "$B" "$C" "$D")"

# --- different policies: refused at the first merge from the other side ---------------------
A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
check "A2 imports" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
t_publish "$A" "$P"
check "B2 syncs (origin-priority)" t_sync "$B" "$P" A "${TWO[@]}"
quiet_edit "$A" "${N[1]}" 'd["title"] = "A2"'
quiet_edit "$B" "${N[1]}" 'd["title"] = "B2"'
t_publish "$A" "$P"
check "B2 merges with origin-priority" t_sync "$B" "$P" A "${TWO[@]}"
t_publish "$B" "$P"
if timeout 60 "$CONSUMER" --db "$A" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin B \
	--two-way --policy newest-wins --until-idle --partitions 2 >"$T_TMP/mismatch.log" 2>&1; then
	not_ok "A2 (newest-wins) accepted B2's origin-priority merge"
elif grep -q "same symmetric policy" "$T_TMP/mismatch.log"; then
	ok "A2 (newest-wins) stops at B2's merge: 'every instance must use the same symmetric policy'"
else
	not_ok "A2: unexpected: $(tail -2 "$T_TMP/mismatch.log")"
fi
t_summary
