#!/usr/bin/env bash
# e2e: first sync (the seed's "First sync - 10am"). A holds datasets with
# several revisions each; B starts empty; a real ckansync-producer publishes
# A to Kafka and a real ckansync-consumer applies it to B. B must end with
# every revision and object revision under the same UUIDs, authors,
# timestamps, messages and parents (digest --history equal), and B's search
# must find the datasets.
. "$(dirname "$0")/lib.sh"
t_require_services

A=$(t_new_db a) && B=$(t_new_db b) || { echo "cannot create databases"; exit 1; }
P=$(t_prefix)
check "init A" "$CKS" init --db "$A" --instance A
check "init B" "$CKS" init --db "$B" --instance B

t_datasets 20 >"$T_TMP/ds.jsonl"
check "import 20 datasets on A" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
# A second and third revision for the first dataset.
first=$(head -1 "$T_TMP/ds.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
"$CKS" show --db "$A" "$first" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["title"] = "Edited once: " + (d.get("title") or "")
print(json.dumps(d))' >"$T_TMP/edit1.json"
check "edit 1 on A" "$CKS" put --db "$A" --author alice --message "retitle" "$T_TMP/edit1.json"
"$CKS" show --db "$A" "$first" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["tags"] = (d.get("tags") or []) + [{"name": "synced"}]
print(json.dumps(d))' >"$T_TMP/edit2.json"
check "edit 2 on A (tags)" "$CKS" put --db "$A" --author bob --message "tag it" "$T_TMP/edit2.json"
# The seed's first sync also carries groups and unversioned objects (users).
echo '{"name": "first-group", "title": "First group"}' >"$T_TMP/group.json"
check "a group on A" "$CKS" put --db "$A" --type group --author carol --message "new group" "$T_TMP/group.json"
echo '{"name": "user1", "fullname": "User One", "email": "u1@example.org"}' >"$T_TMP/user.json"
check "a user on A" "$CKS" user put --db "$A" "$T_TMP/user.json"

check "producer --once publishes A" t_publish "$A" "$P"
check "consumer --until-idle applies on B" t_sync "$B" "$P" A

da=$("$CKS" digest --db "$A" --history)
db=$("$CKS" digest --db "$B" --history)
check_eq "digest --history equal on A and B" "$da" "$db"
check_eq "digest equal on A and B" "$("$CKS" digest --db "$A")" "$("$CKS" digest --db "$B")"

ra=$("$CKS" log --db "$A" "$first" --compact | python3 -c 'import json,sys; print(" ".join(r["revision_id"]+"/"+r["author"]+"/"+r["timestamp"] for r in json.load(sys.stdin)))')
rb=$("$CKS" log --db "$B" "$first" --compact | python3 -c 'import json,sys; print(" ".join(r["revision_id"]+"/"+r["author"]+"/"+r["timestamp"] for r in json.load(sys.stdin)))')
check_eq "same revision ids, authors and times for $first" "$ra" "$rb"
n=$(echo "$rb" | wc -w)
check_eq "three revisions of $first on B" 3 "$n"

# Every revision with its id, origin, author, time, message, kind and every
# object revision with its parents, compared whole (arrival order aside).
sorted_log() { "$CKS" log --db "$1" --compact | python3 -c '
import json, sys
print(json.dumps(sorted(json.load(sys.stdin), key=lambda r: r["revision_id"]), sort_keys=True))'; }
check_eq "the whole revision log is the same on B" "$(sorted_log "$A")" "$(sorted_log "$B")"
check_eq "B has every revision" "$(t_sql "$A" "SELECT count(*) FROM ckansync.revision")" "$(t_sql "$B" "SELECT count(*) FROM ckansync.revision")"
check_eq "B has the group" "First group" "$(t_sql "$B" "SELECT title FROM ckansync.\"group\" WHERE name = 'first-group'")"
check_eq "B has the user (same id)" "$(t_sql "$A" "SELECT id || ' ' || (state->>'fullname') FROM ckansync.uobject")" \
	"$(t_sql "$B" "SELECT id || ' ' || (state->>'fullname') FROM ckansync.uobject")"

title=$("$CKS" show --db "$B" "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["title"])')
case "$title" in "Edited once: "*) ok "B shows A's latest title" ;; *) not_ok "B title is [$title]" ;; esac
found=$("$CKS" search --db "$B" synced)
check_eq "B's search finds the tagged dataset" "$first" "$found"

# Publishing and syncing again changes nothing (idempotent replay).
check "producer --once again" t_publish "$A" "$P"
check "consumer from scratch replays (offsets kept)" t_sync "$B" "$P" A
check_eq "still equal after a second sync" "$da" "$("$CKS" digest --db "$B" --history)"
t_summary
