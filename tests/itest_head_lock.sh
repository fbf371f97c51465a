#!/usr/bin/env bash
# Integration: ckansync.head_lock() (migration 008) waits for the object's
# row lock and then returns the head another transaction committed
# meanwhile. Locking inside the join with the head revision (migration 004)
# returned no row at all in that case: the object read as not found.
# Then a put that waits for a writer committing a new head: it must build on
# the writer's state (parent and diff). A look-up that locks the object and
# reads its head's state in one statement would not: that statement's
# snapshot predates the head the writer committed while it waited (tried in
# the tenth pass of issue 8 to save a round trip: no faster).
. "$(dirname "$0")/lib.sh"
t_require_services
DB=$(t_new_db hl) || exit 1
check "init" "$CKS" init --db "$DB" --instance A
printf '{"name": "locked", "title": "one"}\n' | "$CKS" put --db "$DB" - >/dev/null &&
	printf '{"name": "locked", "title": "two"}\n' | "$CKS" put --db "$DB" - >/dev/null ||
	{ echo "cannot put"; exit 1; }
OBJ=$(t_sql "$DB" "SELECT id FROM ckansync.object WHERE name = 'locked'")
# Until the writer sits in pg_sleep (it holds the row lock by then).
writer_holds_lock() {
	local i
	for i in $(seq 1 200); do
		[ "$(t_sql "$DB" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND state = 'active' AND query LIKE 'SELECT pg_sleep(%'")" = 1 ] && return 0
		sleep 0.05
	done
	echo "the writer never held the lock"
	return 1
}
FIRST=$(t_sql "$DB" "SELECT r.id FROM ckansync.object_revision r JOIN ckansync.object o
	ON o.id = r.object_id WHERE o.name = 'locked' AND r.id <> o.head")
check "two object revisions" test -n "$FIRST"

# Writer: moves the head while holding the row lock for 2 s.
psql -X -qAt "$DB" -v ON_ERROR_STOP=1 -c "BEGIN" \
	-c "UPDATE ckansync.object SET head = '$FIRST' WHERE id = '$OBJ'" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null &
writer=$!
writer_holds_lock # the reader waits for it
got=$(psql -X -qAt "$DB" -v ON_ERROR_STOP=1 -c "BEGIN" \
	-c "SELECT head FROM ckansync.head_lock('$OBJ', false)" -c "COMMIT")
wait $writer
check_eq "after waiting for the lock: the head the writer committed" "$FIRST" "$got"

# Writer: a new object revision (the title changed, the notes kept) made the
# head while it holds the row lock for 2 s.
printf '{"name": "locked", "title": "three", "notes": "kept by everyone"}\n' |
	"$CKS" put --db "$DB" - >/dev/null || { echo "cannot put"; exit 1; }
HEAD=$(t_sql "$DB" "SELECT head FROM ckansync.object WHERE id = '$OBJ'")
NEWREV=$(t_sql "$DB" "SELECT gen_random_uuid()")
NEWOBJREV=$(t_sql "$DB" "SELECT gen_random_uuid()")
psql -X -qAt "$DB" -v ON_ERROR_STOP=1 -c "BEGIN" \
	-c "INSERT INTO ckansync.revision (id, origin, \"timestamp\", kind) VALUES ('$NEWREV', 'A', now(), 'edit')" \
	-c "INSERT INTO ckansync.object_revision (id, revision_id, object_type, object_id, parents, state)
	    SELECT '$NEWOBJREV', '$NEWREV', object_type, object_id, ARRAY[id],
	           state || '{\"title\": \"by the writer\"}' FROM ckansync.object_revision WHERE id = '$HEAD'" \
	-c "UPDATE ckansync.object SET head = '$NEWOBJREV' WHERE id = '$OBJ'" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null &
writer=$!
writer_holds_lock
printf '{"name": "locked", "title": "by the put", "notes": "kept by everyone"}\n' |
	"$CKS" put --db "$DB" - >/dev/null
check_eq "the put after the lock: exit status" 0 $?
wait $writer
PUT=$(t_sql "$DB" "SELECT head FROM ckansync.object WHERE id = '$OBJ'")
check_eq "the put's parent is the head the writer committed" "{$NEWOBJREV}" \
	"$(t_sql "$DB" "SELECT parents FROM ckansync.object_revision WHERE id = '$PUT'")"
check_eq "the put's diff is from the writer's state: the title alone" '["title"]' \
	"$(t_sql "$DB" "SELECT jsonb_path_query_array(diff, 'strict \$[*].path[0]') FROM ckansync.object_revision WHERE id = '$PUT'")"
t_summary
