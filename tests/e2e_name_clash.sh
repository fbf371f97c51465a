#!/usr/bin/env bash
# e2e: name clashes (docs/scenarios/name-clashes.md). B already has a
# package, a tag and a group with the names A's arrive under, with other
# ids. Tags and groups merge by name; A's package is kept under a
# disambiguated name; a conflict event for each.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
POLICY=(-- --policy origin-priority:A,B)
TAG_A=0b1e6d5c-0000-4000-8000-00000000000a
TAG_B=0b1e6d5c-0000-4000-8000-00000000000b

# --- B's own objects ---------------------------------------------------------------
check "B: group 'rivers'" "$CKS" put --db "$B" --type group - <<<'{"name": "rivers", "title": "Rivers (B)", "description": "kept by B"}'
check "B: package 'gauges'" "$CKS" put --db "$B" - <<<'{"name": "gauges", "title": "Gauges of B"}'
check "B: package 'b-flow' with tag 'hydrology' (B's tag id)" "$CKS" put --db "$B" - \
	<<<"{\"name\": \"b-flow\", \"tags\": [{\"name\": \"hydrology\", \"id\": \"$TAG_B\"}], \"groups\": [{\"name\": \"rivers\"}]}"
B_GROUP=$(t_sql "$B" "SELECT id FROM ckansync.object WHERE name = 'rivers'")
B_GAUGES=$(e_field "$B" gauges 'd["id"]')

# --- A's objects with the same names -------------------------------------------------
check "A: group 'rivers'" "$CKS" put --db "$A" --type group - <<<'{"name": "rivers", "title": "Rivers (A)", "image_url": "http://a.example.org/rivers.png"}'
check "A: package 'gauges'" "$CKS" put --db "$A" - <<<'{"name": "gauges", "title": "Gauges of A", "notes": "from A"}'
check "A: package 'a-flow' with tag 'hydrology' (A's tag id), in group 'rivers'" "$CKS" put --db "$A" - \
	<<<"{\"name\": \"a-flow\", \"tags\": [{\"name\": \"hydrology\", \"id\": \"$TAG_A\"}], \"groups\": [{\"name\": \"rivers\"}]}"
A_GROUP=$(t_sql "$A" "SELECT id FROM ckansync.object WHERE name = 'rivers'")
A_GAUGES=$(e_field "$A" gauges 'd["id"]')
check "sync A → B" t_publish "$A" "$P"
check "B applies" t_sync "$B" "$P" A "${POLICY[@]}"

# --- package: kept under a disambiguated name ---------------------------------------
RENAMED="gauges-${A_GAUGES:0:8}"
check_eq "B's 'gauges' is still B's" "$B_GAUGES Gauges of B" "$(e_field "$B" gauges 'd["id"] + " " + d["title"]')"
check_eq "A's 'gauges' is on B as '$RENAMED'" "$A_GAUGES Gauges of A" "$(e_field "$B" "$RENAMED" 'd["id"] + " " + d["title"]')"
check_eq "its history: A's revision (same id, name 'gauges'), then B's rename" \
	"A gauges edit|B $RENAMED edit" "$(e_log "$B" "$RENAMED" | e_json '"|".join(r["origin"] + " " + r["objects"][0]["name"] + " " + r["kind"] for r in d)')"
check_eq "A's object revision is stored as A made it" "$(e_objrevs "$A" gauges)" "$(e_objrevs "$B" "$RENAMED" | sed -n 1p)"

# --- tag: one tag, merged by name ---------------------------------------------------
check_eq "one tag 'hydrology' on B" 1 "$(t_sql "$B" "SELECT count(*) FROM ckansync.tag WHERE name = 'hydrology'")"
check_eq "it keeps B's tag id" "$TAG_B" "$(t_sql "$B" "SELECT source_id FROM ckansync.tag WHERE name = 'hydrology'")"
check_eq "both packages carry it" "a-flow b-flow" "$(t_sql "$B" "SELECT string_agg(p.name, ' ' ORDER BY p.name) FROM ckansync.package_tag pt JOIN ckansync.package p ON p.id = pt.package_id JOIN ckansync.tag t ON t.id = pt.tag_id WHERE t.name = 'hydrology'")"
check_eq "search for the tag finds both" "a-flow b-flow" "$("$CKS" search --db "$B" hydrology | sort | tr '\n' ' ' | sed 's/ $//')"

# --- group: merged by name into B's ---------------------------------------------------
check_eq "one group 'rivers' on B, B's id" "$B_GROUP" "$(t_sql "$B" "SELECT string_agg(id::text, ' ') FROM ckansync.object WHERE name_space = 'group'")"
check_eq "A's group id is an alias of B's" "$B_GROUP" "$(t_sql "$B" "SELECT object_id FROM ckansync.object_alias WHERE alias_id = '$A_GROUP'")"
check_eq "A's group revision is in B's history" 1 "$(t_sql "$B" "SELECT count(*) FROM ckansync.object_revision WHERE object_id = '$A_GROUP'")"
check_eq "merged group: title by priority (A), B's description, A's image" \
	"Rivers (A)|kept by B|http://a.example.org/rivers.png" \
	"$(t_sql "$B" "SELECT r.state->>'title' || '|' || coalesce(r.state->>'description', '-') || '|' || coalesce(r.state->>'image_url', '-') FROM ckansync.object o JOIN ckansync.object_revision r ON r.id = o.head WHERE o.id = '$B_GROUP'")"
check_eq "the merged group keeps B's id in its dict" "$B_GROUP" "$(t_sql "$B" "SELECT r.state->>'id' FROM ckansync.object o JOIN ckansync.object_revision r ON r.id = o.head WHERE o.id = '$B_GROUP'")"
check_eq "both packages are members of 'rivers'" "a-flow b-flow" "$(t_sql "$B" "SELECT string_agg(p.name, ' ' ORDER BY p.name) FROM ckansync.member m JOIN ckansync.package p ON p.id = m.table_id WHERE m.group_ref = 'rivers'")"

# --- a conflict event for each ------------------------------------------------------
check_eq "conflicts: the package, the tag, the group (and the title both groups have)" \
	"field title
name-clash name
name-clash name
name-clash tags.hydrology" "$(e_conflicts "$B")"
check_eq "resolutions: renamed, merged, merged" "merged merged renamed" \
	"$("$CKS" conflicts --db "$B" --json | e_json '" ".join(sorted(c["resolution"] for c in d if c["kind"] == "name-clash"))')"

# --- later edits on A follow the clash resolution ----------------------------------------
check "A edits its 'gauges'" e_edit "$A" gauges 'd["title"] = "Gauges of A, v2"'
check "A edits its group 'rivers'" e_edit "$A" rivers 'd["description"] = "described by A"' --type group
check "A tags another package 'hydrology'" "$CKS" put --db "$A" - \
	<<<"{\"name\": \"a-flow-2\", \"tags\": [{\"name\": \"hydrology\", \"id\": \"$TAG_A\"}]}"
check "sync" t_publish "$A" "$P"
check "B applies" t_sync "$B" "$P" A "${POLICY[@]}"
check_eq "A's edit reaches B's '$RENAMED', name kept" "Gauges of A, v2" "$(e_field "$B" "$RENAMED" 'd["title"]')"
check_eq "B's own 'gauges' untouched" "Gauges of B" "$(e_field "$B" gauges 'd["title"]')"
check_eq "A's group edit merged into B's group (both edited description: priority A)" "described by A" \
	"$(t_sql "$B" "SELECT r.state->>'description' FROM ckansync.object o JOIN ckansync.object_revision r ON r.id = o.head WHERE o.id = '$B_GROUP'")"
check_eq "still one group on B" 1 "$(t_sql "$B" "SELECT count(*) FROM ckansync.object WHERE name_space = 'group'")"
check_eq "the tag clash is logged once" 1 "$("$CKS" conflicts --db "$B" --json | e_json 'len([c for c in d if c["field_path"] == "tags.hydrology"])')"
t_summary
