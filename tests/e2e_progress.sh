#!/usr/bin/env bash
# e2e: long work shows progress on a terminal and nothing otherwise.
# `ckansync import` of 10,000 datasets and a first sync of them by the real
# consumer run under a pseudo-terminal (script(1)): stderr must carry the
# redrawn progress line with count, percentage, rate and ETA; the same
# commands with stderr in a file must print no progress line at all.
. "$(dirname "$0")/lib.sh"
t_require_services
command -v script >/dev/null || { echo "script(1) missing (bsdutils)"; exit 1; }

A=$(t_new_db a) && B=$(t_new_db b) && C=$(t_new_db c) || { echo "cannot create databases"; exit 1; }
P=$(t_prefix)
check "init A" "$CKS" init --db "$A" --instance A
check "init B" "$CKS" init --db "$B" --instance B
check "init C" "$CKS" init --db "$C" --instance C
python3 -c '
for i in range(10000):
    print("{\"name\": \"progress-%04d\", \"title\": \"Dataset %d\", \"notes\": \"%s\"}" % (i, i, "x" * 200))' \
	>"$T_TMP/ds.jsonl"

# on_tty OUTFILE CMD...: runs CMD with a terminal on stdin/stdout/stderr;
# everything it printed lands in OUTFILE.
on_tty() {
	local out="$1"; shift
	local cmd
	printf -v cmd '%q ' "$@"
	script -qfec "$cmd" /dev/null >"$out" 2>&1 </dev/null
}
# has_progress FILE WHAT UNIT: a redrawn line with a percentage, a rate and an ETA
has_progress() {
	python3 - "$@" <<'PY'
import re, sys
text = open(sys.argv[1], "rb").read().decode(errors="replace")
lines = re.findall(r"\r(%s: \d+ %s, \d+%%, \d+/s, ETA \d+:\d\d)" % (sys.argv[2], sys.argv[3]), text)
print("%d progress line(s)%s" % (len(lines), (", last: " + lines[-1]) if lines else ""))
if not lines:  # what it printed instead, for the log
    print("output (tail): %r" % text[-1500:])
sys.exit(0 if lines else 1)
PY
}

check "import on a terminal" on_tty "$T_TMP/import.tty" "$CKS" import --db "$A" "$T_TMP/ds.jsonl"
check "... shows count, %, rate, ETA" has_progress "$T_TMP/import.tty" import datasets
check "... and the summary" grep -q "imported 10000 datasets" "$T_TMP/import.tty"
"$CKS" import --db "$C" "$T_TMP/ds.jsonl" >"$T_TMP/import.out" 2>"$T_TMP/import.err"
check_eq "import off a terminal: nothing on stderr" "" "$(cat "$T_TMP/import.err")"

check "producer --once publishes A" t_publish "$A" "$P"
# First sync of B on a terminal: 10,000 messages to catch up (the rate and
# ETA appear after 0.5 s: with windows applied set-based the consumer caught
# up 3,000 of these small ones in 1 s, too soon for them).
check "first sync on a terminal" on_tty "$T_TMP/sync.tty" "$CONSUMER" --db "$B" \
	--brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A --until-idle --partitions 2 \
	--group-id "$P-b" --batch-size 50
check "... shows count, %, rate, ETA" has_progress "$T_TMP/sync.tty" sync messages
check "... and says when it caught up" grep -q "caught up: [0-9]* messages in" "$T_TMP/sync.tty"
check_eq "B has A's history" "$("$CKS" digest --db "$A" --history)" "$("$CKS" digest --db "$B" --history)"

# The same first sync (of C) off a terminal: no progress line, logs only.
timeout 180 "$CONSUMER" --db "$C" --brokers "$CKANSYNC_BROKERS" --topic-prefix "$P" --origin A \
	--until-idle --partitions 2 --group-id "$P-c" --batch-size 50 2>"$T_TMP/sync.err"
check_eq "first sync off a terminal: exit 0" 0 "$?"
if grep -q $'\r' "$T_TMP/sync.err" || grep -q "sync: [0-9]* messages" "$T_TMP/sync.err"; then
	not_ok "first sync off a terminal printed a progress line"
else ok "first sync off a terminal: no progress line"; fi
t_summary
