#!/usr/bin/env python3
"""Cancel latency while the download path is saturated (scenario (a), 64 connections).

    python3 bench/cancel_under_load.py                       # target/release, embedded default
    STORE=postgres python3 bench/cancel_under_load.py        # PostgreSQL + Redis
    BINS=old=/tmp/old-assetgate,new=target/release/assetgate python3 bench/cancel_under_load.py

For each binary: one gateway, wrk on a 1 KiB link for 12 s, and 40 sequential cancels
(one every 100 ms) from the second second on. Prints p50, p90 and max of the cancels.
On SQLite one writer holds the database at a time: this is where a cancel would queue
behind the access-history writer (docs/DESIGN.md, "Cancels go before the access history").
"""
import os, sys, tempfile, threading, time, uuid
sys.argv = sys.argv[:1] + ["--quick"]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

bins = [(label, os.path.abspath(path)) for label, path in (b.split("=", 1) for b in os.environ.get("BINS", f"this={bench.BIN}").split(","))]
postgres = os.environ.get("STORE") == "postgres"
print(f"\ncancel latency under scenario (a) load ({'PostgreSQL + Redis' if postgres else 'embedded default'}); "
      "40 sequential cancels, curl\n\n| binary | p50 ms | p90 ms | max ms |\n|---|---:|---:|---:|")
for label, binary in bins:
    bench.BIN = binary
    tmp = tempfile.mkdtemp(prefix="assetgate-cancel-")
    path = os.path.join(tmp, "1k.bin")
    with open(path, "wb") as f: f.write(os.urandom(1024))
    if postgres:
        db = f"assetgate_cl_{uuid.uuid4().hex}"
        bench.run(["psql", f"{bench.PG}/postgres", "-qc", f'CREATE DATABASE "{db}"'])
        gw = bench.Gateway(label, tmp, f"{bench.PG}/{db}", bench.REDIS)
    else:
        gw = bench.Gateway(label, tmp, f"sqlite://{tmp}/e.db?mode=rwc", "")
    gw.start()
    try:
        asset = gw.add(path)["asset_id"]
        link = gw.order(asset)[1]
        orders = [gw.order(asset)[0] for _ in range(40)]
        load = threading.Thread(target=lambda: bench.wrk(link, 64, duration=12))
        load.start(); time.sleep(2)
        lat = []
        for order in orders:
            code, body, secs = bench.http("DELETE", f"{gw.base}/purchase/cancel?order_id={order}", gw.token)
            assert code == 201, body
            lat.append(secs * 1000); time.sleep(0.1)
        load.join()
    finally:
        gw.stop()
    lat.sort()
    print(f"| {label} | {lat[len(lat) // 2]:.1f} | {lat[int(len(lat) * 0.9)]:.1f} | {lat[-1]:.1f} |")
