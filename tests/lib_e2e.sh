# tests/lib_e2e.sh — helpers for the end-to-end scenarios (tests/e2e_*.sh),
# on top of tests/lib.sh. Sourced, not run (the name keeps it out of CTest).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# e_instance ID → prints the conninfo of a new database initialised as ID
e_instance() {
	local db
	db=$(t_new_db "$(echo "$1" | tr 'A-Z.-' 'a-z__')") || return 1
	"$CKS" init --db "$db" --instance "$1" >/dev/null || return 1
	echo "$db"
}

# e_json EXPR: evaluates a Python expression on the JSON read from stdin
# (bound to d) and prints the result (strings bare, the rest as JSON).
e_json() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))' "$1"
}

# e_edit DB NAME PYTHON [put options]: loads NAME's current dict into d, runs
# the Python statements, puts the result back as one revision (prints its id).
e_edit() {
	local db="$1" name="$2" code="$3"
	shift 3
	"$CKS" show --db "$db" "$name" | python3 -c "
import json, sys
d = json.load(sys.stdin)
$code
print(json.dumps(d))" | "$CKS" put --db "$db" "$@" -
}

# e_field DB NAME EXPR: EXPR on NAME's current dict (d)
e_field() { "$CKS" show --db "$1" "$2" | e_json "$3"; }

# e_log DB [NAME]: the compact revision log
e_log() { "$CKS" log --db "$1" ${2:+"$2"} --compact; }

# e_objrevs DB NAME: the object revision ids of NAME, oldest first, one a line
e_objrevs() { e_log "$1" "$2" | e_json '"\n".join(o["objrev_id"] for r in d for o in r["objects"])'; }

# e_head DB NAME: the object revision id of package NAME's head
e_head() { t_sql "$1" "SELECT head FROM ckansync.object WHERE name = '$2' AND name_space = 'package'"; }

# e_merges DB: number of merge revisions stored in DB
e_merges() { t_sql "$1" "SELECT count(*) FROM ckansync.revision WHERE kind = 'merge'"; }

# e_conflicts DB: conflicts recorded in DB as "kind path" lines, sorted
e_conflicts() {
	"$CKS" conflicts --db "$1" --json | e_json '"\n".join(sorted(c["kind"] + " " + (c["field_path"] or "-") for c in d))'
}

# e_digests DB...: "equal" if every DB has the same digest --history, else the list
e_digests() {
	local first="" db d out="equal"
	for db in "$@"; do
		d=$("$CKS" digest --db "$db" --history) || return 1
		[ -z "$first" ] && first=$d
		[ "$d" = "$first" ] || out="differ"
	done
	echo "$out"
}

# e_objrev_ids DB: every object revision id stored in DB, sorted
e_objrev_ids() { t_sql "$1" "SELECT id FROM ckansync.object_revision ORDER BY id"; }

# e_sanitized: true for an AddressSanitizer build (slower: big tests scale down)
e_sanitized() { ldd "$CKS" 2>/dev/null | grep -q libasan; }

# e_par CMD...: runs each command string (eval'd) in the background, waits
# for all; fails if any failed.
e_par() {
	local pids=() c p rc=0
	for c in "$@"; do
		eval "$c" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}
