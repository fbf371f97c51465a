#!/usr/bin/env bash
# e2e: 3-way mesh A, B, C (docs/two-way.md, docs/scenarios/mesh.md). Each
# instance publishes and follows the two others (--two-way, newest-wins on
# all three). Seeded random concurrent edits over many rounds, each round
# followed by a random partial sync (some publish, some consume, at the
# same time). After quiescence every instance has the same digest --history,
# the same merge revisions, and one more full exchange adds nothing; the
# number of merge revisions is bounded by the number of edits.
# CKS_MESH_SEED and CKS_MESH_ROUNDS change the run.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

SEED=${CKS_MESH_SEED:-7}
ROUNDS=${CKS_MESH_ROUNDS:-6}
if [ -z "${CKS_MESH_ROUNDS:-}" ] && e_sanitized; then ROUNDS=4; fi # sanitizer build: slower
NPKG=4
RANDOM=$SEED
echo "# seed $SEED, $ROUNDS rounds"
IDS=(A B C)
declare -A DB
for x in "${IDS[@]}"; do DB[$x]=$(e_instance "$x") || { echo "cannot create $x"; exit 1; }; done
P=$(t_prefix)
TWO=(-- --two-way --policy newest-wins)
others() { local x; for x in "${IDS[@]}"; do [ "$x" = "$1" ] || printf '%s ' "$x"; done; }
publish() { t_publish "${DB[$1]}" "$P"; }
sync_one() { t_sync "${DB[$1]}" "$P" $(others "$1") "${TWO[@]}"; }
# full exchange: every instance publishes, then every instance consumes
exchange() {
	e_par "publish A" "publish B" "publish C" && e_par "sync_one A" "sync_one B" "sync_one C"
}
nrev() { local x s=""; for x in "${IDS[@]}"; do s+="$(t_sql "${DB[$x]}" "SELECT count(*) FROM ckansync.object_revision") "; done; echo "$s"; }
merge_ids() { t_sql "$1" "SELECT id FROM ckansync.object_revision WHERE cardinality(parents) = 2 ORDER BY id"; }

# NPKG small packages made on A, known everywhere before the rounds start
for i in $(seq 1 $NPKG); do
	"$CKS" put --db "${DB[A]}" --author seed - >/dev/null <<<"{\"name\": \"mesh-$i\", \"title\": \"Mesh $i\", \"notes\": \"n$i\", \"tags\": [{\"name\": \"t0\"}], \"extras\": [{\"key\": \"k0\", \"value\": \"v0\"}], \"resources\": [{\"id\": \"00000000-0000-4000-8000-00000000000$i\", \"url\": \"http://r/$i\", \"name\": \"r$i\"}]}" || not_ok "create mesh-$i"
done
check "initial exchange" exchange
check_eq "all equal before the rounds" equal "$(e_digests "${DB[A]}" "${DB[B]}" "${DB[C]}")"

# one random edit on instance X (python does the edit, seeded from bash)
edit() {
	local x=$1 pkg="mesh-$((RANDOM % NPKG + 1))" op=$((RANDOM % 6)) r=$RANDOM
	e_edit "${DB[$x]}" "$pkg" "
op, r, x = $op, $r, '$x'
if op == 0: d['title'] = 'title by %s %d' % (x, r)
elif op == 1: d['notes'] = 'notes by %s %d' % (x, r)
elif op == 2: d['tags'] = d.get('tags', []) + [{'name': 't%d' % (r % 7)}] if all(t['name'] != 't%d' % (r % 7) for t in d.get('tags', [])) else d.get('tags', [])
elif op == 3: d['tags'] = d.get('tags', [])[1:]
elif op == 4: d['extras'] = [e for e in d.get('extras', []) if e['key'] != 'k%d' % (r % 3)] + [{'key': 'k%d' % (r % 3), 'value': '%s%d' % (x, r)}]
else:
    for res in d.get('resources', []): res['url'] = 'http://%s/%d' % (x, r)
" --author "user-$x" >/dev/null
}

edits=0
for round in $(seq 1 "$ROUNDS"); do
	for x in "${IDS[@]}"; do
		for _ in $(seq 0 $((RANDOM % 2))); do edit "$x" && edits=$((edits + 1)); done
	done
	pubs=() subs=()
	for x in "${IDS[@]}"; do
		[ $((RANDOM % 3)) != 0 ] && pubs+=("publish $x")
		[ $((RANDOM % 2)) = 0 ] && subs+=("sync_one $x")
	done
	[ ${#pubs[@]} -gt 0 ] && { e_par "${pubs[@]}" || not_ok "round $round: publish"; }
	[ ${#subs[@]} -gt 0 ] && { e_par "${subs[@]}" || not_ok "round $round: sync"; }
	ok "round $round: edits, then ${#pubs[@]} publishing, ${#subs[@]} consuming"
done

# Quiescence: full exchanges until all are equal (bounded), then one more.
for k in 1 2 3 4 5; do
	exchange || not_ok "exchange $k"
	[ "$(e_digests "${DB[A]}" "${DB[B]}" "${DB[C]}")" = equal ] && break
done
check_eq "after quiescence: same digest --history on A, B and C" equal "$(e_digests "${DB[A]}" "${DB[B]}" "${DB[C]}")"
check_eq "same current state on A and C" "$("$CKS" digest --db "${DB[A]}")" "$("$CKS" digest --db "${DB[C]}")"
check_eq "same merge revisions on A and B" "$(merge_ids "${DB[A]}")" "$(merge_ids "${DB[B]}")"
check_eq "same merge revisions on A and C" "$(merge_ids "${DB[A]}")" "$(merge_ids "${DB[C]}")"
before=$(nrev)
check "one more full exchange" exchange
check_eq "no ping-pong: nothing new anywhere" "$before" "$(nrev)"
m=$(e_merges "${DB[A]}")
if [ "$m" -le "$edits" ]; then ok "merges bounded: $m merge revisions for $edits edits"
else not_ok "merges: $m merge revisions for $edits edits"; fi
check_eq "no dead letters" 0 "$(grep -c 'dead-lettered' "$T_TMP/consumer.log")"
t_summary
