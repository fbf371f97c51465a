#!/usr/bin/env bash
# Unit: every C source and header is formatted by the project's
# .clang-format (STYLE.md); run `script/format` to fix what this reports.
set -uo pipefail
ROOT=${CKS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 1
command -v clang-format >/dev/null || { echo "clang-format missing: run script/bootstrap"; exit 1; }
mapfile -t files < <(find common cli producer consumer tests bench -name '*.[ch]' | sort)
[ "${#files[@]}" -ge 50 ] || { echo "not ok - found only ${#files[@]} C files"; exit 1; }
if out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
	echo "ok - ${#files[@]} C files formatted"
else
	echo "$out" | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | uniq -c |
		while read -r n f; do echo "not ok - $f: $n place(s) not formatted"; done
	echo "run script/format"
	exit 1
fi
