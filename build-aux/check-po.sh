#!/usr/bin/env bash
# check-po.sh SRCDIR: every file with translatable strings is in POTFILES.in, and every
# language in LINGUAS translates every string (nothing missing, nothing fuzzy).
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

listed=$(grep -v '^#' po/POTFILES.in | sed '/^$/d' | sort)
found=$(git ls-files 'src/*.c' 'src/*.ui' 'data/*.ui' 'data/*.in' 2>/dev/null |
        xargs -r grep -lE '(^|[^A-Za-z0-9_])(_|N_|C_|NC_)\(|translatable="yes"' | sort || true)
missing=$(comm -13 <(printf '%s\n' "$listed") <(printf '%s\n' "$found") | sed '/^$/d')
if [ -n "$missing" ]; then
  echo "not in po/POTFILES.in but has translatable strings:"; echo "$missing"; status=1
fi

xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --add-comments --files-from=<(printf '%s\n' "$listed") -o "$tmp/confab.pot"
for lang in $(grep -v '^#' po/LINGUAS); do
  msgmerge -q --no-fuzzy-matching "po/$lang.po" "$tmp/confab.pot" -o "$tmp/$lang.po"
  stats=$(msgfmt --check --statistics -o /dev/null "$tmp/$lang.po" 2>&1)
  echo "$lang: $stats"
  if printf '%s' "$stats" | grep -qE 'untranslated|fuzzy'; then
    echo "$lang.po is incomplete; run: msgmerge --update po/$lang.po <pot> and translate"; status=1
  fi
done
exit $status
