#!/usr/bin/env bash
# bench/ab.sh — the consumer alone, two builds in turn, on one topic of real
# revisions: what a change to the apply path buys, measured side by side in
# one run (bench/RESULTS.md, "A/B"). Starts its own Kafka and PostgreSQL
# (script/services), makes an origin of CREATES creates then EDITS edits of
# the real datasets, publishes them once, then for each round applies the
# whole topic with A's consumer, then B's, each into a fresh database
# (`--until-idle`), and checks each mirror's `digest --history` against the
# origin's.
#
#   bench/ab.sh [-c CREATES] [-e EDITS] [-r ROUNDS] BUILD_A BUILD_B
#
# BUILD_*: build directories (cmake -B), e.g. a worktree of the old commit
# built into /tmp/old and ./build. Defaults: 1,000 creates, 4,000 edits,
# 3 rounds. Per run: wall time, revisions/s, the consumer's CPU (user+sys)
# and the whole machine's busy CPU; then the medians and B / A.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
creates=1000 edits=4000 rounds=3
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "c:e:r:h" o; do
	case "$o" in
	c) creates=$OPTARG ;;
	e) edits=$OPTARG ;;
	r) rounds=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 2 ] || { usage >&2; exit 2; }
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd)
for b in "$A" "$B"; do
	for p in ckansync ckansync-consumer ckansync-producer bench_load; do
		[ -x "$b/$p" ] || { echo "bench/ab.sh: $b/$p missing (build it first)" >&2; exit 2; }
	done
done
DATA=${CKANSYNC_BENCH_DATA:-$ROOT/../shared/data/depositar-datasets.jsonl.gz}
[ -f "$DATA" ] || { echo "bench/ab.sh: $DATA absent: set CKANSYNC_BENCH_DATA" >&2; exit 2; }

export CKANSYNC_SERVICES_DIR
CKANSYNC_SERVICES_DIR=$(mktemp -d /tmp/ckansync-ab.XXXXXX)
chmod 755 "$CKANSYNC_SERVICES_DIR"
LOGS=$CKANSYNC_SERVICES_DIR.logs
mkdir -p "$LOGS"
trap '"$ROOT/script/services" stop >/dev/null 2>&1 || true' EXIT
eval "$("$ROOT/script/services" start 2>/dev/null)"
PG=$CKANSYNC_PG
q() { PGOPTIONS="-c client_min_messages=warning" psql -X -qAt -v ON_ERROR_STOP=1 "$PG dbname=$1" -c "$2"; }
newdb() { q postgres "DROP DATABASE IF EXISTS $1 WITH (FORCE)" && q postgres "CREATE DATABASE $1"; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

echo "ab: origin: $creates creates, then $edits edits, from $(basename "$DATA")" >&2
newdb ab_origin
"$A/ckansync" init --db "$PG dbname=ab_origin" --instance A >/dev/null
"$A/bench_load" gen --data "$DATA" --db "$PG dbname=ab_origin" --creates "$creates" >/dev/null
"$A/bench_load" gen --data "$DATA" --db "$PG dbname=ab_origin" --creates 0 --edits "$edits" \
	--edit-lo 0 --edit-hi "$creates" >/dev/null
"$A/ckansync-producer" --db "$PG dbname=ab_origin" --brokers "$CKANSYNC_BROKERS" \
	--topic-prefix ab --once --log-level warn 2>>"$LOGS/producer.log"
want=$("$A/ckansync" digest --db "$PG dbname=ab_origin" --history)
n=$(q ab_origin "SELECT count(*) FROM ckansync.outbox WHERE kind = 0")

# run SIDE BUILD ROUND: one consumer run; appends "side wall cpu busy" to $LOGS/runs
run() {
	local side=$1 build=$2 db="ab_${1,,}_$3" t0 t1 b0 b1 cpu got
	newdb "$db"
	"$build/ckansync" init --db "$PG dbname=$db" --instance B >/dev/null
	b0=$(busy)
	t0=$EPOCHREALTIME
	/usr/bin/time -o "$LOGS/time" -f "%U %S" "$build/ckansync-consumer" --db "$PG dbname=$db" \
		--brokers "$CKANSYNC_BROKERS" --topic-prefix ab --origin A --until-idle \
		--log-level warn 2>>"$LOGS/consumer-$side.log"
	t1=$EPOCHREALTIME
	b1=$(busy)
	cpu=$(awk '{print $1 + $2}' "$LOGS/time")
	got=$("$build/ckansync" digest --db "$PG dbname=$db" --history)
	[ "$got" = "$want" ] || { echo "ab: $side round $3: history differs from the origin's" >&2; exit 1; }
	python3 -c 'import sys; print(sys.argv[1], "%.3f" % (float(sys.argv[3]) - float(sys.argv[2])), sys.argv[4], "%.2f" % ((int(sys.argv[6]) - int(sys.argv[5])) / 100.0))' \
		"$side" "$t0" "$t1" "$cpu" "$b0" "$b1" | tee -a "$LOGS/runs" >&2
	q postgres "DROP DATABASE $db WITH (FORCE)"
}
: >"$LOGS/runs"
echo "ab: $n messages; side wall_s consumer_cpu_s machine_busy_s" >&2
for r in $(seq 1 "$rounds"); do
	run A "$A" "$r"
	run B "$B" "$r"
done
python3 - "$LOGS/runs" "$n" "$A" "$B" <<'EOF'
import statistics, sys
runs, n = [l.split() for l in open(sys.argv[1])], int(sys.argv[2])
med = {s: [statistics.median(float(r[i]) for r in runs if r[0] == s) for i in (1, 2, 3)] for s in "AB"}
print("| build | wall (median) | revisions/s | consumer CPU | machine busy CPU |")
print("|---|---|---|---|---|")
for s, path in (("A", sys.argv[3]), ("B", sys.argv[4])):
    w, c, b = med[s]
    print(f"| {s} `{path}` | {w:.2f} s | {n / w:.0f} | {c:.2f} s | {b:.2f} s |")
w = med["B"][0] / med["A"][0]
print(f"\nB / A: wall {w:.2f}x, consumer CPU {med['B'][1] / med['A'][1]:.2f}x, "
      f"machine busy CPU {med['B'][2] / med['A'][2]:.2f}x ({len(runs) // 2} rounds, {n} revisions)")
EOF
echo "ab: run logs in $LOGS" >&2
