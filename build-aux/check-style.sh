#!/usr/bin/env bash
# check-style.sh SRCDIR: the rules grep can see (see README "Engineering standards").
set -uo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"
status=0
fail() { echo "$1"; echo "$2" | sed 's/^/  /'; status=1; }

c_files=$(git ls-files '*.c' '*.h')

# g_autoptr/g_autofree variables must be initialised: an early return frees garbage otherwise.
hits=$(printf '%s\n' $c_files | xargs -r grep -nE 'g_auto(ptr|free)?\b[^=;(]*(\([^)]*\))?[^=;]*\b[A-Za-z_][A-Za-z_0-9]*\s*;' || true)
[ -z "$hits" ] || fail "uninitialised g_autoptr/g_autofree:" "$hits"

# The core stays headless.
hits=$(git ls-files 'src/core/*' | xargs -r grep -nE '#include <(gtk|adwaita)' || true)
[ -z "$hits" ] || fail "src/core includes a GTK header:" "$hits"

# Tests wait on conditions, never on time.
hits=$(git ls-files 'tests/*.c' | xargs -r grep -nE '\b(g_usleep|usleep|sleep)\s*\(' || true)
[ -z "$hits" ] || fail "sleep used in a C test:" "$hits"
hits=$(git ls-files 'tests/*.mjs' 'tests/*.js' | grep -v node_modules |
       xargs -r grep -nE 'setTimeout\([^,]*,\s*[0-9]+\)\s*\)|timers/promises' || true)
[ -z "$hits" ] || fail "a fixed sleep in a JS test (wait for a condition instead):" "$hits"

exit $status
