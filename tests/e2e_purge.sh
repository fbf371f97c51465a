#!/usr/bin/env bash
# e2e: purges (docs/scenarios/purge.md).
#   Purge on A → B purges too: the package and its whole history are gone
#   on B, a tombstone and the purge revision remain.
#   Purge on B → a later edit on A does not recreate it on B, and a
#   conflict event ("purged-here", kept purged) says so.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
t_datasets 3 >"$T_TMP/ds.jsonl"
PKG1=$(sed -n 1p "$T_TMP/ds.jsonl" | e_json 'd["name"]')
PKG2=$(sed -n 2p "$T_TMP/ds.jsonl" | e_json 'd["name"]')
PKG3=$(sed -n 3p "$T_TMP/ds.jsonl" | e_json 'd["name"]')
check "A imports 3 datasets" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
check "A edits $PKG1" e_edit "$A" "$PKG1" 'd["title"] = "second revision"'
check "A edits $PKG1 again" e_edit "$A" "$PKG1" 'd["notes"] = "third revision"'
check "sync A → B" t_publish "$A" "$P"
check "B applies" t_sync "$B" "$P" A
ID1=$(e_field "$A" "$PKG1" 'd["id"]')
REVS1=$(e_log "$A" "$PKG1" | e_json '" ".join(r["revision_id"] for r in d)')
check_eq "B holds $PKG1's 3 object revisions" 3 "$(t_sql "$B" "SELECT count(*) FROM ckansync.object_revision WHERE object_id = '$ID1'")"

# --- purge on A ---------------------------------------------------------------
check "A purges $PKG1" "$CKS" purge --db "$A" --author admin "$PKG1"
check "A publishes the purge" t_publish "$A" "$P"
check "B applies it" t_sync "$B" "$P" A
if "$CKS" show --db "$B" "$PKG1" >/dev/null 2>&1; then not_ok "$PKG1 still on B"; else ok "$PKG1 is gone from B"; fi
check_eq "B holds none of its object revisions" 0 "$(t_sql "$B" "SELECT count(*) FROM ckansync.object_revision WHERE object_id = '$ID1'")"
left=0
for r in $REVS1; do left=$((left + $(t_sql "$B" "SELECT count(*) FROM ckansync.revision WHERE id = '$r'"))); done
check_eq "nor its revisions" 0 "$left"
check_eq "a tombstone on B names A as the purger" "A $PKG1" "$(t_sql "$B" "SELECT by_origin || ' ' || name FROM ckansync.tombstone WHERE object_id = '$ID1'")"
check_eq "B's log shows the purge revision" purge "$(e_log "$B" | e_json '[r["kind"] for r in d if r["kind"] == "purge"][0]')"
check_eq "A and B equal again (digest --history)" equal "$(e_digests "$A" "$B")"
check_eq "no conflict on B" "" "$(e_conflicts "$B")"
# A's topic still holds the purged package's old revisions: replaying them
# (B forgets its offsets and reads A's topic from the start) does not bring
# it back: the tombstone wins.
t_sql "$B" "DELETE FROM ckansync.sync_state" >/dev/null
check "B replays A's topic from the start" t_sync "$B" "$P" A
if "$CKS" show --db "$B" "$PKG1" >/dev/null 2>&1; then not_ok "replay recreated $PKG1"; else ok "replay does not recreate $PKG1"; fi

# --- purge on B -----------------------------------------------------------------
ID2=$(e_field "$A" "$PKG2" 'd["id"]')
check "B purges $PKG2" "$CKS" purge --db "$B" --author bob "$PKG2"
check "later, A edits $PKG2" e_edit "$A" "$PKG2" 'd["title"] = "edited on A after B purged it"'
check "A publishes the edit" t_publish "$A" "$P"
check "B applies it" t_sync "$B" "$P" A
if "$CKS" show --db "$B" "$PKG2" >/dev/null 2>&1; then not_ok "A's edit recreated $PKG2 on B"; else ok "$PKG2 not recreated on B"; fi
check_eq "a conflict event says so" "purged-here -" "$(e_conflicts "$B")"
check_eq "conflict names the package, the origin and the resolution" "$PKG2 A kept-purged" \
	"$("$CKS" conflicts --db "$B" --json | e_json '" ".join([d[0]["object_name"], d[0]["remote_origin"], d[0]["resolution"]])')"
check_eq "B's tombstone names B" B "$(t_sql "$B" "SELECT by_origin FROM ckansync.tombstone WHERE object_id = '$ID2'")"
check "B publishes (its purge and the conflict event)" t_publish "$B" "$P"
check_eq "the event is on the conflicts topic" "purged-here $PKG2" \
	"$("$CKS" conflicts --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --json | e_json '" ".join([d["kind"], d["object_name"]])')"
check_eq "$PKG3 untouched on both" "$(e_field "$A" "$PKG3" 'd["revision_id"]')" "$(e_field "$B" "$PKG3" 'd["revision_id"]')"
t_summary
