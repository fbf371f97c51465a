#!/usr/bin/env bash
# Unit: the man pages (docs/man/*.1, made by script/gen-man from --help)
# cover every command of `ckansync --help` and every option each program
# and command prints in its --help, and render without a groff warning.
# Prints "N passed, M failed".
set -uo pipefail
ROOT=${CKS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${CKS_BUILD_DIR:-$ROOT/build}
MAN="$ROOT/docs/man"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "not ok - $*"; }

# covers PAGE HELP_TEXT: every --option of the help text is in the page
covers() {
	local page="$1" opt missing=""
	for opt in $(printf '%s\n' "$2" | sed -n 's/^  \(--[a-z0-9.-]*\).*/\1/p'); do
		grep -qF -- "$(printf '%s' "$opt" | sed 's/-/\\-/g')" "$page" || missing="$missing $opt"
	done
	if [ -z "$missing" ]; then ok; else ko "$(basename "$page") lacks:$missing (run script/gen-man)"; fi
}

cmds=$("$BUILD/ckansync" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z]*\( put\)\{0,1\}\) .*/\1/p')
[ "$(echo "$cmds" | wc -l)" -ge 10 ] && ok || ko "could not list the commands of ckansync --help"
while read -r c; do
	[ -z "$c" ] && continue
	page="$MAN/ckansync-${c// /-}.1"
	if [ ! -f "$page" ]; then ko "no man page for 'ckansync $c' (run script/gen-man)"; continue; fi
	ok
	# shellcheck disable=SC2086
	covers "$page" "$("$BUILD/ckansync" $c --help)"
	grep -qF "ckansync\\-${c// /\\-}(1)" "$MAN/ckansync.1" && ok || ko "ckansync.1 does not list $c"
done <<<"$cmds"
for p in ckansync-producer ckansync-consumer; do
	if [ -f "$MAN/$p.1" ]; then ok; covers "$MAN/$p.1" "$("$BUILD/$p" --help)"; else ko "no $p.1"; fi
done

for page in "$MAN"/*.1; do
	w=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -z "$w" ]; then ok; else ko "$(basename "$page"): $w"; fi
	if MANPAGER=cat MANWIDTH=80 man -l "$page" >/dev/null 2>&1; then ok; else ko "man -l $(basename "$page") failed"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
