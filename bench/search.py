#!/usr/bin/env python3
"""Operator search at scale: 1,000,000 order lines (500,000 orders) on PostgreSQL,
searched through the real admin API; prints p50/p99 per query kind and the
EXPLAIN ANALYZE of the queries behind them. Standard library only.
   bench/search.sh [--lines 1000000] [--runs 200]"""

import json, os, random, statistics, subprocess, sys, time, urllib.request, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (free_port, cli, log)

LINES = int(sys.argv[sys.argv.index("--lines") + 1]) if "--lines" in sys.argv else 1_000_000
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 200
PG = bench.PG
psql, pct = bench.psql, bench.pct


def get(url, token):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(req) as res:
        body = json.loads(res.read())
    return (time.perf_counter() - start) * 1000, body


def main():
    db = f"assetgate_search_{uuid.uuid4().hex}"
    psql("postgres", f'CREATE DATABASE "{db}"')
    env = dict(os.environ, DATABASE_URL=f"{PG}/{db}", REDIS_URL=bench.REDIS,
               ASSETGATE__REDIS__KEY_PREFIX=f"bench-{uuid.uuid4().hex}",
               ASSETGATE__LOG__LEVEL="warn", ASSETGATE__SERVER__PORT=str(bench.free_port()),
               ASSETGATE__FULFILMENT__ENABLED="false")
    proc = None
    try:
        bench.run([bench.BIN, "migrate"], env=env)
        vendors = [bench.cli(env, "vendor", "create", "--name", f"Shop {i}")["vendor_id"] for i in range(5)]
        token = bench.cli(env, "admin", "create", "--name", "Bench")["token"]
        orders = LINES // 2
        bench.log(f"inserting {LINES:,} lines in {orders:,} orders…")
        first = ["Ann", "Bob", "Carl", "Dana", "Erik", "Fatima", "Gustav", "Hanna", "Ivan", "Julia", "Karin", "Lars"]
        last = ["Andersson", "Berg", "Karlsson", "Lind", "Nilsson", "Olsen", "Persson", "Svensson", "Dahl", "Holm"]
        names = "ARRAY[" + ",".join(f"'{f} {l}'" for f in first for l in last) + "]"
        vendor_array = "ARRAY[" + ",".join(f"'{v}'" for v in vendors) + "]"
        started = time.time()
        psql(db, f"""
          INSERT INTO orders (vendor_id, environment, order_number, customer, created_at_ms)
          SELECT ({vendor_array})[1 + g % 5], CASE WHEN g % 7 = 0 THEN 'SANDBOX' ELSE 'LIVE' END, g,
                 ({names})[1 + ((g::bigint * 7919) % {len(first) * len(last)})::int] || ' ' || (g % 997),
                 1700000000000 + g * 1000
          FROM generate_series(1, {orders}) g;
          INSERT INTO order_lines (vendor_id, environment, order_number, order_line_id, asset_id, customer,
                 unit_price, line_item_price, quantity, status, created_at_ms, updated_at_ms,
                 revocation_pending, fulfil_attempts)
          SELECT o.vendor_id, o.environment, o.order_number, l, 1, o.customer, 1, 1, 1,
                 CASE WHEN o.order_number % 50 = 0 THEN 'CANCELED' ELSE 'COMPLETED' END,
                 o.created_at_ms, o.created_at_ms, FALSE, 1
          FROM orders o CROSS JOIN generate_series(1, 2) l;
          ANALYZE orders; ANALYZE order_lines;""")
        bench.log(f"inserted in {time.time() - started:.0f} s")
        proc = subprocess.Popen([bench.BIN, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        base = proc.stdout.readline().split()[4]
        rng = random.Random(7)
        kinds = {
            "order number (q=digits)": lambda: f"q={rng.randint(1, orders)}",
            "customer substring (q=text)": lambda: f"q={rng.choice(first).lower()}%20{rng.choice(last)[:3].lower()}",
            "customer substring, rare (q=\"lind 42\")": lambda: f"q=lind%20{rng.randint(100, 999)}",
            "newest first, no filter": lambda: "",
            "status CANCELED": lambda: "status=CANCELED",
        }
        rows = []
        for name, query in kinds.items():
            for _ in range(10):
                get(f"{base}/admin/api/orders?{query()}", token)  # warm up
            times = [get(f"{base}/admin/api/orders?{query()}", token)[0] for _ in range(RUNS)]
            rows.append((name, statistics.median(times), pct(times, 0.99)))
        print(f"\n{LINES:,} order lines in {orders:,} orders, PostgreSQL; {RUNS} searches each through "
              "GET /admin/api/orders (50 per page, with totals and vendor names)\n")
        print("| search | p50 ms | p99 ms |\n|---|---:|---:|")
        for name, p50, p99 in rows:
            print(f"| {name} | {p50:.1f} | {p99:.1f} |")
        cols = "id, vendor_id, environment, order_number, customer, created_at_ms"
        for title, where in [("customer substring 'ann ber'", "customer ILIKE '%ann ber%'"),
                             ("customer substring, rare 'lind 421'", "customer ILIKE '%lind 421%'"),
                             ("order number 123456", f"order_number = {min(123456, orders)}")]:
            plan = psql(db, f"EXPLAIN ANALYZE SELECT {cols} FROM orders WHERE {where} "
                            "ORDER BY created_at_ms DESC, id DESC LIMIT 51")
            print(f"\nEXPLAIN ANALYZE, {title}:\n```\n{plan.strip()}\n```")
    finally:
        if proc:
            proc.terminate(); proc.wait(10)
        psql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

main()
