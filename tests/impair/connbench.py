#!/usr/bin/env python3
# connbench.py: the connection benchmark: Confab and Stream's official SDK side by side
#
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs every network scenario N times for four clients through confab-impair and reports.

    tests/impair/connbench.py [--build-dir _build] [--runs 30] [--quick | --smoke]
                              [--scenarios a,b,…] [--clients confab,sdk,sdk-fallback,brief]
                              [--jobs 6] [--out FILE.json] [--markdown FILE.md]
                              [--no-delivery | --delivery-only] [--no-netns] [--seed N]

Clients: confab = `confab-cli connect --json`; sdk = the official `stream-chat` SDK
(tests/conformance's pinned install) with its defaults; sdk-fallback = the same with
`enableWSFallback: true`; brief = the user's original pattern (a `getInstance()`
singleton and `Promise.race` of connectUser against 30 s).

Everything runs on loopback. As root, the whole run moves into its own network and mount
namespaces (`unshare --net --mount`): loss comes from iptables `statistic` drops there,
the TLS scenario trusts the test certificate there (a bind mount over the CA bundle that
only this namespace sees), and nothing can leak out. Without root, loss and TLS scenarios
are skipped (and said so): a skip is never a pass.

Exit status: 0 when the harness worked (the numbers are what they are), 1 when the harness
itself failed (a smoke assertion, a process that would not start), 2 on bad arguments.
"""
import argparse
import base64
import collections
import concurrent.futures
import datetime
import hashlib
import hmac
import json
import math
import os
import platform
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SDK_DIR = os.path.join(ROOT, "tests", "conformance")
TEST_CERT = os.path.join(ROOT, "tests", "sandbox", "data", "test-cert.pem")
TEST_KEY = os.path.join(ROOT, "tests", "sandbox", "data", "test-key.pem")
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

API_KEY = "connbench"
CLIENTS = ["confab", "sdk", "sdk-fallback", "brief"]
CLIENT_LABEL = {
    "confab": "confab-cli",
    "sdk": "SDK defaults",
    "sdk-fallback": "SDK enableWSFallback",
    "brief": "brief's pattern (30 s race)",
}
USERS = ["alice", "bob", "carol"]
SUCCESS_MS = 10000          # "success" = usable within 10 s
HARD_TIMEOUT_S = 35         # a run never lasts longer than this to become usable
NOTICE_WINDOW_S = 75        # how long a client gets to notice a silent cut
BACK_WINDOW_S = 75          # how long a client gets to return to WebSocket
SLOW_RUN_S = 5              # runs slower than this (first two tell) go in parallel


# Scenarios ------------------------------------------------------------------------------

class Scenario:
    def __init__(self, name, profile, kind="connect", tls=False, round_trips=2, note="", netchange=False,
                 clients=None, sequential=False, alternate=False):
        self.name = name
        self.profile = profile
        self.kind = kind
        self.tls = tls
        self.round_trips = round_trips   # handshake floor: TCP + (TLS) + upgrade
        self.note = note
        self.netchange = netchange       # a network-change event (netlink) right after the cut
        self.clients = clients           # None: every client
        self.sequential = sequential     # never in parallel (the event is namespace-wide)
        self.alternate = alternate       # clients that take more than one endpoint get the secondary


SCENARIOS = [
    Scenario("clean", "clean"),
    Scenario("wifi", "wifi"),
    Scenario("4g", "4g"),
    Scenario("3g", "3g"),
    Scenario("lossy", "lossy"),
    Scenario("tls-50ms", "tls-50ms", tls=True, round_trips=3),
    Scenario("corporate-proxy", "corporate-proxy"),
    Scenario("ws-blackholed", "ws-blackholed"),
    Scenario("ws-blackholed-101", "ws-blackholed-101"),
    Scenario("primary-down", "primary-down", alternate=True,
             note="a second endpoint is up (the proxy's `secondary` listener, 50 ms): confab-cli is given it "
                  "with --endpoint; the SDK has one baseURL and cannot be told"),
    Scenario("server-restart", "server-restart", kind="restart"),
    Scenario("buffering-proxy", "buffering-proxy"),
    Scenario("mid-session-cut", "mid-session-cut", kind="cut"),
    # Node has no network-change input for the SDK (browsers give it online/offline).
    Scenario("cut+network-change", "mid-session-cut", kind="cut", netchange=True, clients=["confab"],
             sequential=True, note="a route appears right after the cut (netlink → GNetworkMonitor)"),
    Scenario("ws-returns", "ws-returns", kind="ws-returns"),
]
# A scenario of the benchmark's own: the TLS sandbox at 50 ms (the proxy passes TLS).
EXTRA_PROFILES = {"tls-50ms": {"name": "tls-50ms", "rules": "rtt=50", "loss": 0, "rtt_ms": 50,
                               "description": "TLS (wss/https) at 50 ms round trip", "event": None}}

SMOKE = {"scenarios": ["clean", "ws-blackholed", "mid-session-cut"], "clients": ["confab"], "runs": 2}


class HarnessError(Exception):
    pass


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# Tokens ---------------------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(secret, claims):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


# Processes ------------------------------------------------------------------------------

class Proc:
    """A child whose stdout JSON lines are read by a thread and stamped on arrival."""

    def __init__(self, argv, env=None, stdin_text=None, log_path=None, name="proc"):
        self.name = name
        self.lines = queue.Queue()
        self.all = []
        self.rusage = None
        self.status = None
        self.started = time.monotonic()
        self.stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self.stderr, env=env, start_new_session=True)
        if stdin_text is not None:
            def feed():
                try:
                    self.p.stdin.write(stdin_text.encode())
                    self.p.stdin.close()
                except OSError:
                    pass
            threading.Thread(target=feed, daemon=True).start()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            now = time.monotonic()
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = {"kind": "text", "text": raw.decode(errors="replace").rstrip()}
            if not isinstance(obj, dict):
                obj = {"kind": "text", "text": str(obj)}
            obj["_t"] = now
            self.all.append(obj)
            self.lines.put(obj)
        self.lines.put(None)

    def next(self, deadline):
        """The next line, or None at EOF; raises queue.Empty at the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise queue.Empty
        return self.lines.get(timeout=remaining)

    def wait_for(self, predicate, deadline):
        """The first line that matches, or None (EOF or deadline)."""
        while True:
            try:
                line = self.next(deadline)
            except queue.Empty:
                return None
            if line is None:
                return None
            if predicate(line):
                return line

    def reap(self, kill=True, grace=0.0):
        """Ends the child (SIGKILL unless it exits within grace) and records its rusage."""
        if self.rusage is not None:
            return self.status
        deadline = time.monotonic() + grace
        while True:
            pid, status, rusage = os.wait4(self.p.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.monotonic() >= deadline:
                if kill:
                    try:
                        os.killpg(self.p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                pid, status, rusage = os.wait4(self.p.pid, 0)
                break
            time.sleep(0.01)
        self.rusage = rusage
        self.status = os.waitstatus_to_exitcode(status)
        self.p.returncode = self.status
        if self.stderr is not subprocess.DEVNULL:
            self.stderr.close()
        self.reader.join(timeout=2)
        return self.status

    def signal(self, sig):
        try:
            os.kill(self.p.pid, sig)
        except ProcessLookupError:
            pass

    @property
    def peak_rss_kib(self):
        return self.rusage.ru_maxrss if self.rusage is not None else None


def read_ready(proc, key, timeout=15):
    line = proc.wait_for(lambda l: key in l, time.monotonic() + timeout)
    if line is None:
        proc.reap()
        raise HarnessError(f"{proc.name} did not start (no {key!r} line within {timeout} s)")
    return line


# The environment ------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="connbench-")
        self.secret = "connbench-" + os.urandom(8).hex()
        self.rand = random.Random(args.seed)
        self.loss_ok = False
        self.loss_reason = "not root: no network namespace"
        self.tls_ok = False
        self.tls_reason = "not root: the test certificate cannot be trusted for confab-cli"
        self.sandbox = None
        self.tls_sandbox = None
        self.proxy = None
        self.control = None
        self.workers = queue.Queue()
        self.ports = {}
        self.lock = threading.Lock()
        self.profiles = {}
        self.node = shutil.which("node")
        self.sdk_ok = self.node is not None and os.path.isdir(os.path.join(SDK_DIR, "node_modules", "stream-chat"))

    # binaries
    def binary(self, rel):
        path = os.path.join(self.args.build_dir, rel)
        if not os.access(path, os.X_OK):
            raise HarnessError(f"{path} is missing: build first (ninja -C {self.args.build_dir})")
        return path

    def setup_namespace(self):
        """Inside `unshare --net --mount`: loopback up, a default route (GNetworkMonitor says
        "offline" without one, and confab then waits for the network), iptables, the CA."""
        def sh(*argv):
            return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sh("ip", "link", "set", "lo", "up")
        # Segments of a real link's size, so a dropped packet costs what it would.
        sh("ip", "link", "set", "lo", "mtu", "1500")
        r = sh("ip", "link", "add", "cb0", "type", "veth", "peer", "name", "cb1")
        if r.returncode == 0:
            sh("ip", "addr", "add", "10.254.0.1/24", "dev", "cb0")
            sh("ip", "link", "set", "cb0", "up")
            sh("ip", "link", "set", "cb1", "up")
            sh("ip", "route", "add", "default", "via", "10.254.0.2", "dev", "cb0")
        if shutil.which("iptables") is None:
            self.loss_reason = "iptables is not installed (apt-get install iptables)"
        else:
            r = sh("iptables", "-A", "INPUT", "-i", "lo", "-p", "tcp", "--dport", "1", "-m", "statistic",
                   "--mode", "random", "--probability", "0.5", "-j", "DROP")
            if r.returncode == 0:
                sh("iptables", "-F", "INPUT")
                self.loss_ok = True
                self.loss_reason = ""
            else:
                self.loss_reason = "iptables statistic is not permitted here: " + r.stderr.strip()[:120]
        bundle = os.path.join(self.tmp, "ca-bundle.crt")
        try:
            with open(bundle, "wb") as out:
                if os.path.exists(CA_BUNDLE):
                    with open(CA_BUNDLE, "rb") as f:
                        out.write(f.read())
                with open(TEST_CERT, "rb") as f:
                    out.write(f.read())
            r = sh("mount", "--bind", bundle, CA_BUNDLE)
            if r.returncode == 0:
                self.tls_ok = True
                self.tls_reason = ""
            else:
                self.tls_reason = "could not bind-mount the CA bundle: " + r.stderr.strip()[:120]
        except OSError as e:
            self.tls_reason = f"could not prepare the CA bundle: {e}"

    def start(self):
        self.sandbox_bin = self.binary("src/sandbox/confab-sandbox")
        self.cli_bin = self.binary("src/cli/confab-cli")
        self.impair_bin = self.binary("tests/impair/confab-impair")
        self.profiles = {p["name"]: p for p in json.loads(
            subprocess.run([self.impair_bin, "--list-profiles"], check=True, capture_output=True).stdout)}
        self.profiles.update(EXTRA_PROFILES)
        self.sandbox, self.sandbox_url = self.start_sandbox(demo=True)
        if self.tls_ok:
            self.tls_sandbox, self.tls_url = self.start_sandbox(demo=True, tls=True)
        self.control = os.path.join(self.tmp, "impair.sock")
        argv = [self.impair_bin, "--control", self.control, "--die-with-parent", "--seed", str(self.args.seed)]
        port = self.sandbox_url.rsplit(":", 1)[1]
        for w in range(self.args.jobs):
            argv += ["--listener", f"w{w} listen=127.0.0.1:0 upstream=127.0.0.1:{port}"]
            if self.tls_ok:
                tport = self.tls_url.rsplit(":", 1)[1]
                argv += ["--listener", f"w{w}-tls listen=127.0.0.1:0 upstream=127.0.0.1:{tport}"]
            self.workers.put(w)
        argv += ["--listener", f"secondary listen=127.0.0.1:0 upstream=127.0.0.1:{port} rtt=50"]
        argv += ["--listener", f"delivery listen=127.0.0.1:0 upstream=127.0.0.1:{port} rtt=20"]
        self.proxy = Proc(argv, log_path=os.path.join(self.tmp, "impair.log"), name="confab-impair")
        ready = read_ready(self.proxy, "listeners")
        for l in ready["listeners"]:
            self.ports[l["name"]] = int(l["listen"].rsplit(":", 1)[1])

    def start_sandbox(self, demo=False, tls=False, data_dir=None, port=0):
        argv = [self.sandbox_bin, "--listen", f"127.0.0.1:{port}", "--api-key", API_KEY, "--api-secret", self.secret]
        if demo:
            argv.append("--demo")
        if tls:
            argv += ["--tls-cert", TEST_CERT, "--tls-key", TEST_KEY]
        if data_dir:
            argv += ["--data-dir", data_dir]
        proc = Proc(argv, log_path=os.path.join(self.tmp, "sandbox.log"), name="confab-sandbox")
        ready = read_ready(proc, "listening")
        return proc, ready["listening"]

    def stop(self):
        for p in (self.proxy, self.sandbox, self.tls_sandbox):
            if p is not None:
                p.signal(signal.SIGTERM)
                p.reap(grace=5)
        if self.loss_ok:
            subprocess.run(["iptables", "-F", "INPUT"], stderr=subprocess.DEVNULL)
        if not self.args.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # control
    def ctl(self, *words):
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.control)
        s.sendall((" ".join(words) + "\n").encode())
        s.shutdown(socket.SHUT_WR)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        answer = json.loads(data)
        if not answer.get("ok"):
            raise HarnessError(f"confab-impair refused {' '.join(words)!r}: {answer.get('error')}")
        return answer

    def network_change(self):
        """A route comes or goes on the namespace's veth: netlink tells GNetworkMonitor."""
        self.netchange_flip = not getattr(self, "netchange_flip", False)
        subprocess.run(["ip", "route", "add" if self.netchange_flip else "del", "10.254.9.0/24", "dev", "cb0"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listener_for(self, scenario, worker):
        return f"w{worker}-tls" if scenario.tls else f"w{worker}"

    def apply_profile(self, scenario):
        """Sets every worker's listener to the scenario's rules, and its loss."""
        profile = self.profiles[scenario.profile]
        for w in range(self.args.jobs):
            name = self.listener_for(scenario, w)
            self.ctl("clear", name)
            if profile["rules"]:
                self.ctl("set", name, *profile["rules"].split())
        self.set_loss(scenario, profile["loss"])

    def set_loss(self, scenario, loss):
        if not self.loss_ok:
            return
        subprocess.run(["iptables", "-F", "INPUT"], check=True)
        if loss <= 0:
            return
        for w in range(self.args.jobs):
            port = str(self.ports[self.listener_for(scenario, w)])
            for flag in ("--dport", "--sport"):
                subprocess.run(["iptables", "-A", "INPUT", "-i", "lo", "-p", "tcp", flag, port, "-m", "statistic",
                                "--mode", "random", "--probability", f"{loss:.4f}", "-j", "DROP"], check=True)

    def url(self, scenario, worker):
        scheme = "https" if scenario.tls else "http"
        return f"{scheme}://127.0.0.1:{self.ports[self.listener_for(scenario, worker)]}"

    def token(self, user):
        return jwt(self.secret, {"user_id": user})

    def client_argv(self, client, base_url, user, watch, alternates=()):
        token = self.token(user)
        if client == "confab":
            argv = [self.cli_bin, "connect", "--base-url", base_url, "--api-key", API_KEY, "--user", user,
                    "--token", token, "--json", "--timeout", str(HARD_TIMEOUT_S + NOTICE_WINDOW_S + 60)]
            for url in alternates:
                argv += ["--endpoint", url]
            if not watch:
                argv.append("--once")
            return argv
        variant = {"sdk": "default", "sdk-fallback": "fallback", "brief": "brief"}[client]
        argv = [self.node, os.path.join(HERE, "sdk-client.mjs"), "--variant", variant, "--base-url", base_url,
                "--api-key", API_KEY, "--user", user, "--token", token]
        if watch:
            argv.append("--watch")
        return argv

    def client_env(self):
        env = dict(os.environ)
        env["NODE_EXTRA_CA_CERTS"] = TEST_CERT
        env.pop("http_proxy", None)
        env.pop("https_proxy", None)
        return env


# One run --------------------------------------------------------------------------------

def is_usable(client, line):
    """Usable = the first health.check with a connection_id: confab's UPDATING (catching
    up) or CONNECTED state; the SDK's connectUser resolving."""
    if client == "confab":
        return line.get("kind") == "state" and line.get("state") in ("updating", "connected")
    return line.get("kind") == "usable"


def is_down(client, line):
    if client == "confab":
        return line.get("kind") == "state" and line.get("state") not in ("updating", "connected")
    return line.get("kind") == "health" and line.get("healthy") is False


def is_up_again(client, line):
    if client == "confab":
        return is_usable(client, line)
    return (line.get("kind") == "health" and line.get("healthy") is True) or \
        (line.get("kind") == "connection.changed" and line.get("online") is True)


def transport_of(line):
    return line.get("transport")


def client_build_ms(client, proc, usable):
    """How long building the client took before its connect call, on its own clock."""
    if client == "confab":
        connect = next((l for l in proc.all if l.get("kind") == "connect"), None)
        return connect["elapsed_ms"] if connect else 0
    return (usable or {}).get("client_built_ms", 0)


def run_once(bench, scenario, client, index, worker):
    rng = random.Random(f"{bench.args.seed}-{scenario.name}-{client}-{index}")
    user = USERS[index % len(USERS)]
    result = {"scenario": scenario.name, "client": client, "run": index, "ok": False, "usable_ms": None,
              "connected_ms": None, "transport": None, "error": None}
    watch = scenario.kind != "connect"
    restart_sb = None
    base_url = bench.url(scenario, worker)
    name = bench.listener_for(scenario, worker)
    data_dir = None

    if scenario.kind == "restart":
        data_dir = tempfile.mkdtemp(prefix="restart-", dir=bench.tmp)
        restart_sb, sb_url = bench.start_sandbox(data_dir=data_dir)
        bench.ctl("set", name, "upstream=127.0.0.1:" + sb_url.rsplit(":", 1)[1])
        user = f"restart-{client}-{index}"

    # Only confab-cli takes alternates; the SDK's baseURL is one URL.
    alternates = [f"http://127.0.0.1:{bench.ports['secondary']}"] if scenario.alternate else []
    proc = Proc(bench.client_argv(client, base_url, user, watch, alternates), env=bench.client_env(),
                log_path=os.path.join(bench.tmp, f"client-{client}.log"), name=client)
    start = proc.started
    try:
        usable = proc.wait_for(lambda l: is_usable(client, l) or l.get("kind") == "error",
                               start + HARD_TIMEOUT_S)
        # Both clocks start at the connect call, once the client is built (the SDK's at
        # connectUser after `new StreamChat`; confab-cli's "connect" line); the build
        # time is kept beside it ("startup_ms"), and the two summed in "cold_usable_ms".
        startup = client_build_ms(client, proc, usable)
        if usable is None or usable.get("kind") == "error":
            if usable is None:
                result["error"] = f"still not usable at {HARD_TIMEOUT_S} s"
            else:
                result["error"] = usable.get("message") or "failed"
                # On the client's own clock, like usable_ms (Node's start-up is not counted).
                result["failed_ms"] = usable.get("elapsed_ms", round((usable["_t"] - start) * 1000)) - \
                    (startup if client == "confab" else 0)
            return result
        if client == "confab":
            result["usable_ms"] = usable["elapsed_ms"] - startup
        else:
            result["usable_ms"] = usable.get("time_to_usable_ms", usable.get("elapsed_ms"))
        result["startup_ms"] = startup
        result["cold_usable_ms"] = result["usable_ms"] + startup
        result["transport"] = transport_of(usable)
        result["ok"] = result["usable_ms"] <= SUCCESS_MS
        if client == "confab" and not watch:
            done = proc.wait_for(lambda l: l.get("kind") == "usable", start + HARD_TIMEOUT_S)
            if done is not None:
                result["connected_ms"] = done.get("time_to_connected_ms", done.get("time_to_usable_ms")) - startup
        if scenario.kind == "connect":
            return result

        # The fault happens at a random moment of an idle, usable session.
        if client == "confab":
            proc.wait_for(lambda l: l.get("kind") == "state" and l.get("state") == "connected",
                          time.monotonic() + 10)
        time.sleep(rng.uniform(1.0, 10.0) if scenario.kind == "cut" else rng.uniform(1.0, 3.0))

        if scenario.kind == "cut":
            bench.ctl("cut", name, "silent")
            t_cut = time.monotonic()
            if scenario.netchange:
                bench.network_change()
            down = proc.wait_for(lambda l: is_down(client, l), t_cut + NOTICE_WINDOW_S)
            result["notice_ms"] = round((down["_t"] - t_cut) * 1000) if down else None
            bench.ctl("restore", name)
            t_restore = time.monotonic()
            up = proc.wait_for(lambda l: is_up_again(client, l), t_restore + HARD_TIMEOUT_S)
            result["recover_ms"] = round((up["_t"] - t_restore) * 1000) if up else None
            result["ok"] = result["ok"] and down is not None and up is not None and \
                result["recover_ms"] <= SUCCESS_MS
        elif scenario.kind == "restart":
            t_down = time.monotonic()
            restart_sb.signal(signal.SIGTERM)
            restart_sb.reap(grace=10)
            restart_sb, sb_url = bench.start_sandbox(data_dir=data_dir)
            bench.ctl("set", name, "upstream=127.0.0.1:" + sb_url.rsplit(":", 1)[1])
            t_up = time.monotonic()
            result["downtime_ms"] = round((t_up - t_down) * 1000)
            down = proc.wait_for(lambda l: is_down(client, l), t_up + HARD_TIMEOUT_S)
            up = down and proc.wait_for(lambda l: is_up_again(client, l), t_up + HARD_TIMEOUT_S)
            result["notice_ms"] = round((down["_t"] - t_down) * 1000) if down else None
            result["recover_ms"] = max(0, round((up["_t"] - t_up) * 1000)) if up else None
            result["ok"] = result["ok"] and bool(up) and result["recover_ms"] <= SUCCESS_MS
        elif scenario.kind == "ws-returns":
            if result["transport"] == "websocket":
                result["back_on_ws_ms"] = 0
            else:
                bench.ctl("set", name, "ws=pass")
                t_allow = time.monotonic()

                def on_ws(l):
                    if client == "confab":
                        return is_usable(client, l) and l.get("transport") == "websocket"
                    return l.get("kind") == "transport.changed" and l.get("mode") == "websocket"
                back = proc.wait_for(on_ws, t_allow + BACK_WINDOW_S)
                result["back_on_ws_ms"] = round((back["_t"] - t_allow) * 1000) if back else None
        return result
    finally:
        proc.signal(signal.SIGTERM)
        proc.reap(grace=0.5)
        result["peak_rss_kib"] = proc.peak_rss_kib
        result["wall_s"] = round(time.monotonic() - start, 2)
        if restart_sb is not None:
            restart_sb.signal(signal.SIGTERM)
            restart_sb.reap(grace=5)
        if scenario.kind in ("ws-returns", "restart"):
            profile = bench.profiles[scenario.profile]
            bench.ctl("clear", name)
            bench.ctl("set", name, "upstream=127.0.0.1:" + bench.sandbox_url.rsplit(":", 1)[1],
                      *profile["rules"].split())


def run_series(bench, scenario, client, runs):
    """N runs; the first two alone; the rest in parallel when runs are slow (timers, not CPU)."""
    results = []

    def one(i):
        w = bench.workers.get()
        try:
            r = run_once(bench, scenario, client, i, w)
        finally:
            bench.workers.put(w)
        mark = "ok" if r["ok"] else "FAIL"
        log(f"  {scenario.name:18} {client:13} #{i + 1:<3} {mark:4} usable={r['usable_ms']} "
            f"{r.get('transport') or ''} {('notice=' + str(r.get('notice_ms'))) if 'notice_ms' in r else ''}"
            f"{(' recover=' + str(r.get('recover_ms'))) if 'recover_ms' in r else ''}"
            f"{(' back_ws=' + str(r.get('back_on_ws_ms'))) if 'back_on_ws_ms' in r else ''}"
            f" rss={r.get('peak_rss_kib')} {r['wall_s']}s {(r.get('error') or '')[:80]}")
        return r

    first = min(runs, 2)
    for i in range(first):
        results.append(one(i))
    rest = list(range(first, runs))
    slow = sum(r["wall_s"] for r in results) / max(1, len(results)) > SLOW_RUN_S
    if rest and slow and bench.args.jobs > 1 and not scenario.sequential:
        with concurrent.futures.ThreadPoolExecutor(bench.args.jobs) as pool:
            results += list(pool.map(one, rest))
    else:
        for i in rest:
            results.append(one(i))
    return results


# Delivery check -------------------------------------------------------------------------

def rest(bench, method, path, body=None, token=None):
    url = f"{bench.sandbox_url}{path}{'&' if '?' in path else '?'}api_key={API_KEY}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": token or jwt(bench.secret, {"server": True}),
        "stream-auth-type": "jwt", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.loads(resp.read())


def server_texts(bench, channel_id):
    """Every message text in the channel, from the server (paging back with id_lt)."""
    texts = collections.Counter()
    id_lt = None
    while True:
        page = {"limit": 300}
        if id_lt:
            page["id_lt"] = id_lt
        res = rest(bench, "POST", f"/channels/messaging/{channel_id}/query", {"messages": page, "state": True})
        messages = res.get("messages", [])
        for m in messages:
            texts[m.get("text")] += 1
        if len(messages) < 300:
            return texts
        id_lt = messages[0]["id"]


def delivery_check(bench, cuts_wanted, kills_wanted):
    rng = random.Random(f"{bench.args.seed}-delivery")
    run_id = os.urandom(4).hex()
    channel_id = f"impair-{run_id}"
    cid = f"messaging:{channel_id}"
    rest(bench, "POST", f"/channels/messaging/{channel_id}/query",
         {"data": {"members": ["alice", "bob"], "created_by_id": "alice"}})
    outbox = os.path.join(bench.tmp, "outbox")
    proxy_url = f"http://127.0.0.1:{bench.ports['delivery']}"
    listener = Proc([bench.cli_bin, "listen", "--base-url", bench.sandbox_url, "--api-key", API_KEY, "--user", "bob",
                     "--token", bench.token("bob"), "--channel", cid, "--json"],
                    log_path=os.path.join(bench.tmp, "listener.log"), name="listener")
    if listener.wait_for(lambda l: l.get("kind") == "state" and l.get("state") == "connected",
                         time.monotonic() + 30) is None:
        listener.reap()
        raise HarnessError("the delivery listener did not connect")

    expected = []
    seq = [0]
    cuts = {"reset": 0, "silent": 0}
    stop = threading.Event()
    senders = {"runs": 0, "killed": 0, "exit_codes": []}

    def batch(n):
        lines = []
        for _ in range(n):
            seq[0] += 1
            lines.append(f"impair-{run_id}-{seq[0]:06d}")
        return lines

    def cutter():
        while not stop.is_set():
            # Up 0.3–2 s, then down: a reset (both ends see it) or a silent stall.
            if stop.wait(rng.uniform(0.3, 2.0)):
                break
            mode = "silent" if rng.random() < 0.2 else "reset"
            bench.ctl("cut", "delivery", mode)
            cuts[mode] += 1
            stop.wait(rng.uniform(0.5, 3.0) if mode == "silent" else rng.uniform(0.05, 0.5))
            bench.ctl("restore", "delivery")

    def sender(lines, kill_after=None):
        proc = Proc([bench.cli_bin, "send", "--base-url", proxy_url, "--api-key", API_KEY, "--user", "alice",
                     "--token", bench.token("alice"), "--channel", cid, "--outbox-dir", outbox, "--json",
                     "--timeout", "600"], stdin_text="".join(l + "\n" for l in lines),
                    log_path=os.path.join(bench.tmp, "sender.log"), name="sender")
        senders["runs"] += 1
        if kill_after is not None:
            # Every line is in the outbox (fsync'd) once the first state line is out.
            first = proc.wait_for(lambda l: l.get("kind") == "state", time.monotonic() + 30)
            if first is None:
                proc.reap()
                raise HarnessError("a sender did not start")
            expected.extend(lines)
            time.sleep(kill_after)
            proc.signal(signal.SIGKILL)
            senders["killed"] += 1
            proc.reap(kill=True)
            return
        expected.extend(lines)
        proc.wait_for(lambda l: False, time.monotonic() + 900)
        senders["exit_codes"].append(proc.reap(kill=True, grace=1))

    t0 = time.monotonic()
    thread = threading.Thread(target=cutter, daemon=True)
    thread.start()
    # Phase 1: batches through a link that is cut and restored at random.
    while cuts["reset"] + cuts["silent"] < cuts_wanted:
        sender(batch(200))
        log(f"  delivery: {len(expected)} queued, {cuts['reset'] + cuts['silent']} cuts so far")
    # Phase 2: the sender killed (SIGKILL) mid-send and started again, cuts going on.
    for _ in range(kills_wanted):
        sender(batch(40), kill_after=rng.uniform(0.0, 1.5))
    stop.set()
    thread.join()
    bench.ctl("restore", "delivery")
    sender([])   # what the last kill left in the outbox
    phase_s = time.monotonic() - t0

    # The listener has until 60 s after the last send to see everything.
    wanted = set(expected)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = {l.get("text") for l in listener.all if l.get("kind") == "message"}
        if wanted <= got:
            break
        time.sleep(0.2)
    listener.signal(signal.SIGTERM)
    listener.reap(grace=3)
    messages = [l for l in listener.all if l.get("kind") == "message"]
    ids = collections.Counter(l.get("id") for l in messages)
    texts = collections.Counter(l.get("text") for l in messages)
    server = server_texts(bench, channel_id)
    result = {
        "messages": len(expected),
        "cuts": cuts,
        "sender_runs": senders["runs"],
        "sender_kills": senders["killed"],
        "sender_exit_codes": collections.Counter(senders["exit_codes"]),
        "server_lost": sorted(t for t in wanted if server[t] == 0)[:20],
        "server_lost_count": sum(1 for t in wanted if server[t] == 0),
        "server_duplicates": sum(c - 1 for t, c in server.items() if t in wanted and c > 1),
        "listener_missing_count": sum(1 for t in wanted if texts[t] == 0),
        "listener_duplicate_ids": sum(c - 1 for c in ids.values() if c > 1),
        "listener_duplicate_texts": sum(c - 1 for t, c in texts.items() if t in wanted and c > 1),
        "unexpected": sum(1 for t in server if t not in wanted),
        "duration_s": round(phase_s, 1),
    }
    result["pass"] = (result["server_lost_count"] == 0 and result["server_duplicates"] == 0 and
                      result["listener_missing_count"] == 0 and result["listener_duplicate_ids"] == 0 and
                      result["listener_duplicate_texts"] == 0)
    result["sender_exit_codes"] = {str(k): v for k, v in result["sender_exit_codes"].items()}
    return result


# Report ---------------------------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile; None (a run that never got there) sorts last, as infinity."""
    if not values:
        return None
    ordered = sorted(values, key=lambda v: math.inf if v is None else v)
    k = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[k]


def fmt_ms(v, never="never"):
    if v is None:
        return never
    if v >= 10000:
        return f"{v / 1000:.0f} s"
    if v >= 1000:
        return f"{v / 1000:.1f} s"
    return f"{v:.0f} ms"


def summarize(bench, scenario, client, results):
    profile = bench.profiles[scenario.profile]
    n = len(results)
    usable = [r["usable_ms"] for r in results]
    s = {
        "scenario": scenario.name, "client": client, "runs": n,
        "success_10s": sum(1 for r in results if r["ok"]),
        "usable_p50_ms": pct(usable, 50), "usable_p95_ms": pct(usable, 95),
        "floor_ms": profile["rtt_ms"] * scenario.round_trips,
        "rtt_ms": profile["rtt_ms"], "round_trips": scenario.round_trips,
        "transports": dict(collections.Counter(r.get("transport") or "none" for r in results)),
        "peak_rss_kib_p50": pct([r.get("peak_rss_kib") for r in results if r.get("peak_rss_kib")], 50),
        "peak_rss_kib_max": max([r.get("peak_rss_kib") or 0 for r in results] or [0]),
        "errors": dict(collections.Counter((r.get("error") or "")[:100] for r in results if r.get("error"))),
        "failed_fast": sum(1 for r in results if r["usable_ms"] is None and r.get("failed_ms") is not None),
        "failed_p50_ms": pct([r.get("failed_ms") for r in results if r["usable_ms"] is None and r.get("failed_ms")], 50),
        "pending": sum(1 for r in results if r["usable_ms"] is None and r.get("failed_ms") is None),
    }
    ok_runs = [r for r in results if r["usable_ms"] is not None]
    s["startup_p50_ms"] = pct([r.get("startup_ms") for r in ok_runs], 50)
    s["cold_usable_p50_ms"] = pct([r.get("cold_usable_ms") for r in ok_runs], 50)
    s["cold_usable_p95_ms"] = pct([r.get("cold_usable_ms") for r in ok_runs], 95)
    if client == "confab" and scenario.kind == "connect":
        s["connected_p50_ms"] = pct([r.get("connected_ms") for r in results if r["usable_ms"] is not None], 50)
    for key in ("notice_ms", "recover_ms", "back_on_ws_ms"):
        vals = [r.get(key) for r in results if key in r]
        if vals:
            s[key.replace("_ms", "") + "_p50_ms"] = pct(vals, 50)
            s[key.replace("_ms", "") + "_p95_ms"] = pct(vals, 95)
            s[key.replace("_ms", "") + "_n"] = len(vals)
    return s


def outcome(s):
    """How the runs that never became usable ended."""
    parts = []
    if s["failed_fast"]:
        parts.append(f"{s['failed_fast']} gave up after {fmt_ms(s['failed_p50_ms'])}")
    if s["pending"]:
        parts.append(f"{s['pending']} still connecting at {HARD_TIMEOUT_S} s")
    return "; ".join(parts)


def table(summaries, skipped):
    rows = ["| scenario | client | usable ≤ 10 s | usable p50 | usable p95 | floor | with the client's build p50 (build) "
            "| dead link noticed p50 / p95 | usable again p50 / p95 | back on WS p50 / p95 | peak RSS p50 | via "
            "| never usable |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        notice = (f"{fmt_ms(s['notice_p50_ms'], 'not in 75 s')} / {fmt_ms(s['notice_p95_ms'], 'not in 75 s')}"
                  if "notice_p50_ms" in s else "")
        recover = (f"{fmt_ms(s['recover_p50_ms'])} / {fmt_ms(s['recover_p95_ms'])}"
                   if "recover_p50_ms" in s else "")
        back = (f"{fmt_ms(s['back_on_ws_p50_ms'], 'never (75 s)')} / {fmt_ms(s['back_on_ws_p95_ms'], 'never (75 s)')}"
                if "back_on_ws_p50_ms" in s else "")
        via = ", ".join(f"{k} {v}" for k, v in sorted(s["transports"].items(), key=lambda kv: -kv[1]) if k != "none")
        rss = f"{s['peak_rss_kib_p50'] / 1024:.0f} MB" if s["peak_rss_kib_p50"] else "n/a"
        floor = fmt_ms(s["floor_ms"]) if s["floor_ms"] else "≈0"
        cold = (f"{fmt_ms(s['cold_usable_p50_ms'])} ({fmt_ms(s['startup_p50_ms'])})"
                if s.get("cold_usable_p50_ms") is not None else "")
        rows.append(f"| {s['scenario']} | {CLIENT_LABEL[s['client']]} | {s['success_10s']}/{s['runs']} "
                    f"| {fmt_ms(s['usable_p50_ms'])} | {fmt_ms(s['usable_p95_ms'])} | {floor} | {cold} | {notice} "
                    f"| {recover} | {back} | {rss} | {via} | {outcome(s)} |")
    for name, reason in skipped:
        rows.append(f"| {name} | all | skipped: {reason} | | | | | | | | | | |")
    return "\n".join(rows)


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            osname = dict(l.rstrip().split("=", 1) for l in f if "=" in l).get("PRETTY_NAME", "").strip('"')
    except OSError:
        osname = platform.system()
    return {"cpus": os.cpu_count(), "cpu": model, "os": osname, "kernel": platform.release(),
            "loadavg": os.getloadavg()}


def versions(bench):
    out = {"python": platform.python_version()}
    if bench.node:
        out["node"] = subprocess.run([bench.node, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        with open(os.path.join(SDK_DIR, "node_modules", "stream-chat", "package.json")) as f:
            out["stream-chat"] = json.load(f)["version"]
    except OSError:
        out["stream-chat"] = None
    try:
        out["confab commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                              capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return out


# Main -----------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "_build"))
    ap.add_argument("--runs", type=int, default=30, help="runs per scenario and client (default 30)")
    ap.add_argument("--quick", action="store_true", help="3 runs each, no delivery kills: a few minutes")
    ap.add_argument("--smoke", action="store_true",
                    help="CI: clean, ws-blackholed and mid-session-cut for confab-cli, 2 runs, with assertions")
    ap.add_argument("--scenarios", help="comma-separated subset")
    ap.add_argument("--clients", help="comma-separated subset of " + ",".join(CLIENTS))
    ap.add_argument("--jobs", type=int, default=6, help="slow runs in parallel (timers, not CPU; default 6)")
    ap.add_argument("--out", help="write every run and the summary as JSON here")
    ap.add_argument("--markdown", help="write the table here")
    ap.add_argument("--no-delivery", action="store_true", help="skip the delivery check")
    ap.add_argument("--delivery-only", action="store_true")
    ap.add_argument("--delivery-cuts", type=int, default=100)
    ap.add_argument("--delivery-kills", type=int, default=20)
    ap.add_argument("--no-netns", action="store_true", help="stay in this network namespace (no loss, no TLS)")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    if args.runs < 1 or args.runs > 10000:
        ap.error("--runs must be 1–10000")
    if args.jobs < 1 or args.jobs > 32:
        ap.error("--jobs must be 1–32")
    if args.delivery_cuts < 0 or args.delivery_kills < 0:
        ap.error("--delivery-cuts and --delivery-kills must not be negative")
    names = {s.name for s in SCENARIOS}
    if args.smoke:
        args.runs = SMOKE["runs"]
        args.scenarios = args.scenarios or ",".join(SMOKE["scenarios"])
        args.clients = args.clients or ",".join(SMOKE["clients"])
        args.no_delivery = True
        args.jobs = min(args.jobs, 2)
    elif args.quick:
        args.runs = 3
        args.delivery_cuts = min(args.delivery_cuts, 20)
        args.delivery_kills = min(args.delivery_kills, 3)
    args.scenario_list = args.scenarios.split(",") if args.scenarios else [s.name for s in SCENARIOS]
    for n in args.scenario_list:
        if n not in names:
            ap.error(f"unknown scenario {n!r} (known: {', '.join(sorted(names))})")
    args.client_list = args.clients.split(",") if args.clients else list(CLIENTS)
    for c in args.client_list:
        if c not in CLIENTS:
            ap.error(f"unknown client {c!r} (known: {', '.join(CLIENTS)})")
    args.build_dir = os.path.abspath(args.build_dir)
    return args


def main():
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(encoding="utf-8", errors="replace")
    args = parse_args()
    in_ns = os.environ.get("CONNBENCH_NETNS") == "1"
    if not in_ns and not args.no_netns and os.geteuid() == 0 and shutil.which("unshare") and \
            subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "true"],
                           stderr=subprocess.DEVNULL).returncode == 0:
        env = dict(os.environ, CONNBENCH_NETNS="1")
        r = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", sys.executable,
                            os.path.abspath(__file__)] + sys.argv[1:], env=env)
        return r.returncode
    bench = Bench(args)
    bench.in_ns = in_ns
    if in_ns:
        bench.setup_namespace()
    started = datetime.datetime.now(datetime.timezone.utc)
    skipped = []
    summaries = []
    runs = []
    delivery = None
    failures = []
    try:
        bench.start()
        log(f"connbench: {args.runs} runs × {len(args.client_list)} clients; jobs {args.jobs}; "
            f"loss {'yes' if bench.loss_ok else 'no (' + bench.loss_reason + ')'}; "
            f"TLS {'yes' if bench.tls_ok else 'no (' + bench.tls_reason + ')'}; tmp {bench.tmp}")
        clients = list(args.client_list)
        if not bench.sdk_ok and any(c != "confab" for c in clients):
            reason = "node or tests/conformance/node_modules/stream-chat missing (npm ci there)"
            for c in clients:
                if c != "confab":
                    skipped.append((f"all scenarios ({CLIENT_LABEL[c]})", reason))
            clients = [c for c in clients if c == "confab"]
        if not args.delivery_only:
            for scenario in [s for s in SCENARIOS if s.name in args.scenario_list]:
                profile = bench.profiles[scenario.profile]
                if scenario.name == "lossy" and not bench.loss_ok:
                    skipped.append((scenario.name, bench.loss_reason))
                    continue
                if scenario.tls and not bench.tls_ok:
                    skipped.append((scenario.name, bench.tls_reason))
                    continue
                if scenario.netchange and not bench.in_ns:
                    skipped.append((scenario.name, "needs its own network namespace (root) to change routes"))
                    continue
                if profile["loss"] > 0 and not bench.loss_ok:
                    log(f"connbench: {scenario.name} runs without its {profile['loss']:.0%} loss: {bench.loss_reason}")
                    scenario.note = f"without loss ({bench.loss_reason})"
                bench.apply_profile(scenario)
                log(f"connbench: {scenario.name}: {profile['description']} (load {os.getloadavg()[0]:.2f})")
                for client in [c for c in clients if scenario.clients is None or c in scenario.clients]:
                    load = os.getloadavg()[0]
                    results = run_series(bench, scenario, client, args.runs)
                    runs += results
                    summaries.append(summarize(bench, scenario, client, results))
                    summaries[-1]["loadavg_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]
                    summaries[-1]["note"] = scenario.note
                bench.set_loss(scenario, 0)
        if (not args.no_delivery or args.delivery_only) and "confab" in args.client_list:
            log(f"connbench: delivery check: {args.delivery_cuts} cuts, {args.delivery_kills} kills")
            delivery = delivery_check(bench, args.delivery_cuts, args.delivery_kills)
    except HarnessError as e:
        failures.append(str(e))
        log(f"connbench: harness failure: {e}")
    finally:
        bench.stop()

    finished = datetime.datetime.now(datetime.timezone.utc)
    md = table(summaries, skipped)
    command = "tests/impair/connbench.py " + " ".join(sys.argv[1:])
    header = (f"Connection benchmark, {started:%Y-%m-%d %H:%M} UTC ({(finished - started).total_seconds() / 60:.0f} min); "
              f"{args.runs} runs per scenario and client; command: `{command.strip()}`")
    print(header)
    print()
    print(md)
    if delivery is not None:
        print()
        print("Delivery check: " + json.dumps(delivery))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(header + "\n\n" + md + "\n")
            if delivery is not None:
                f.write("\nDelivery check: " + json.dumps(delivery) + "\n")
    report = {"started": started.isoformat(), "finished": finished.isoformat(), "command": command.strip(),
              "machine": machine_info(), "versions": versions(bench), "runs_per_case": args.runs,
              "loss": bench.loss_ok, "loss_reason": bench.loss_reason, "tls": bench.tls_ok,
              "tls_reason": bench.tls_reason, "summaries": summaries, "skipped": skipped, "delivery": delivery,
              "runs": runs, "failures": failures}
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, default=str)

    if args.smoke:
        failures += smoke_assertions(summaries)
        for f in failures:
            print(f"not ok: {f}")
        if not failures:
            print("smoke: the harness works")
    return 1 if failures else 0


def smoke_assertions(summaries):
    """CI: the harness measures what it claims (not Confab's targets: those are reported)."""
    problems = []
    by = {(s["scenario"], s["client"]): s for s in summaries}
    for name in ("clean", "ws-blackholed"):
        s = by.get((name, "confab"))
        if s is None:
            problems.append(f"{name}: no result for confab-cli")
        elif s["success_10s"] != s["runs"]:
            problems.append(f"{name}: confab-cli usable within 10 s in {s['success_10s']}/{s['runs']} runs: {s['errors']}")
    s = by.get(("ws-blackholed", "confab"))
    if s is not None and s["transports"].get("longpoll", 0) != s["runs"]:
        problems.append(f"ws-blackholed: expected long-poll every time, got {s['transports']}")
    s = by.get(("mid-session-cut", "confab"))
    if s is None:
        problems.append("mid-session-cut: no result for confab-cli")
    elif s.get("notice_p95_ms") is None:
        problems.append("mid-session-cut: the silent cut was not noticed within 75 s")
    elif s.get("recover_p95_ms") is None:
        problems.append("mid-session-cut: confab-cli did not come back after the link was restored")
    return problems


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
