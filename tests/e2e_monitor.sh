#!/usr/bin/env bash
# e2e: the conflict monitor (docs/scenarios/monitor.md). `ckansync conflicts
# --brokers B --follow` prints the conflict events every instance publishes
# on <prefix>.conflicts as they happen: here those of the timeline (a field
# both sides changed), of a purge on B, and of name clashes; --json prints
# one JSON object a line. SIGTERM/SIGINT end it with status 0. Without
# --follow it prints what the topic holds and exits.
. "$(dirname "$0")/lib_e2e.sh"
t_require_services

A=$(e_instance A) && B=$(e_instance B) || { echo "cannot create instances"; exit 1; }
P=$(t_prefix)
POLICY=(-- --policy origin-priority:A,B)

# Started before anything exists: the monitors wait for the topic.
"$CKS" conflicts --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --follow >"$T_TMP/text.out" 2>"$T_TMP/text.err" &
MT=$!
"$CKS" conflicts --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --follow --json >"$T_TMP/json.out" 2>"$T_TMP/json.err" &
MJ=$!
T_PIDS+=("$MT" "$MJ")

# wait_for FILE PATTERN: up to 60 s for a line matching PATTERN
wait_for() {
	for _ in $(seq 1 300); do grep -q "$2" "$1" && return 0; sleep 0.2; done
	return 1
}
sync() { t_publish "$A" "$P" && t_sync "$B" "$P" A "${POLICY[@]}" && t_publish "$B" "$P"; }

check "A: a package" "$CKS" put --db "$A" - <<<'{"name": "pkg1", "title": "Pkg 1", "url": "http://a/1"}'
check "A: another" "$CKS" put --db "$A" - <<<'{"name": "pkg2", "title": "Pkg 2"}'
check "first sync" sync

# 1. the timeline: both change url
check "A changes url" e_edit "$A" pkg1 'd["url"] = "http://a/2"'
check "B changes url" e_edit "$B" pkg1 'd["url"] = "http://b/2"'
check "sync" sync
check "monitor prints the url conflict" wait_for "$T_TMP/text.out" $'\tfield\tpkg1\turl\t'
check "json monitor prints it" wait_for "$T_TMP/json.out" '"field_path":"url"'

# 2. purge on B, edit on A
check "B purges pkg2" "$CKS" purge --db "$B" pkg2
check "A edits pkg2" e_edit "$A" pkg2 'd["title"] = "still here on A"'
check "sync" sync
check "monitor prints the purged-here conflict" wait_for "$T_TMP/text.out" $'\tpurged-here\tpkg2\t'
check "json monitor prints it" wait_for "$T_TMP/json.out" '"kind":"purged-here"'

# 3. name clashes: a package, a group, a tag
check "B: its own 'shared' package, group and tag" bash -c '
	"$0" put --db "$1" - <<<"{\"name\": \"shared\", \"tags\": [{\"name\": \"t\", \"id\": \"11111111-1111-4111-8111-111111111111\"}]}" >/dev/null &&
	"$0" put --db "$1" --type group - <<<"{\"name\": \"shared-group\"}" >/dev/null' "$CKS" "$B"
check "A: the same names, other ids" bash -c '
	"$0" put --db "$1" - <<<"{\"name\": \"shared\", \"tags\": [{\"name\": \"t\", \"id\": \"22222222-2222-4222-8222-222222222222\"}]}" >/dev/null &&
	"$0" put --db "$1" --type group - <<<"{\"name\": \"shared-group\"}" >/dev/null' "$CKS" "$A"
check "sync" sync
check "monitor prints the package clash" wait_for "$T_TMP/text.out" $'\tname-clash\tshared\tname\t.*\trenamed\t'
check "monitor prints the group clash" wait_for "$T_TMP/text.out" $'\tname-clash\tshared-group\tname\t.*\tmerged\t'
check "monitor prints the tag clash" wait_for "$T_TMP/text.out" $'\tname-clash\tshared\ttags.t\t'
check "json monitor prints the three" wait_for "$T_TMP/json.out" '"field_path":"tags.t"'

kill -TERM "$MT"
kill -INT "$MJ"
wait "$MT"; rt=$?
wait "$MJ"; rj=$?
check_eq "SIGTERM / SIGINT end the monitors with status 0" "0 0" "$rt $rj"
check_eq "no errors from the monitors" "" "$(cat "$T_TMP/text.err" "$T_TMP/json.err")"
n=$(t_sql "$B" "SELECT count(*) FROM ckansync.conflict")
check_eq "the monitor printed each of B's $n conflicts once" "$n" "$(wc -l <"$T_TMP/text.out")"
check_eq "each JSON line parses, with B as the instance that detected it" "$n B" \
	"$(python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; print(len(l), " ".join(sorted({x["detected_at"] for x in l})))' "$T_TMP/json.out")"

# Without --follow: what is there, then exit.
timeout 60 "$CKS" conflicts --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --json >"$T_TMP/once.out"
check_eq "without --follow: prints the $n events and exits 0" "0 $n" "$? $(wc -l <"$T_TMP/once.out")"
timeout 60 "$CKS" conflicts --brokers "$CKANSYNC_BROKERS" --topic-prefix "nothing-$P" >"$T_TMP/none.out"
check_eq "an empty (absent) topic: nothing, status 0" "0 0" "$? $(wc -c <"$T_TMP/none.out")"
if "$CKS" conflicts --brokers 127.0.0.1:1 --topic-prefix "$P" >/dev/null 2>"$T_TMP/down.err"; then
	not_ok "an unreachable broker is an error"
else
	ok "an unreachable broker is an error: $(head -c 80 "$T_TMP/down.err")"
fi
t_summary
