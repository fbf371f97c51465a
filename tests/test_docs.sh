#!/usr/bin/env bash
# Unit: the operator docs stay true to the code: every metric the daemons
# register (common/*.c) is described in docs/monitoring.md and every
# alert rule uses existing metrics (script/check-compose checks that too);
# relative links in README.md and the operator pages resolve.
# Prints "N passed, M failed".
set -uo pipefail
ROOT=${CKS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "not ok - $*"; }

metrics=$(grep -ho '"ckansync_[a-z_]*"' "$ROOT"/common/*.c | tr -d '"' | sort -u)
[ "$(echo "$metrics" | wc -l)" -ge 15 ] && ok || ko "found too few metric names in common/"
for m in $metrics; do
	grep -q "\`$m\`" "$ROOT/docs/monitoring.md" && ok || ko "metric $m is not in docs/monitoring.md"
done

# Relative Markdown links: [text](path[#anchor]) must name an existing file.
for md in "$ROOT"/README.md "$ROOT"/docs/{install,configuration,topics,upgrading,monitoring,troubleshooting,scaling}.md; do
	dir=$(dirname "$md")
	while read -r link; do
		target=${link%%#*}
		[ -z "$target" ] && continue
		case "$target" in http*://* | mailto:*) continue ;; esac
		if [ -e "$dir/$target" ]; then ok; else ko "$(basename "$md"): broken link $link"; fi
	done < <(grep -o '\](\([^)]*\))' "$md" | sed 's/^](\(.*\))$/\1/')
done
for page in install configuration topics upgrading monitoring troubleshooting scaling; do
	grep -q "docs/$page.md" "$ROOT/README.md" && ok || ko "README.md does not point at docs/$page.md"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
