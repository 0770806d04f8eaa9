#!/usr/bin/env python3
"""A/B of two assetgate binaries on the download hot path, in one run.

    BIN_A=/path/to/old/assetgate [BIN_B=target/release/assetgate] python3 bench/ab.py [ROUNDS]

Both run on PostgreSQL + Redis (each with its own database and key prefix) with the
same two files; scenarios (a) 1 KiB × 64 connections and (b) 1 MiB × 16 connections
run in interleaved rounds (A, B, B, A, …) so that a host slowing down during the run
hits both alike. Prints each round and the ratio of medians. Standard library only.
"""

import os, statistics, sys, tempfile, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its helpers: Gateway, wrk, run, http)

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def main():
    bins = {
        os.environ.get("LABEL_A", "A"): os.environ["BIN_A"],
        os.environ.get("LABEL_B", "B"): os.environ.get("BIN_B", bench.BIN),
    }
    tmp = tempfile.mkdtemp(prefix="assetgate-ab-")
    files = {}
    for name, size in [("1k.bin", 1024), ("1m.bin", 1 << 20)]:
        files[name] = os.path.join(tmp, name)
        with open(files[name], "wb") as f:
            f.write(os.urandom(size))
    gws, links = [], {}
    try:
        for label, binary in bins.items():
            bench.BIN = binary  # Gateway.start and cli() read it when called
            db = f"assetgate_ab_{uuid.uuid4().hex}"
            bench.run(["psql", f"{bench.PG}/postgres", "-qc", f'CREATE DATABASE "{db}"'])
            gw = bench.Gateway(label, tmp, f"{bench.PG}/{db}", bench.REDIS)
            gw.start()
            gws.append(gw)
            links[label] = {n: gw.order(gw.add(p)["asset_id"])[1] for n, p in files.items()}
            bench.log(f"{label}: {binary}")
        scenarios = [("a", "1k.bin", 64), ("b", "1m.bin", 16)]
        rps = {(gw.name, s): [] for gw in gws for s, _, _ in scenarios}
        for r in range(ROUNDS):
            order = gws if r % 2 == 0 else list(reversed(gws))
            for gw in order:
                for s, f, conns in scenarios:
                    bench.log(f"round {r + 1}/{ROUNDS}: {gw.name} ({s})…")
                    rps[(gw.name, s)].append(bench.wrk(links[gw.name][f], conns)["rps"])
        a, b = (gw.name for gw in gws)
        print(f"\n{ROUNDS} interleaved rounds, wrk -t{bench.WRK_THREADS}, {bench.DUR} s each, "
              "PostgreSQL + Redis, load generator on the same machine\n")
        print("| scenario | binary | req/s per round | median | ratio |")
        print("|---|---|---|---:|---:|")
        for s, f, conns in scenarios:
            ref = statistics.median(rps[(a, s)])
            for name in (a, b):
                runs = rps[(name, s)]
                med = statistics.median(runs)
                print(f"| ({s}) {f}, {conns} conns | {name} | "
                      f"{', '.join(f'{x:.0f}' for x in runs)} | {med:.0f} | {med / ref:.3f}× |")
    finally:
        for gw in gws:
            gw.stop()


if __name__ == "__main__":
    main()
