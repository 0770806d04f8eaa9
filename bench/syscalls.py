#!/usr/bin/env python3
"""Counts the gateway's system calls per /access request under scenario (a)
load (64 connections, 1 KiB), with checks coalesced (the default) and with
one Redis read per check, in the same run: `perf stat` on the syscall
tracepoints (cheap; strace slows the gateway so much that everything
batches and the difference disappears).
    python3 bench/syscalls.py [seconds]      (after bench/run.sh built the binary)"""
import os, re, subprocess, sys, tempfile, time, uuid
sys.argv = sys.argv[:1] + ["--quick"] + sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench

secs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
SYSCALLS = ["sendto", "recvfrom", "write", "writev", "read", "epoll_wait", "futex", "sendmsg", "recvmsg", "openat"]
tmp = tempfile.mkdtemp(prefix="assetgate-sys-")
db = f"assetgate_sys_{uuid.uuid4().hex}"
bench.run(["psql", f"{bench.PG}/postgres", "-qc", f'CREATE DATABASE "{db}"'])
gws = [bench.Gateway("coalesced", tmp, f"{bench.PG}/{db}", bench.REDIS),
       bench.Gateway("one read per check", tmp, f"{bench.PG}/{db}", bench.REDIS,
                     ASSETGATE__REDIS__COALESCE_CHECKS="false")]
path = os.path.join(tmp, "1k.bin")
open(path, "wb").write(os.urandom(1024))
rows = []

def mget_calls():
    """MGETs the shared Redis has executed so far (INFO commandstats)."""
    info = bench.run(["redis-cli", "-u", bench.REDIS, "INFO", "commandstats"])
    m = re.search(r"cmdstat_mget:calls=(\d+)", info)
    return int(m.group(1)) if m else 0
try:
    for gw in gws:
        gw.start()
        _, url = gw.order(gw.add(path)["asset_id"])
        out = os.path.join(tmp, f"perf-{gw.port}.txt")
        events = [f"syscalls:sys_enter_{n}" for n in SYSCALLS]
        perf = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out, "-p", str(gw.proc.pid)]
                                + [a for e in events for a in ("-e", e)], stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        mget_before = mget_calls()
        r = bench.wrk(url, 64, duration=secs)
        mgets = mget_calls() - mget_before
        time.sleep(0.2)
        perf.send_signal(2); perf.wait()
        # perf counts from its start to its stop; wrk's own count is of its window.
        requests = r["rps"] * secs
        counts = {}
        for line in open(out):
            f = line.strip().split(",")
            if len(f) > 2 and f[2].startswith("syscalls:sys_enter_") and f[0].isdigit():
                counts[f[2].removeprefix("syscalls:sys_enter_")] = int(f[0])
        counts["(Redis MGET commands)"] = mgets
        rows.append((gw.name, requests, r["rps"], counts))
finally:
    for gw in gws:
        if hasattr(gw, "proc"): gw.stop()
    bench.run(["psql", f"{bench.PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=False)
print(f"\nsystem calls per /access request (perf stat, syscall tracepoints; wrk 64 conns, {secs} s; "
      "perf counts ~0.7 s more than wrk's window, so these are slight over-estimates)\n")
print("| syscall | " + " | ".join(f"{n} ({rps:.0f} req/s)" for n, _, rps, _ in rows) + " |")
print("|---|" + "---:|" * len(rows))
for name in SYSCALLS + ["(Redis MGET commands)"]:
    print(f"| {name} | " + " | ".join(f"{c.get(name, 0) / req:.3f}" for _, req, _, c in rows) + " |")
print("| **these syscalls, all** | " + " | ".join(
    f"**{sum(v for k, v in c.items() if k in SYSCALLS) / req:.2f}**" for _, req, _, c in rows) + " |")
