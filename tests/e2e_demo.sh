#!/usr/bin/env bash
# e2e: script/demo runs start to finish (with the binaries already built and
# the running services: CKANSYNC_DEMO_REUSE=1), exits 0 and tells the story:
# same revision ids on both sides, an edit on both, the merge and its
# conflict event, the purges.
. "$(dirname "$0")/lib.sh"
t_require_services

CKANSYNC_DEMO_REUSE=1 CKS_BUILD_DIR="$CKS_BUILD_DIR" timeout 300 "$CKS_SOURCE_DIR/script/demo" \
	>"$T_TMP/demo.out" 2>&1
rc=$?
check_eq "script/demo exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -30 "$T_TMP/demo.out" | sed 's/^/    /'
says() { # DESCRIPTION PATTERN
	if grep -qE -- "$2" "$T_TMP/demo.out"; then ok "$1"; else not_ok "$1 (no /$2/ in the output)"; fi
}
says "imports datasets on A" '^imported [0-9]+ datasets'
says "shows the commands it runs" '^\$ ckansync-consumer --db "\$B"'
says "publishes and syncs" 'stopped: [0-9]+ applied'
says "same revision ids and history on both sides" 'Equal: B has the same revision ids'
says "an edit on both sides" '^\$ edit "\$B" .*ckansync put --db "\$B"'
says "the merge revision" 'merge by ckansync'
says "the merge's two parents" '^  merge parents: [0-9a-f-]{36} [0-9a-f-]{36}$'
says "the conflict event (recorded)" $'\tfield\t.*\ttitle\t'
says "the conflict event (on the topic)" $'\tB\tfield\t'
says "A and B equal after the 2-way sync" 'Equal again'
says "a purge on A travels to B" 'no such object'
says "a purge on B is kept, with a conflict event" $'\tpurged-here\t'
says "ends" '^demo: done$'
check_eq "drops its databases" 0 "$(psql -X -qAt "$CKANSYNC_PG dbname=postgres" -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'demo\\_%\\_$(grep -o 'dbname=demo_a_[0-9]*' "$T_TMP/demo.out" | head -1 | grep -o '[0-9]*$')'")"
t_summary
