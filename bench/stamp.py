#!/usr/bin/env python3
"""Per-buyer PDF stamping, measured (issue 25; bench/stamp.sh builds and runs this).

1. The stamp itself: `target/release/examples/stamp_bench` (one core, no I/O).
2. Fulfilment latency: --orders registrations (default 200) one at a time, alternating
   between a stamped 10-page PDF and the same PDF unstamped; the time from the register's
   201 until /purchase/info answers 200 with links. p50/p99 of each, same run.
3. /access: wrk on a stamped line's link against a link to an unstamped asset whose file
   is a stamped copy (so both are the same size and both sit in the catalogue store),
   three interleaved rounds of --seconds each, medians; the ratio must be >= 0.95.

Standard library, curl and wrk."""

import http.client, json, os, statistics, subprocess, sys, tempfile, time, uuid
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (free_port, cli, run, wrk, log, BIN, PG, REDIS)

ORDERS = int(sys.argv[sys.argv.index("--orders") + 1]) if "--orders" in sys.argv else 200
SECONDS = int(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 5
EXAMPLE = os.path.join(bench.ROOT, "target/release/examples/stamp_bench")
PG = bench.PG
psql, pct = bench.psql, bench.pct






class Api:
    def __init__(self, base, token):
        u = urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port)
        self.token = token

    def call(self, method, path, body=None):
        h = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        res = self.conn.getresponse()
        raw = res.read()
        return res.status, (json.loads(raw) if raw else None)


def fulfilled_ms(api, order, asset):
    status, body = api.call("POST", "/purchase/register", {
        "asset_id": asset, "order_number": order, "order_line_id": 1, "unit_price": 1,
        "line_item_price": 1, "customer": f"Buyer {order}", "parts": []})
    assert status == 201, body
    start = time.perf_counter()
    while True:
        status, body = api.call("GET", f"/purchase/info?order_id={order}")
        if status == 200:
            return (time.perf_counter() - start) * 1000, body
        assert status == 202, body
        time.sleep(0.002)


def main():
    print("\n## 1. The stamp itself (one core, in memory)\n")
    print(subprocess.run([EXAMPLE], capture_output=True, text=True, check=True).stdout)

    db = f"assetgate_stamp_{uuid.uuid4().hex}"
    psql("postgres", f'CREATE DATABASE "{db}"')
    tmp = tempfile.mkdtemp(prefix="stamp-bench-")
    env = dict(os.environ, DATABASE_URL=f"{PG}/{db}", REDIS_URL=bench.REDIS,
               ASSETGATE__REDIS__KEY_PREFIX=f"bench-{uuid.uuid4().hex}",
               ASSETGATE__STORAGE__PATH=os.path.join(tmp, "storage"),
               ASSETGATE__LINKS__SIGNING_KEY_FILE=os.path.join(tmp, "signing.key"),
               ASSETGATE__LOG__LEVEL="warn", ASSETGATE__SERVER__PORT=str(bench.free_port()),
               ASSETGATE__FULFILMENT__POLL_INTERVAL_MS="5",
               ASSETGATE__RATE_LIMIT__VENDOR_PER_SECOND="0")
    proc = None
    api = None
    try:
        pdf = os.path.join(tmp, "score.pdf")
        subprocess.run([EXAMPLE, "--write", pdf, "10"], check=True)
        bench.run([bench.BIN, "migrate"], env=env)
        stamped = bench.cli(env, "asset", "add", "--file", pdf, "--title", "Stamped score",
                            "--stamp", "pdf")["asset_id"]
        plain = bench.cli(env, "asset", "add", "--file", pdf, "--title", "Plain score")["asset_id"]
        vendor = bench.cli(env, "vendor", "create", "--name", "Bench Shop")["vendor_id"]
        token = bench.cli(env, "token", "create", "--vendor", vendor, "--environment", "LIVE")["token"]
        proc = subprocess.Popen([bench.BIN, "serve"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        base = proc.stdout.readline().split()[4]
        api = Api(base, token)

        # 2. Fulfilment latency, alternating.
        times = {"stamped": [], "plain": []}
        order = 1
        for i in range(ORDERS * 2 + 20):
            kind = "stamped" if i % 2 == 0 else "plain"
            ms, _ = fulfilled_ms(api, order, stamped if kind == "stamped" else plain)
            order += 1
            if i >= 20:  # warm-up
                times[kind].append(ms)

        # 3. /access: a stamped line's link vs an unstamped asset of a stamped copy.
        _, info = api.call("GET", f"/purchase/info?order_id=1")
        stamped_link = info[0]["download_url"]
        copy_path = os.path.join(tmp, "copy.pdf")
        bench.run(["curl", "-sf", "-o", copy_path, stamped_link])
        same_size = bench.cli(env, "asset", "add", "--file", copy_path, "--title", "Copy, unstamped")["asset_id"]
        ms, info = fulfilled_ms(api, order, same_size)
        plain_link = info[0]["download_url"]
        size = os.path.getsize(copy_path)
        rounds = {"stamped": [], "plain": []}
        for _ in range(3):
            for kind, link in (("stamped", stamped_link), ("plain", plain_link)):
                r = bench.wrk(link, 64, duration=SECONDS)
                assert r["errors"] == 0, r
                rounds[kind].append(r["rps"])

        print(f"## 2. Fulfilment latency, register 201 → info 200 ({ORDERS} each, alternating, "
              "PostgreSQL + Redis, release)\n")
        print("| line | p50 ms | p99 ms |\n|---|---:|---:|")
        for kind in ("stamped", "plain"):
            print(f"| {kind} 10-page PDF | {statistics.median(times[kind]):.1f} | {pct(times[kind], 0.99):.1f} |")
        print(f"\n## 3. /access, {size / 1024:.0f} KiB file, 64 connections, 3 interleaved rounds of {SECONDS} s\n")
        print("| link | requests/s (each round) | median |\n|---|---|---:|")
        for kind in ("stamped", "plain"):
            print(f"| {kind} | {', '.join(f'{r:.0f}' for r in rounds[kind])} | {statistics.median(rounds[kind]):.0f} |")
        ratio = statistics.median(rounds["stamped"]) / statistics.median(rounds["plain"])
        print(f"\nstamped / unstamped: **{ratio:.2f}×** (target ≥ 0.95)\n")
    finally:
        if api:
            api.conn.close()
        if proc:
            proc.terminate()
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


main()
