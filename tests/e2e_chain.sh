#!/usr/bin/env bash
# e2e: more than two servers (docs/scenarios/chain.md).
#   Third server: B follows A and C, and syncs from C at a different time
#   than from A.
#   Chain A → B → C: C follows only B and still gets A's revisions, with A
#   as their origin (B republishes what it imported).
#   C following both A and B gets A's revisions twice and applies each once.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

t_datasets 6 >"$T_TMP/ds.jsonl"
head -3 "$T_TMP/ds.jsonl" >"$T_TMP/a.jsonl"
tail -3 "$T_TMP/ds.jsonl" >"$T_TMP/c.jsonl"
A1=$(sed -n 1p "$T_TMP/a.jsonl" | e_json 'd["name"]')
C1=$(sed -n 1p "$T_TMP/c.jsonl" | e_json 'd["name"]')

# --- third server: B follows A and C, at different times -------------------------
A=$(e_instance A) && B=$(e_instance B) && C=$(e_instance C) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
check "A imports 3 datasets" "$CKS" import --db "$A" "$T_TMP/a.jsonl"
check "C imports 3 other datasets" "$CKS" import --db "$C" "$T_TMP/c.jsonl"
check "A publishes" t_publish "$A" "$P"
check "C publishes" t_publish "$C" "$P"
check "10:00 B syncs from A only" t_sync "$B" "$P" A
check_eq "B has A's datasets, not yet C's" "3 0" \
	"$(t_sql "$B" "SELECT count(*) FILTER (WHERE v.origin = 'A') || ' ' || count(*) FILTER (WHERE v.origin = 'C') FROM ckansync.object_revision r JOIN ckansync.revision v ON v.id = r.revision_id")"
check "C edits $C1" e_edit "$C" "$C1" 'd["title"] = "edited on C"'
check "C publishes" t_publish "$C" "$P"
check "10:30 B syncs from C only" t_sync "$B" "$P" C
check "A edits $A1" e_edit "$A" "$A1" 'd["title"] = "edited on A"'
check "A publishes" t_publish "$A" "$P"
check "11:00 B syncs from A and C" t_sync "$B" "$P" A C
check_eq "B: A's datasets with A's history" "$(e_objrevs "$A" "$A1")" "$(e_objrevs "$B" "$A1")"
check_eq "B: C's datasets with C's history" "$(e_objrevs "$C" "$C1")" "$(e_objrevs "$B" "$C1")"
check_eq "B: C's edit" "edited on C" "$(e_field "$B" "$C1" 'd["title"]')"
check_eq "B: origins kept (4 from A, 4 from C)" "4 4" \
	"$(t_sql "$B" "SELECT count(*) FILTER (WHERE v.origin = 'A') || ' ' || count(*) FILTER (WHERE v.origin = 'C') FROM ckansync.object_revision r JOIN ckansync.revision v ON v.id = r.revision_id")"
check_eq "B: no conflicts" "" "$(e_conflicts "$B")"
check_eq "status: B records both origins" "A C" "$("$CKS" status --db "$B" --json | python3 -c '
import json, re, sys
print(" ".join(sorted({m for m in re.findall(r"\.([A-Z])\.(?:revisions|objects)", sys.stdin.read())})))')"

# --- chain A → B → C ----------------------------------------------------------------
A=$(e_instance A) && B=$(e_instance B) && C=$(e_instance C) && C2=$(e_instance C) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
check "chain: A imports 3 datasets" "$CKS" import --db "$A" "$T_TMP/a.jsonl"
check "chain: A edits $A1" e_edit "$A" "$A1" 'd["tags"] = [{"name": "chained"}]'
check "chain: A publishes" t_publish "$A" "$P"
check "chain: B syncs from A" t_sync "$B" "$P" A
check "chain: B edits $A1 (its own revision)" e_edit "$B" "$A1" 'd["notes"] = "noted on B"'
check "chain: B publishes what it imported and its own" t_publish "$B" "$P"
check "chain: C syncs from B only" t_sync "$C" "$P" B
check_eq "C holds B's history (digest --history)" equal "$(e_digests "$B" "$C")"
check_eq "C: A's revisions keep A as their origin" "A A B" \
	"$(e_log "$C" "$A1" | e_json '" ".join(r["origin"] for r in d)')"
check_eq "C: same object revision ids as A, then B's" \
	"$(e_objrevs "$A" "$A1"; e_head "$B" "$A1")" "$(e_objrevs "$C" "$A1")"
check_eq "C: the search vector has A's tag" "$A1" "$("$CKS" search --db "$C" chained)"

# --- C following both A and B -----------------------------------------------------
check "C2 follows A and B (gets A's revisions twice)" t_sync "$C2" "$P" A B
check_eq "C2 equals B (digest --history)" equal "$(e_digests "$B" "$C2")"
check_eq "C2 applied each revision once (log lengths)" "$(e_log "$B" | e_json 'len(d)')" "$(e_log "$C2" | e_json 'len(d)')"
check_eq "C2: no conflicts" "" "$(e_conflicts "$C2")"
check "A edits again" e_edit "$A" "$A1" 'd["title"] = "after the chain"'
check "A publishes" t_publish "$A" "$P"
check "B syncs" t_sync "$B" "$P" A
check "B republishes" t_publish "$B" "$P"
check "C2 syncs from A and B" t_sync "$C2" "$P" A B
check_eq "C2 still equals B" equal "$(e_digests "$B" "$C2")"
check_eq "C2 has A's latest title once" "after the chain" "$(e_field "$C2" "$A1" 'd["title"]')"
t_summary
