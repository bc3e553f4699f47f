#!/usr/bin/env bash
# run-in-session.sh [--no-keyring] PROGRAM [ARG…]: runs PROGRAM as a desktop session would,
# but private to it: its own Xvfb display, its own D-Bus session bus (no service
# activation, so nothing outside starts), a real gnome-keyring-daemon holding an unlocked
# "login" keyring (unless --no-keyring), and a fresh HOME and XDG directories, all removed
# afterwards. GTK draws with cairo on X11; GSettings keeps nothing on disk.
#
# Exits with PROGRAM's status; with 77 (meson's "skipped") only when Xvfb cannot start.
# CONFAB_SESSION_SCREEN sets the screen (default 1280x800x24); GSK_RENDERER,
# GSETTINGS_BACKEND and GTK_A11Y are kept when set (defaults cairo, memory, test).
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u

keyring=1
if [ "${1:-}" = "--no-keyring" ]; then
  keyring=0
  shift
fi
if [ $# -lt 1 ]; then
  echo "usage: $0 [--no-keyring] PROGRAM [ARG…]" >&2
  exit 2
fi

for tool in Xvfb dbus-daemon dbus-run-session gdbus; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "$tool" = Xvfb ]; then
      echo "# SKIP: Xvfb is not installed (Debian package xvfb)" >&2
      exit 77
    fi
    echo "run-in-session: $tool is missing" >&2
    exit 1
  fi
done
if [ $keyring = 1 ] && ! command -v gnome-keyring-daemon >/dev/null 2>&1; then
  echo "run-in-session: gnome-keyring-daemon is missing (Debian package gnome-keyring)" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/confab-session-XXXXXX")
xvfb_pid=
cleanup() {
  if [ -n "$xvfb_pid" ]; then
    kill "$xvfb_pid" 2>/dev/null
    wait "$xvfb_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Xvfb picks a free display itself and writes its number to fd 3: no races between
# tests running at the same time.
Xvfb -displayfd 3 -screen 0 "${CONFAB_SESSION_SCREEN:-1280x800x24}" -nolisten tcp -noreset 3>"$tmp/display" 2>"$tmp/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 1 200); do
  [ -s "$tmp/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || break
  sleep 0.05
done
if [ ! -s "$tmp/display" ]; then
  echo "# SKIP: Xvfb could not start:" >&2
  sed 's/^/#   /' "$tmp/xvfb.log" >&2
  exit 77
fi
display=":$(tr -d '[:space:]' <"$tmp/display")"

mkdir -p "$tmp/home" "$tmp/config" "$tmp/data" "$tmp/cache" "$tmp/state" "$tmp/runtime"
chmod 700 "$tmp/runtime"

# A session bus that activates nothing: only what this script starts is on it.
cat >"$tmp/session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$tmp/runtime</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF

export DISPLAY="$display"
export HOME="$tmp/home"
export XDG_CONFIG_HOME="$tmp/config"
export XDG_DATA_HOME="$tmp/data"
export XDG_CACHE_HOME="$tmp/cache"
export XDG_STATE_HOME="$tmp/state"
export XDG_RUNTIME_DIR="$tmp/runtime"
export GDK_BACKEND=x11
export GSK_RENDERER="${GSK_RENDERER:-cairo}"
export GSETTINGS_BACKEND="${GSETTINGS_BACKEND:-memory}"
export NO_AT_BRIDGE=1
export GTK_A11Y="${GTK_A11Y:-test}"
export CONFAB_TEST_SESSION_KEYRING=$keyring
unset WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS SSH_AUTH_SOCK GNOME_KEYRING_CONTROL

# Inside the private bus: the keyring first, then the program.
inner='
set -u
keyring_pid=
if [ "$CONFAB_TEST_SESSION_KEYRING" = 1 ]; then
  printf "%s" confab-test-keyring | gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$XDG_RUNTIME_DIR/keyring.out" 2>&1 &
  keyring_pid=$!
  if ! gdbus wait --session --timeout 10 org.freedesktop.secrets; then
    echo "run-in-session: gnome-keyring-daemon did not come up:" >&2
    cat "$XDG_RUNTIME_DIR/keyring.out" >&2
    exit 1
  fi
fi
"$@"
status=$?
if [ -n "$keyring_pid" ]; then
  kill "$keyring_pid" 2>/dev/null
  wait "$keyring_pid" 2>/dev/null
fi
exit $status
'
dbus-run-session --config-file="$tmp/session.conf" -- bash -c "$inner" run-in-session "$@"
exit $?
