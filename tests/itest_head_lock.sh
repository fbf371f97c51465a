#!/usr/bin/env bash
# Integration: ckansync.head_lock() (migration 008) waits for the object's
# row lock and then returns the head another transaction committed
# meanwhile. Locking inside the join with the head revision (migration 004)
# returned no row at all in that case: the object read as not found.
. "$(dirname "$0")/lib.sh"
t_require_services
DB=$(t_new_db hl) || exit 1
check "init" "$CKS" init --db "$DB" --instance A
printf '{"name": "locked", "title": "one"}\n' | "$CKS" put --db "$DB" - >/dev/null &&
	printf '{"name": "locked", "title": "two"}\n' | "$CKS" put --db "$DB" - >/dev/null ||
	{ echo "cannot put"; exit 1; }
OBJ=$(t_sql "$DB" "SELECT id FROM ckansync.object WHERE name = 'locked'")
FIRST=$(t_sql "$DB" "SELECT r.id FROM ckansync.object_revision r JOIN ckansync.object o
	ON o.id = r.object_id WHERE o.name = 'locked' AND r.id <> o.head")
check "two object revisions" test -n "$FIRST"

# Writer: moves the head while holding the row lock for 2 s.
psql -X -qAt "$DB" -v ON_ERROR_STOP=1 -c "BEGIN" \
	-c "UPDATE ckansync.object SET head = '$FIRST' WHERE id = '$OBJ'" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null &
writer=$!
sleep 0.7 # the writer holds the lock; the reader waits for it
got=$(psql -X -qAt "$DB" -v ON_ERROR_STOP=1 -c "BEGIN" \
	-c "SELECT head FROM ckansync.head_lock('$OBJ', false)" -c "COMMIT")
wait $writer
check_eq "after waiting for the lock: the head the writer committed" "$FIRST" "$got"
t_summary
