#!/usr/bin/env python3
# The README's run command, exactly as a newcomer types it: `build-aux/confab-dev run`,
# then `build-aux/confab-dev run --as bob` in a second terminal. Runs inside
# tests/app/run-in-session.sh (its own Xvfb, D-Bus session bus and gnome-keyring, a fresh
# HOME). CONFAB_BUILD_DIR points the script at the build under test, so the sanitizer
# pass runs its own binaries; setup and build find nothing to do, as on a second run.
#
# Checks: the sandbox comes up with the demo users; alice's Confab owns its application
# id and holds a connection; the second command joins the running sandbox as bob (two
# connections, two online users) and a message bob posts is accepted in General;
# Ctrl+C (SIGINT) in the first terminal stops the sandbox and alice's window, while bob's
# keeps running until closed; run again, the secret and the history are still there and
# alice is connected again.
#
# Output is TAP. SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SOURCE_ROOT = os.environ["CONFAB_SOURCE_ROOT"]
BUILD_DIR = os.environ["CONFAB_BUILD_DIR"]
APP_ID = os.environ["CONFAB_APP_ID"]
API_KEY = "confab-demo"
START_S = 180      # setup + build with nothing to do, the sandbox, the app signing in
STEP_S = 30

tests_run = 0
failed = False


def ok(condition, what):
    global tests_run, failed
    tests_run += 1
    print(f"{'ok' if condition else 'not ok'} {tests_run} - {what}", flush=True)
    if not condition:
        failed = True
        raise AssertionError(what)


def diag(text):
    for line in str(text).splitlines():
        print(f"# {line}", flush=True)


def wait_until(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            diag(f"timed out after {timeout_s} s waiting for: {what}")
            return value
        time.sleep(0.1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, method="GET", body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers.update({"Authorization": token, "stream-auth-type": "jwt"})
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def stats(base):
    try:
        return http(f"{base}/sandbox/stats")
    except (OSError, urllib.error.URLError, ValueError):
        return None


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def bus_call(method, *args):
    out = subprocess.run(
        ["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
         "--object-path", "/org/freedesktop/DBus", "--method", f"org.freedesktop.DBus.{method}", *args],
        capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def app_pids():
    """{pid: application id} of every Confab window on the session bus. The ids are
    APP_ID.User_<hash of server and user> (no user name on the bus), so windows are told
    apart by the process that owns them."""
    names = bus_call("ListNames") or ""
    result = {}
    prefix = APP_ID + ".User_"
    for name in (n.strip(" '[]()") for n in names.split(",")):
        if name.startswith(prefix):
            reply = bus_call("GetConnectionUnixProcessID", name)   # "(uint32 1234,)"
            if reply:
                result[int(reply.strip("(),").split()[-1])] = name
    return result


def descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


class Terminal:
    """One `build-aux/confab-dev run …` as if typed in a terminal of its own."""

    def __init__(self, name, args, env):
        self.log_path = os.path.join(env["CONFAB_TEST_TMP"], f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(SOURCE_ROOT, "build-aux", "confab-dev"), "run"] + args,
            cwd=SOURCE_ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait(self, timeout_s):
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def main():
    tmp = tempfile.mkdtemp(prefix="confab-run-command-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CONFAB_PORT=str(port), CONFAB_BUILD_DIR=BUILD_DIR, CONFAB_TEST_TMP=tmp)
    state = os.path.join(os.environ.get("XDG_STATE_HOME", os.path.expanduser("~/.local/state")),
                         "confab", "demo-sandbox")
    terminals = []
    try:
        first = Terminal("first", [], env)
        terminals.append(first)
        s = wait_until(lambda: (st := stats(base)) and st.get("connections", 0) >= 1 and st,
                       START_S, "the sandbox up and alice connected")
        if not s:
            diag(first.output())
        ok(bool(s), "`confab-dev run` starts the sandbox and alice's Confab connects to it")
        out = first.output()
        ok("Demo users: alice, bob, carol" in out and "--as bob" in out,
           "it prints the demo users and how to open a second user")
        windows = wait_until(lambda: app_pids(), STEP_S, "alice's application id")
        alice_pid = next(iter(windows), 0)
        ok(len(windows) == 1 and descends_from(alice_pid, first.proc.pid),
           "alice's window is the first command's own Confab (it owns her application id)")
        secret = os.path.join(state, "api-secret")
        ok(os.path.isfile(secret) and (os.stat(secret).st_mode & 0o777) == 0o600,
           "the sandbox's secret is kept in the state folder, readable by the user only")
        with open(secret) as f:
            secret_text = f.read()

        second = Terminal("second", ["--as", "bob"], env)
        terminals.append(second)
        s = wait_until(lambda: (st := stats(base)) and st.get("connections", 0) >= 2
                       and st.get("online_users", 0) >= 2 and st, STEP_S * 2, "bob connected too")
        if not s:
            diag(second.output())
        ok(bool(s), "`confab-dev run --as bob` joins the running sandbox: two connections, two users online")
        windows = wait_until(lambda: (w := app_pids()) and len(w) == 2 and w, STEP_S, "bob's application id")
        ok(bool(windows) and second.proc.pid in windows,
           "bob's window is the second command itself (it execs Confab)")
        ok(bool(windows) and alice_pid in windows and windows[alice_pid] != windows[second.proc.pid],
           "alice's window is still the first one, under an application id of its own")

        token = http(f"{base}/sandbox/demo-token", "POST", {"user_id": "bob"})["token"]
        text = f"hello from the run-command test {os.getpid()}-{time.monotonic_ns()}"
        sent = http(f"{base}/channels/messaging/general/message?api_key={API_KEY}", "POST",
                    {"message": {"text": text}}, token)
        ok(sent.get("message", {}).get("text") == text, "bob's message is accepted in General")

        # Ctrl+C in the first terminal: the sandbox and alice's window stop.
        first.proc.send_signal(signal.SIGINT)
        status = first.wait(STEP_S)
        ok(status is not None, "Ctrl+C ends the first command")
        ok(wait_until(lambda: not listening(port), STEP_S, "the port closed"), "…and the sandbox with it")
        ok(wait_until(lambda: alice_pid not in app_pids(), STEP_S, "alice gone"), "…and alice's window")
        # Bob's window lost its server; it keeps running until closed, and closes cleanly.
        ok(second.proc.poll() is None, "bob's window outlives the sandbox (it waits to reconnect)")
        second.proc.send_signal(signal.SIGTERM)
        ok(second.wait(STEP_S) == 0, "bob's window quits with status 0")

        # Again: the same history, the same secret, alice's token from her keyring.
        third = Terminal("third", [], env)
        terminals.append(third)
        s = wait_until(lambda: (st := stats(base)) and st.get("connections", 0) >= 1 and st,
                       START_S, "the sandbox up again and alice connected")
        if not s:
            diag(third.output())
        ok(bool(s), "run again: the sandbox starts and alice connects")
        with open(secret) as f:
            ok(f.read() == secret_text, "the sandbox's secret is the one of the first run")
        token = http(f"{base}/sandbox/demo-token", "POST", {"user_id": "alice"})["token"]
        res = http(f"{base}/channels/messaging/general/query?api_key={API_KEY}", "POST",
                   {"messages": {"limit": 50}, "state": True}, token)
        texts = [m.get("text") for m in res.get("messages", [])]
        ok(texts.count(text) == 1, "bob's message from the first run is in General, once")
        third.proc.send_signal(signal.SIGINT)
        ok(third.wait(STEP_S) is not None and wait_until(lambda: not listening(port), STEP_S, "closed"),
           "Ctrl+C stops it again")
    except AssertionError:
        pass
    finally:
        for t in terminals:
            t.kill()
        if failed:
            for t in terminals:
                diag(f"--- {os.path.basename(t.log_path)}")
                diag(t.output()[-4000:])
    print(f"1..{tests_run}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
