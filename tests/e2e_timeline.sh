#!/usr/bin/env bash
# e2e: the seed's timeline, step by step, with real producer and consumer
# processes (docs/scenarios/timeline.md).
#   before 10:00  A: Rev1 creates Pkg1 and Pkg2, Rev2 edits Pkg1 (Pkg1Rev2,
#                 tag water, in Group1); Group1; User1
#   10:00         first sync A → B: same UUIDs on B
#   10:20         A: Pkg1Rev3 (new title), Pkg1Rev4 (tag sea, new url);
#                 User1 renames himself (unversioned object)
#   10:40         B: Pkg1Rev5 (new notes, tag coast, another url)
#   next sync     B holds Pkg1Rev4 and Pkg1Rev5 in history, one merge
#                 revision Pkg1Rev6 with both as parents, a conflict for the
#                 field both changed (url), the merged package per the
#                 priority order (origin-priority:A,B), and the renamed user.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
POLICY=(-- --policy origin-priority:A,B)

# --- before 10:00, on A ------------------------------------------------------
echo '{"name": "group1", "title": "Group 1"}' >"$T_TMP/group1.json"
check "A: Group1" "$CKS" put --db "$A" --type group --author admin "$T_TMP/group1.json"
echo '{"id": "7f1c3e0a-1b2c-4d5e-8f90-0a1b2c3d4e5f", "name": "user1", "fullname": "User One"}' \
	| "$CKS" user put --db "$A" - >/dev/null && ok "A: User1" || not_ok "A: User1"
t_datasets 2 >"$T_TMP/ds.jsonl"
PKG1=$(sed -n 1p "$T_TMP/ds.jsonl" | e_json 'd["name"]')
PKG2=$(sed -n 2p "$T_TMP/ds.jsonl" | e_json 'd["name"]')
check "A: Rev1 creates Pkg1 ($PKG1) and Pkg2 ($PKG2)" "$CKS" import --db "$A" --author alice "$T_TMP/ds.jsonl"
check "A: Rev2 edits Pkg1 (tag water, Group1, url)" e_edit "$A" "$PKG1" '
d["tags"] = [{"name": "water"}]
d["groups"] = [{"name": "group1"}]
d["url"] = "http://a.example.org/pkg1"' --author alice --message "Pkg1Rev2"

# --- 10:00: first sync ---------------------------------------------------------
check "10:00 A publishes" t_publish "$A" "$P"
check "10:00 B syncs from A" t_sync "$B" "$P" A "${POLICY[@]}"
check_eq "10:00 B has A's history (digest --history)" "$(e_digests "$A" "$B")" equal
check_eq "10:00 Pkg1's object revisions have the same UUIDs" "$(e_objrevs "$A" "$PKG1")" "$(e_objrevs "$B" "$PKG1")"
check_eq "10:00 B's search vector finds Pkg1 by its tag" "$PKG1" "$("$CKS" search --db "$B" water)"
check_eq "10:00 User1 on B" "User One" "$(t_sql "$B" "SELECT state->>'fullname' FROM ckansync.uobject WHERE type = 'user'")"
check_eq "10:00 Pkg1 is in Group1 on B" "group1" "$(t_sql "$B" "SELECT m.group_ref FROM ckansync.member m JOIN ckansync.package p ON p.id = m.table_id WHERE p.name = '$PKG1' AND m.capacity = 'public'")"
REV2=$(e_head "$A" "$PKG1")

# --- 10:20: on A -----------------------------------------------------------------
e_edit "$A" "$PKG1" 'd["title"] = "Pkg1, retitled on A"' --author alice --message "Rev2" >/dev/null \
	&& ok "10:20 A: Rev2/Pkg1Rev3 (title)" || not_ok "10:20 A: Rev2/Pkg1Rev3"
REV3=$(e_head "$A" "$PKG1")
e_edit "$A" "$PKG1" '
d["tags"] = d["tags"] + [{"name": "sea"}]
d["url"] = "http://a.example.org/pkg1-v2"' --author alice --message "Rev3" >/dev/null \
	&& ok "10:20 A: Rev3/Pkg1Rev4 (tag sea, url)" || not_ok "10:20 A: Rev3/Pkg1Rev4"
REV4=$(e_head "$A" "$PKG1")
echo '{"id": "7f1c3e0a-1b2c-4d5e-8f90-0a1b2c3d4e5f", "name": "user1", "fullname": "User One Renamed"}' \
	| "$CKS" user put --db "$A" - >/dev/null && ok "10:20 A: User1 updates his name" || not_ok "10:20 User1 rename"

# --- 10:40: on B -----------------------------------------------------------------
e_edit "$B" "$PKG1" '
d["notes"] = "Notes written on B"
d["tags"] = d["tags"] + [{"name": "coast"}]
d["url"] = "http://b.example.org/pkg1"' --author bob --message "Pkg1Rev5" >/dev/null \
	&& ok "10:40 B: Pkg1Rev5 (notes, tag coast, url)" || not_ok "10:40 B: Pkg1Rev5"
REV5=$(e_head "$B" "$PKG1")

# --- next sync -------------------------------------------------------------------
check "next sync: A publishes Rev2, Rev3 and User1" t_publish "$A" "$P"
check "next sync: B applies them" t_sync "$B" "$P" A "${POLICY[@]}"

objrevs=$(e_objrevs "$B" "$PKG1")
for r in "$REV2:Pkg1Rev2" "$REV3:Pkg1Rev3" "$REV4:Pkg1Rev4" "$REV5:Pkg1Rev5"; do
	grep -qx "${r%%:*}" <<<"$objrevs" && ok "B's history holds ${r#*:}" || not_ok "B's history lacks ${r#*:}"
done
merges=$(e_log "$B" "$PKG1" | e_json '[o["parents"] for r in d if r["kind"] == "merge" for o in r["objects"]]')
check_eq "one merge revision, parents Pkg1Rev4 and Pkg1Rev5" \
	"$(python3 -c 'import json,sys; print(json.dumps([sorted(sys.argv[1:])]))' "$REV4" "$REV5")" "$merges"
HEAD=$(e_head "$B" "$PKG1")
check_eq "the merge (Pkg1Rev6) is Pkg1's head on B" "merge" \
	"$(e_log "$B" "$PKG1" | e_json "[r['kind'] for r in d if r['objects'][0]['objrev_id'] == '$HEAD'][0]")"
check_eq "merge author and message" "ckansync Merge of" \
	"$(e_log "$B" "$PKG1" | e_json "[r['author'] + ' ' + r['message'][:8] for r in d if r['kind'] == 'merge'][0]")"
check_eq "a conflict for the field both changed (url), none for the others" "field url" "$(e_conflicts "$B")"
check_eq "url chosen by priority (A before B)" "http://a.example.org/pkg1-v2" "$(e_field "$B" "$PKG1" 'd["url"]')"
check_eq "conflict event records both values and the choice" \
	'"http://b.example.org/pkg1" "http://a.example.org/pkg1-v2" origin-priority:A,B "http://a.example.org/pkg1-v2"' \
	"$("$CKS" conflicts --db "$B" --json | e_json '" ".join([d[0]["local_value"], d[0]["remote_value"], d[0]["resolution"], d[0]["chosen_value"]])')"
check_eq "title from A (only A changed it)" "Pkg1, retitled on A" "$(e_field "$B" "$PKG1" 'd["title"]')"
check_eq "notes from B (only B changed it)" "Notes written on B" "$(e_field "$B" "$PKG1" 'd["notes"]')"
check_eq "tags: both sides' additions" '["coast", "sea", "water"]' "$(e_field "$B" "$PKG1" 'sorted(t["name"] for t in d["tags"])')"
check_eq "User1's new name on B" "User One Renamed" "$(t_sql "$B" "SELECT state->>'fullname' FROM ckansync.uobject WHERE type = 'user'")"
check_eq "search on B finds the merged Pkg1 (title from A)" "$PKG1" "$("$CKS" search --db "$B" retitled)"
check_eq "search on B finds the merged Pkg1 (tag from B)" "$PKG1" "$("$CKS" search --db "$B" coast)"
check_eq "Pkg2 untouched and equal" "$(e_field "$A" "$PKG2" 'd["revision_id"]')" "$(e_field "$B" "$PKG2" 'd["revision_id"]')"
check_ne "status: B records the time of the sync" 0 "$("$CKS" status --db "$B" --json | grep -c last_sync)"

# The sync is idempotent: again, nothing changes on B.
before=$("$CKS" digest --db "$B" --history)
check "sync again" t_sync "$B" "$P" A "${POLICY[@]}"
check_eq "nothing new on B" "$before" "$("$CKS" digest --db "$B" --history)"
t_summary
