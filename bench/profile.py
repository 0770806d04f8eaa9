#!/usr/bin/env python3
"""Samples the gateway (PostgreSQL + Redis) with `perf record -e cpu-clock` under
scenario (a) load and prints the hottest symbols. Used to decide hot-path work:
    python3 bench/profile.py [seconds]
    PROFILE_STORE=embedded python3 bench/profile.py [seconds]   (SQLite, in-process set)"""
import os, subprocess, sys, tempfile, time, uuid
sys.argv = sys.argv[:1] + ["--quick"] + sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench

secs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
tmp = tempfile.mkdtemp(prefix="assetgate-prof-")
embedded = os.environ.get("PROFILE_STORE") == "embedded"
db = f"assetgate_prof_{uuid.uuid4().hex}"
if embedded:
    gw = bench.Gateway("prof", tmp, f"sqlite://{tmp}/embedded.db?mode=rwc", "")
else:
    bench.run(["psql", f"{bench.PG}/postgres", "-qc", f'CREATE DATABASE "{db}"'])
    gw = bench.Gateway("prof", tmp, f"{bench.PG}/{db}", bench.REDIS)
try:
    gw.start()
    path = os.path.join(tmp, "1k.bin")
    open(path, "wb").write(os.urandom(1024))
    _, url = gw.order(gw.add(path)["asset_id"])
    # DWARF unwinding: Rust release frames have no frame pointers, so `-g`
    # sees only kernel and libc callers.
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "--call-graph", "dwarf,16384",
                             "-o", f"{tmp}/perf.data", "-p", str(gw.proc.pid)], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r = bench.wrk(url, 64, duration=secs)
    perf.send_signal(2); perf.wait()
    print(f"wrk: {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms")
    out = bench.run(["perf", "report", "-i", f"{tmp}/perf.data", "--no-children", "--sort", "symbol",
                     "--stdio", "-g", "none", "--percent-limit", "0.7"])
    incl = bench.run(["perf", "report", "-i", f"{tmp}/perf.data", "--children", "--sort", "symbol",
                      "--stdio", "-g", "none"])
    keys = ["access::access", "jsonwebtoken::", "LinkSigner::verify", "is_revoked", "NamedFile", "chunked",
            "TracingResponse", "PathAndQuery::from_shared", "requote", "finish_task_switch", "__libc_malloc",
            "tracing_actix_web", "middleware::request_id", "catch_panic", "environment_header", "record_access",
            "regex", "uuid", "history::", "sqlite3", "sea_query", "serde_json", "h1::dispatcher", "ResourceDef", "sys_openat", "sendto", "writev", "epoll_wait"]
    print("inclusive:")
    for l in incl.splitlines():
        if not l.startswith("#") and any(k in l for k in keys):
            parts = l.split()
            if len(parts) > 3 and float(parts[0].rstrip("%")) >= 0.8:
                print("  ", parts[0], " ".join(parts[2:]).rstrip(" -")[:100])
    print("\n".join(l.rstrip(" -")[:110] for l in out.splitlines() if l.strip() and not l.startswith("#")))
finally:
    gw.stop()
    if not embedded:
        bench.run(["psql", f"{bench.PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=False)
