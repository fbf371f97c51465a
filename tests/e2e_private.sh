#!/usr/bin/env bash
# e2e: restricted objects (docs/scenarios/private.md). A private package on
# A is not published by default; with publish.private = true it is, and it
# stays private on B (and B, publishing with the default, keeps it home).
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

mkpkgs() { # DB: one public and one private package
	"$CKS" put --db "$1" - <<<'{"name": "open-data", "title": "Open"}' >/dev/null &&
		"$CKS" put --db "$1" - <<<'{"name": "closed-data", "title": "Restricted", "private": true, "owner_org": "lab"}' >/dev/null
}

# --- default: private packages stay home ---------------------------------------------
A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
check "A: a public and a private package" mkpkgs "$A"
check "A publishes (default settings)" t_publish "$A" "$P"
check "B syncs" t_sync "$B" "$P" A
check_eq "B has the public package" "Open" "$(e_field "$B" open-data 'd["title"]')"
if "$CKS" show --db "$B" closed-data >/dev/null 2>&1; then not_ok "the private package reached B"; else ok "the private package did not reach B"; fi
check_eq "the producer says it kept one private revision home" 1 \
	"$(grep -o '[0-9]* private skipped' "$T_TMP/producer.log" | tail -1 | cut -d' ' -f1)"
check "A edits the private package" e_edit "$A" closed-data 'd["notes"] = "still restricted"'
check "A publishes again" t_publish "$A" "$P"
check "B syncs again" t_sync "$B" "$P" A
if "$CKS" show --db "$B" closed-data >/dev/null 2>&1; then not_ok "the private edit reached B"; else ok "nor does its edit"; fi

# --- publish.private = true (in a config file) -----------------------------------------
A=$(e_instance A) && B=$(e_instance B) && C=$(e_instance C) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
check "A: a public and a private package" mkpkgs "$A"
printf 'publish.private = true\n' >"$T_TMP/a.conf"
check "A publishes with publish.private = true" t_publish "$A" "$P" --config "$T_TMP/a.conf"
check "B syncs" t_sync "$B" "$P" A
check_eq "B has the private package, private" "Restricted true" "$(e_field "$B" closed-data 'd["title"] + " " + json.dumps(d["private"])')"
check_eq "B's object row is private" t "$(t_sql "$B" "SELECT private FROM ckansync.object WHERE name = 'closed-data'")"
check_eq "B's package row is private" t "$(t_sql "$B" "SELECT private FROM ckansync.package WHERE name = 'closed-data'")"
check_eq "same history on both" equal "$(e_digests "$A" "$B")"
check "B edits it" e_edit "$B" closed-data 'd["notes"] = "edited on B"'
check_eq "still private after B's edit" true "$(e_field "$B" closed-data 'd["private"]')"
check "B publishes with the default settings" t_publish "$B" "$P"
check "C follows B" t_sync "$C" "$P" B
check_eq "C has the public package" "Open" "$(e_field "$C" open-data 'd["title"]')"
if "$CKS" show --db "$C" closed-data >/dev/null 2>&1; then not_ok "B passed the private package on"; else ok "B keeps the private package home too"; fi
t_summary
