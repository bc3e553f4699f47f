#!/usr/bin/env python3
# run-matrix.py: run confab-sandbox-bench over the configurations docs/sandbox.md reports
#
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the load matrix and print one Markdown row per run.

Usage: tests/bench/run-matrix.py --bench BENCH --sandbox SANDBOX [--out results.jsonl]
                                 [--duration 20] [--warmup 2] [--only RATE ...] [--repeat N]
                                 [--wait-idle SECONDS]

Each configuration is one run of the bench (which starts its own sandbox). The JSON line
of every run is appended to --out, so a table can be rebuilt later with --table FILE.
Runs one after the other: about 30 s a run, so the default matrix (9 runs) takes five
minutes, and --repeat 3 a quarter of an hour.
"""
import argparse
import json
import os
import subprocess
import sys
import time

# name, clients, channels, aggregate rate (msg/s)
MATRIX = [
    ("a: 200 clients, 20 msg/s aggregate", 200, 20, 20),
    ("b: 20 msg/s per channel", 200, 20, 400),
    ("sweep", 200, 20, 50),
    ("sweep", 200, 20, 100),
    ("sweep", 200, 20, 125),
    ("sweep", 200, 20, 150),
    ("sweep", 200, 20, 200),
    ("sweep", 200, 20, 800),
    ("sweep", 200, 20, 1600),
]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return float("nan")


def busy_cores(seconds=2.0):
    """Cores the whole machine kept busy over the next few seconds."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
        return sum(fields) - fields[3] - fields[4], sum(fields)
    busy0, _ = sample()
    time.sleep(seconds)
    busy1, _ = sample()
    return (busy1 - busy0) / os.sysconf("SC_CLK_TCK") / seconds


def wait_idle(limit, max_wait):
    """Wait (bounded) until other processes leave the machine nearly idle."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = busy_cores()
        if busy <= limit or time.monotonic() >= deadline:
            return busy


def row(name, r):
    lat = r["latency_ms"]
    sb = r.get("sandbox") or {}
    me = r.get("bench_process") or {}
    mach = r.get("machine") or {}
    cores = lambda v: "n/a" if v is None else f"{v:.2f}"
    rss = sb.get("peak_rss_kib")
    per_msg = "n/a"
    if sb.get("cpu_s") is not None and r["sent"] > 0:
        per_msg = f"{sb['cpu_s'] * 1000 / r['sent']:.2f}"
    return (f"| {name} | {r['clients']}/{r['channels']} | {r['target_rate']:g} | {r['achieved_send_rate']:.1f} "
            f"| {r['delivered_per_s']:.0f} | {r['received_deliveries']}/{r['expected_deliveries']} "
            f"| {r['lost']}/{r['duplicates']} | {r['send_errors']}/{r['send_skipped']} "
            f"| {lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.1f} "
            f"| {cores(sb.get('cpu_cores'))} | {per_msg} | {'n/a' if rss is None else f'{rss / 1024:.1f}'} "
            f"| {cores(me.get('cpu_cores'))} | {cores(mach.get('other_cpu_cores'))} | {r['result']} |")


HEADER = ("| run | clients/channels | target msg/s | sent msg/s | deliveries/s | received/expected "
          "| lost/dup | errors/skipped | p50 ms | p90 ms | p99 ms | max ms | sandbox cores "
          "| sandbox CPU ms/msg | sandbox peak RSS MiB | bench cores | other cores | result |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", help="the confab-sandbox-bench binary")
    parser.add_argument("--sandbox", help="the confab-sandbox binary")
    parser.add_argument("--out", default="bench-results.jsonl", help="append JSON lines here")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--only", nargs="*", type=float, help="only these aggregate rates")
    parser.add_argument("--table", help="print the table of an existing JSON-lines file and exit")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                        help="before each run, wait up to SECONDS for the machine to be idle "
                             "(other processes under 0.2 cores)")
    parser.add_argument("--repeat", type=int, default=1, help="run each configuration this many times")
    args = parser.parse_args()

    if args.table:
        print(HEADER)
        with open(args.table) as f:
            for line in f:
                entry = json.loads(line)
                print(row(entry.get("name", "run"), entry))
        return 0

    if not args.bench or not args.sandbox:
        parser.error("--bench and --sandbox are required")

    rows = []
    status = 0
    for name, clients, channels, rate in [m for m in MATRIX for _ in range(args.repeat)]:
        if args.only and rate not in args.only:
            continue
        if args.wait_idle > 0:
            idle = wait_idle(0.2, args.wait_idle)
            print(f"# machine busy before the run: {idle:.2f} cores", file=sys.stderr, flush=True)
        before = loadavg()
        cmd = [args.bench, "--clients", str(clients), "--channels", str(channels), "--rate", str(rate),
               "--duration", str(args.duration), "--warmup", str(args.warmup),
               "--sandbox", args.sandbox, "--json-only"]
        print(f"# {' '.join(cmd)}   (load average before: {before:.2f})", file=sys.stderr, flush=True)
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True,
                              timeout=args.duration + args.warmup + 180)
        lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
        if not lines:
            print(f"#   no JSON line (exit {done.returncode})", file=sys.stderr)
            status = 1
            continue
        result = json.loads(lines[-1])
        result["name"] = name
        result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
        result["loadavg_before"] = before
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")
        rows.append(row(name, result))
        print(rows[-1], file=sys.stderr, flush=True)
        if done.returncode != 0:
            status = 1

    print(HEADER)
    for r in rows:
        print(r)
    return status


if __name__ == "__main__":
    sys.exit(main())
