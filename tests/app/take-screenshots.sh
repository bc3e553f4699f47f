#!/usr/bin/env bash
# take-screenshots.sh [BUILDDIR]: screenshots of the running app against a --demo sandbox,
# light and dark, English and Russian, into docs/screenshots/ (they also serve the
# metainfo).
#
# BUILDDIR (default _build-screenshots) is configured, if new, with its install prefix
# inside it and installed there: translations are only found at the installed LOCALEDIR.
# Each shot runs in its own tests/app/run-in-session.sh session (Xvfb the size of the
# window, private D-Bus, gnome-keyring), with the colour scheme set through libadwaita's
# ADW_DEBUG_COLOR_SCHEME and the language through LANGUAGE. Needs ImageMagick's import.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-_build-screenshots}
cd "$src"
out="$src/docs/screenshots"
width=960
height=640

if [ ! -d "$build" ]; then
  meson setup "$build" --prefix="$src/$build/install" -Dtests=false
fi
ninja -C "$build" -j2
meson install -C "$build" --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
         python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
confab="$prefix/bin/confab"
sandbox="$build/src/sandbox/confab-sandbox"
[ -x "$confab" ] || { echo "no $confab" >&2; exit 1; }
mkdir -p "$out"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# One shot: a fresh sandbox, the app signed in as alice, bob writing, then the window.
# $1 name, $2 LANGUAGE, $3 colour scheme, $4 "reconnecting" to stop the server first or
# "details" to open Connection Details.
shoot() {
  local name=$1 language=$2 scheme=$3 mode=${4:-}
  local ready="$tmp/$name.ready"

  "$sandbox" --listen 127.0.0.1:0 --api-key confab-demo --api-secret "screenshots-$RANDOM" --demo \
    >"$ready" 2>"$tmp/$name.sandbox.log" &
  local sandbox_pid=$!
  pids+=("$sandbox_pid")
  for _ in $(seq 1 100); do [ -s "$ready" ] && break; sleep 0.1; done
  local url
  url=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$ready")

  cat >"$tmp/$name.sh" <<EOF
set -u
export LANGUAGE=$language LANG=C.UTF-8 ADW_DEBUG_COLOR_SCHEME=$scheme
export GSETTINGS_SCHEMA_DIR="$prefix/share/glib-2.0/schemas"
"$confab" --sandbox "$url" --as alice >"$tmp/$name.app.log" 2>&1 &
app=\$!
# Signed in and connected: the sandbox counts alice's connection.
for _ in \$(seq 1 100); do
  curl -sf "$url/sandbox/stats" | grep -q '"connections" *: *[1-9]' && break
  sleep 0.1
done
token=\$(curl -sf -X POST "$url/sandbox/demo-token" -d '{"user_id":"bob"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
post() {
  curl -sf -X POST -H "Authorization: \$token" -H "stream-auth-type: jwt" \
    "$url/channels/messaging/general/message?api_key=confab-demo&user_id=bob" \
    -d "{\"message\":{\"text\":\"\$1\"}}" >/dev/null
}
post "The relay on 8443 is up again; long-poll stays as the fallback."
post "Screenshots for the release notes are in the shared folder 👍"
# Open General through the app's own action, as a notification would.
id=\$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \\
     --method org.freedesktop.DBus.ListNames | grep -o "io[.]github[.]confab_chat[.]Confab[A-Za-z0-9_.]*" | head -1)
gdbus call --session --dest "\$id" --object-path "/\$(echo "\$id" | tr . /)" \\
  --method org.gtk.Actions.Activate open-channel "[<'messaging:general'>]" "{}" >/dev/null
if [ "$mode" = details ]; then
  gdbus call --session --dest "\$id" --object-path "/\$(echo "\$id" | tr . /)" \\
    --method org.gtk.Actions.Activate connection-details "[]" "{}" >/dev/null
fi
if [ "$mode" = reconnecting ]; then
  sleep 1
  kill -STOP $sandbox_pid
  kill -KILL $sandbox_pid
fi
sleep 3
import -window root "$out/$name.png"
kill \$app
wait \$app 2>/dev/null || true
EOF
  CONFAB_SESSION_SCREEN="${width}x${height}x24" GSETTINGS_BACKEND=memory GTK_A11Y=none \
    bash "$src/tests/app/run-in-session.sh" bash "$tmp/$name.sh"
  kill "$sandbox_pid" 2>/dev/null || true
  wait "$sandbox_pid" 2>/dev/null || true
  echo "$out/$name.png"
}

shoot confab-en-light en prefer-light
shoot confab-en-dark en prefer-dark
shoot confab-ru-light ru prefer-light
shoot confab-ru-dark ru prefer-dark
shoot confab-en-reconnecting en prefer-light reconnecting
shoot confab-ru-reconnecting-dark ru prefer-dark reconnecting
shoot confab-en-connection-details en prefer-light details
