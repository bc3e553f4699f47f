#!/usr/bin/env python3
# bench-budgets.py [--build BUILDDIR] [--seconds N] [--out FILE]: the desktop app's budgets
# (issue 4, "Budgets"), measured under Xvfb with GTK's cairo renderer:
#
# - memory: Anonymous, RSS and PSS (/proc/PID/smaps_rollup) of an empty libadwaita window
#   and of the app with messaging:general's 10 000 messages loaded (--demo-messages 10000),
#   measured in the same run;
# - CPU (% of one core) while the sandbox delivers 20 messages/s from bob for N seconds;
# - idle wake-ups: context switches of all the app's threads over N idle seconds, and the
#   timeouts its threads poll() with (strace), i.e. which timers wake it;
# - scrolling: the conversation flung from the newest of the 10 000 messages to the oldest,
#   one page per frame; how long each frame took (frame clock update → end of paint).
#
# "The app" is tests/app/confab-bench-app: the real ConfabApplication and ConfabWindow,
# signed in as `confab --sandbox URL --as alice` would be, which then loads older pages
# (what scrolling to the top asks for) until the channel's first message. The real
# `confab` binary is measured too, with what it loads by itself (the newest page).
#
# Prints the tables and, with --out FILE, writes them with the command into FILE. Runs
# itself inside tests/app/run-in-session.sh.
#
# SPDX-License-Identifier: GPL-3.0-or-later
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUDGET_ANON_MB = 50
BUDGET_ABOVE_EMPTY_MB = 30
BUDGET_CPU_PERCENT = 5
RATE = 20
TICK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def smaps(pid):
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                values[m.group(1)] = int(m.group(2)) / 1024.0
    return {"rss": values["Rss"], "pss": values["Pss"], "anonymous": values["Anonymous"]}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def context_switches(pid):
    """Voluntary context switches (each one a sleep, so a later wake-up) per thread id."""
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        counts[tid] = int(line.split()[1])
        except FileNotFoundError:
            pass
    return counts


def wakeups(before, after, pid):
    """(main thread, all threads alive at both ends) wake-ups between two snapshots."""
    both = [tid for tid in after if tid in before]
    return after[str(pid)] - before[str(pid)], sum(after[tid] - before[tid] for tid in both)


def wait_line(process, prefix, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
            continue
        if line.startswith(prefix):
            return line.strip()
    raise RuntimeError(f"no {prefix!r} from {process.args[0]} within {timeout} s")


def settle(pid, seconds=5):
    time.sleep(seconds)
    return smaps(pid)


def start_sandbox(build, extra):
    process = subprocess.Popen([os.path.join(build, "src/sandbox/confab-sandbox"), "--listen", "127.0.0.1:0",
                                "--api-key", "bench-key", "--api-secret", "bench-secret", "--demo"] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = json.loads(process.stdout.readline())["listening"].rstrip("/")
    return process, url


def request(url, method, path, body=None, token=None):
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers.update({"Authorization": token, "stream-auth-type": "jwt"})
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, json.loads(data) if data else {}


def poll_timeouts(pid, seconds):
    """The timeouts (ms) the app's threads pass to poll() over @seconds, via strace."""
    if shutil.which("strace") is None:
        return None
    out = tempfile.NamedTemporaryFile(prefix="confab-bench-strace-", delete=False).name
    strace = subprocess.Popen(["strace", "-f", "-e", "trace=poll,ppoll", "-o", out, "-p", str(pid)],
                              stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    strace.terminate()
    strace.wait()
    timeouts = {}
    with open(out) as f:
        for line in f:
            m = re.search(r"\bpoll\(\[.*\], \d+, (-?\d+)\)", line)
            if m:
                value = int(m.group(1))
                timeouts[value] = timeouts.get(value, 0) + 1
    os.unlink(out)
    return timeouts


def describe_timeouts(timeouts, seconds):
    if timeouts is None:
        return "strace not installed"
    finite = sorted((t, n) for t, n in timeouts.items() if t > 0)
    parts = [f"{t} ms ×{n}" for t, n in finite[:8]]
    infinite = timeouts.get(-1, 0)
    zero = timeouts.get(0, 0)
    return (f"over {seconds} s: {infinite} poll(−1) (wait for I/O only), {zero} poll(0); "
            f"finite timeouts: {', '.join(parts) if parts else 'none'}")


def inner(args):
    build = os.path.abspath(args.build)
    env = dict(os.environ, GSETTINGS_SCHEMA_DIR=os.path.join(build, "data"), GSK_RENDERER="cairo")
    results = {"renderer": env["GSK_RENDERER"], "seconds": args.seconds}

    # 1. The empty libadwaita window.
    empty = subprocess.Popen([os.path.join(build, "tests/app/confab-bench-empty-window")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    wait_line(empty, "READY", 60)
    results["empty"] = settle(empty.pid)
    empty.terminate()
    empty.wait()
    log("empty window:", results["empty"])

    sandbox, url = start_sandbox(build, ["--demo-messages", "10000"])
    try:
        # 2. The real binary, with what it loads by itself.
        confab = subprocess.Popen([os.path.join(build, "src/app/confab"), "--sandbox", url, "--as", "carol"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(10)
        results["confab_binary"] = smaps(confab.pid)
        confab.terminate()
        confab.wait()
        log("confab binary (newest page):", results["confab_binary"])

        # 3. The app with all 10 000 messages loaded.
        app = subprocess.Popen([os.path.join(build, "tests/app/confab-bench-app"), url, "alice"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        results["ready"] = wait_line(app, "READY", 600)
        log(results["ready"])
        results["loaded"] = settle(app.pid, 10)
        log("10 000 loaded:", results["loaded"])

        # 4. Idle.
        switches = context_switches(app.pid)
        cpu = cpu_seconds(app.pid)
        time.sleep(args.seconds)
        main_thread, all_threads = wakeups(switches, context_switches(app.pid), app.pid)
        results["idle_main_wakeups_per_s"] = main_thread / args.seconds
        results["idle_switches_per_s"] = all_threads / args.seconds
        results["idle_cpu_percent"] = 100 * (cpu_seconds(app.pid) - cpu) / args.seconds
        results["idle_polls"] = describe_timeouts(poll_timeouts(app.pid, min(args.seconds, 30)), min(args.seconds, 30))
        log("idle:", results["idle_main_wakeups_per_s"], "main-thread wake-ups/s,", results["idle_switches_per_s"],
            "all threads,", results["idle_cpu_percent"], "% CPU;",
            results["idle_polls"])

        # 5. Receiving 20 messages/s from bob.
        status, answer = request(url, "POST", "/sandbox/demo-token", {"user_id": "bob"})
        token = answer["token"]
        parsed = urllib.parse.urlparse(url)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        path = "/channels/messaging/general/message?api_key=bench-key&user_id=bob"
        headers = {"Content-Type": "application/json", "Authorization": token, "stream-auth-type": "jwt"}
        sent = 0
        cpu = cpu_seconds(app.pid)
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            due = start + sent / RATE
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            connection.request("POST", path, body=json.dumps({"message": {"text": f"load message {sent}: "
                                                                                 "the quick brown fox"}}),
                               headers=headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 201:
                raise RuntimeError(f"send answered HTTP {answer.status}")
            sent += 1
        elapsed = time.monotonic() - start
        results["load_cpu_percent"] = 100 * (cpu_seconds(app.pid) - cpu) / elapsed
        results["load_sent"] = sent
        results["load_rate"] = sent / elapsed
        results["after_load"] = settle(app.pid, 5)
        log("load:", results["load_cpu_percent"], "% CPU at", results["load_rate"], "msg/s;", results["after_load"])

        # 6. Scrolling through all of them, a page per frame.
        app.send_signal(signal.SIGUSR1)
        scrolled = wait_line(app, "SCROLLED", 600)
        results["scroll"] = {k: float(v) for k, v in (kv.split("=", 1) for kv in scrolled.split()[1:])}
        log(scrolled)
        app.terminate()
        app.wait()
    finally:
        sandbox.terminate()
        sandbox.wait()

    print(json.dumps(results))


def mb(value):
    return f"{value:.1f}"


def report(args, results):
    empty, loaded, binary, after = results["empty"], results["loaded"], results["confab_binary"], results["after_load"]
    above = loaded["anonymous"] - empty["anonymous"]
    ok = lambda good: "**met**" if good else "**NOT met**"
    commit = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                     "unknown")
    lines = [
        "# App budgets (desktop app)",
        "",
        f"Measured {datetime.date.today().isoformat()} on commit {commit} (plus the working tree), "
        f"{os.cpu_count()} × {cpu_model}, load average at the end {load} (the machine is shared); "
        f"Xvfb, GTK {results.get('gtk', '4.8')} with GSK_RENDERER={results['renderer']}, meson buildtype of "
        f"`{args.build}`.",
        "",
        "Command:",
        "",
        "```sh",
        f"tests/app/bench-budgets.py --build {args.build} --seconds {args.seconds}",
        "```",
        "",
        "| what | Anonymous MB | RSS MB | PSS MB |",
        "|---|---|---|---|",
        f"| empty libadwaita window (tests/app/bench-empty-window.c) | {mb(empty['anonymous'])} | {mb(empty['rss'])} | "
        f"{mb(empty['pss'])} |",
        f"| `confab --sandbox URL --as carol`, the channel's newest page | {mb(binary['anonymous'])} | "
        f"{mb(binary['rss'])} | {mb(binary['pss'])} |",
        f"| the app with messaging:general's 10 000 messages loaded ({results['ready'].replace('READY ', '')}) | "
        f"{mb(loaded['anonymous'])} | {mb(loaded['rss'])} | {mb(loaded['pss'])} |",
        f"| the same after {results['load_sent']} more messages at 20/s | {mb(after['anonymous'])} | "
        f"{mb(after['rss'])} | {mb(after['pss'])} |",
        "",
        "| budget | measured | |",
        "|---|---|---|",
        f"| Anonymous ≤ {BUDGET_ANON_MB} MB with 10 000 messages | {mb(loaded['anonymous'])} MB | "
        f"{ok(loaded['anonymous'] <= BUDGET_ANON_MB)} |",
        f"| ≤ {BUDGET_ABOVE_EMPTY_MB} MB above the empty window | {mb(above)} MB | {ok(above <= BUDGET_ABOVE_EMPTY_MB)} |",
        f"| ≤ {BUDGET_CPU_PERCENT} % of one core receiving 20 messages/s ({results['load_rate']:.1f}/s over "
        f"{results['seconds']} s) | {results['load_cpu_percent']:.1f} % | "
        f"{ok(results['load_cpu_percent'] <= BUDGET_CPU_PERCENT)} |",
        f"| idle: no timer more often than every 10 s | {results['idle_main_wakeups_per_s']:.2f} wake-ups/s of the "
        f"main thread ({results['idle_switches_per_s']:.2f}/s all threads), {results['idle_cpu_percent']:.2f} % CPU; "
        f"{results['idle_polls']} | see the poll timeouts |",
        "",
    ]
    sc = results.get("scroll")
    if sc:
        lines += [
            f"Scrolling all {int(results['ready'].split()[1]) + results['load_sent']} messages (the 10 000 and the "
            f"{results['load_sent']} received at 20/s) from the newest to the oldest, one page per frame "
            f"({sc['px']:.0f} px in {sc['frames']:.0f} frames, {sc['seconds']:.1f} s), frame clock update → end of "
            "paint:",
            "",
            "| frames | p50 | p95 | p99 | longest | over 16.7 ms (a missed 60 Hz frame) |",
            "|---|---|---|---|---|---|",
            f"| {sc['frames']:.0f} | {sc['p50_us'] / 1000:.1f} ms | {sc['p95_us'] / 1000:.1f} ms | "
            f"{sc['p99_us'] / 1000:.1f} ms | {sc['max_us'] / 1000:.1f} ms | {sc['over_16ms']:.0f} "
            f"({100 * sc['over_16ms'] / max(1, sc['frames']):.1f} %) |",
            "",
        ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        log(f"written to {args.out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="_build")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--out", help="also write the tables, with the command, to this file")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.inner:
        inner(args)
        return

    subprocess.run(["ninja", "-C", args.build, "-j2", "src/app/confab", "src/sandbox/confab-sandbox",
                    "tests/app/confab-bench-app", "tests/app/confab-bench-empty-window"], check=True,
                   stdout=subprocess.DEVNULL)
    env = dict(os.environ, GSK_RENDERER="cairo", GTK_A11Y="none")
    run = subprocess.run(["bash", os.path.join(SRC, "tests/app/run-in-session.sh"), sys.executable,
                          os.path.abspath(__file__), "--inner", "--build", args.build, "--seconds", str(args.seconds)],
                         env=env, stdout=subprocess.PIPE, text=True)
    if run.returncode != 0:
        sys.exit(run.returncode)
    results = json.loads(run.stdout.strip().splitlines()[-1])
    report(args, results)


if __name__ == "__main__":
    main()
