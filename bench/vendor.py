#!/usr/bin/env python3
"""Vendor integration at scale, on PostgreSQL + Redis with the release binary:

1. POST /purchase/cancel-batch of 500 whole orders, p50/p99 over --runs runs, against
   the reference a shop has without it: 500 single DELETE /purchase/cancel calls in a
   row (measured in the same run).
2. Webhook delivery throughput to a local receiver (Python, threaded, answers 204),
   for one endpoint (deliveries to an endpoint go one at a time, in order) and for
   eight, against the receiver's own capacity measured in the same run.

Standard library only.   bench/vendor.sh [--runs 20] [--events 500]"""

import http.client, json, os, statistics, subprocess, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (free_port, cli, log, BIN, PG, REDIS)

RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 20
EVENTS = int(sys.argv[sys.argv.index("--events") + 1]) if "--events" in sys.argv else 500
BATCH = 500
WARM = 2  # first batches, not counted (connection pools, plan caches)
PG = bench.PG
psql, pct = bench.psql, bench.pct






class Api:
    """One keep-alive connection to the gateway."""
    def __init__(self, base, token):
        u = urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port)
        self.token = token

    def call(self, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=h)
            res = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: open a new one.
            self.conn.close()
            start = time.perf_counter()
            self.conn.request(method, path, body=data, headers=h)
            res = self.conn.getresponse()
        raw = res.read()
        ms = (time.perf_counter() - start) * 1000
        return res.status, (json.loads(raw) if raw else None), ms


class Receiver:
    """Counts deliveries per path; answers 204."""
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_POST(self):
                n = int(self.headers.get("content-length", 0))
                self.rfile.read(n)
                with outer.lock:
                    outer.seen.setdefault(self.path, set()).add(self.headers.get("webhook-id", ""))
                    outer.last = time.perf_counter()
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, paths):
        with self.lock:
            return sum(len(self.seen.get(p, ())) for p in paths)

    def capacity(self, n, clients):
        """Requests/s the receiver answers to `clients` keep-alive clients in a row."""
        body = json.dumps({"type": "order_line.canceled", "data": {"x": "y" * 600}})
        def client(i):
            c = http.client.HTTPConnection("127.0.0.1", self.port)
            for k in range(n // clients):
                c.request("POST", f"/capacity-{i}", body=body,
                          headers={"webhook-id": f"cap-{i}-{k}", "content-type": "application/json"})
                c.getresponse().read()
        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads: t.start()
        for t in threads: t.join()
        return n / (time.perf_counter() - start)


def main():
    db = f"assetgate_vendor_{uuid.uuid4().hex}"
    psql("postgres", f'CREATE DATABASE "{db}"')
    env = dict(os.environ, DATABASE_URL=f"{PG}/{db}", REDIS_URL=bench.REDIS,
               ASSETGATE__REDIS__KEY_PREFIX=f"bench-{uuid.uuid4().hex}",
               ASSETGATE__LOG__LEVEL="warn", ASSETGATE__SERVER__PORT=str(bench.free_port()),
               ASSETGATE__FULFILMENT__ENABLED="false",
               ASSETGATE__WEBHOOKS__ALLOW_HTTP="true",
               ASSETGATE__WEBHOOKS__ALLOW_PRIVATE_NETWORKS="true",
               ASSETGATE__WEBHOOKS__POLL_INTERVAL_MS="200",
               # 500 single cancels in a row are the reference here, not a runaway client.
               ASSETGATE__RATE_LIMIT__VENDOR_PER_SECOND="0")
    proc = None
    try:
        bench.run([bench.BIN, "migrate"], env=env)
        vendor = bench.cli(env, "vendor", "create", "--name", "Bench Shop")["vendor_id"]
        token = bench.cli(env, "token", "create", "--vendor", vendor, "--environment", "LIVE")["token"]
        # Orders: WARM + RUNS batches, one row of singles, EVENTS × 2 for the webhook runs.
        total = BATCH * (WARM + RUNS) + BATCH + EVENTS * 2
        psql(db, f"""
          INSERT INTO orders (vendor_id, environment, order_number, customer, created_at_ms)
          SELECT '{vendor}', 'LIVE', g, 'Bench Buyer ' || g, 1700000000000 + g
          FROM generate_series(1, {total}) g;
          INSERT INTO order_lines (vendor_id, environment, order_number, order_line_id, asset_id, customer,
                 unit_price, line_item_price, quantity, status, created_at_ms, updated_at_ms,
                 revocation_pending, fulfil_attempts)
          SELECT vendor_id, environment, order_number, 1, 1, customer, 1, 1, 1, 'COMPLETED',
                 created_at_ms, created_at_ms, FALSE, 1
          FROM orders;
          ANALYZE orders; ANALYZE order_lines;""")
        proc = subprocess.Popen([bench.BIN, "serve"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        base = proc.stdout.readline().split()[4]
        api = Api(base, token)
        next_order = 1

        def take(n):
            nonlocal next_order
            first = next_order
            next_order += n
            return list(range(first, first + n))

        # 1. Batch cancel.
        batch_ms = []
        for run in range(WARM + RUNS):
            orders = take(BATCH)
            status, body, ms = api.call("POST", "/purchase/cancel-batch",
                                        {"lines": [{"order_id": o} for o in orders], "reason_code": "refund"},
                                        {"Idempotency-Key": f"bench-{run}"})
            assert status == 200, body
            assert all(r["result"] == "canceled" for r in body["results"]), body
            if run >= WARM:
                batch_ms.append(ms)
        singles = take(BATCH)
        start = time.perf_counter()
        single_ms = []
        for o in singles:
            status, body, ms = api.call("DELETE", f"/purchase/cancel?order_id={o}")
            assert status == 201, body
            single_ms.append(ms)
        singles_total = (time.perf_counter() - start) * 1000

        # 2. Webhook delivery throughput.
        receiver = Receiver()
        cap1 = receiver.capacity(2000, 1)
        cap8 = receiver.capacity(4000, 8)
        rows = []
        for endpoints in (1, 8):
            paths = [f"/hook-{endpoints}-{i}" for i in range(endpoints)]
            ids = []
            for p in paths:
                status, body, _ = api.call("POST", "/webhooks",
                                           {"url": f"http://127.0.0.1:{receiver.port}{p}",
                                            "events": ["order_line.canceled"]})
                assert status == 201, body
                ids.append(body["webhook_id"])
            orders = take(EVENTS)
            status, body, _ = api.call("POST", "/purchase/cancel-batch",
                                       {"lines": [{"order_id": o} for o in orders]})
            assert status == 200, body
            start = time.perf_counter()
            want = EVENTS * endpoints
            deadline = start + 600
            while receiver.count(paths) < want and time.perf_counter() < deadline:
                time.sleep(0.01)
            got = receiver.count(paths)
            elapsed = receiver.last - start
            rows.append((endpoints, want, got, elapsed, got / elapsed))
            for w in ids:  # stop these endpoints before the next scenario
                api.call("DELETE", f"/webhooks/{w}")

        print(f"\nPostgreSQL + Redis, release build, one gateway; {RUNS} runs of {BATCH} whole orders\n")
        print("| cancel | p50 ms | p99 ms | total for 500 lines ms |\n|---|---:|---:|---:|")
        print(f"| POST /purchase/cancel-batch, 500 orders | {statistics.median(batch_ms):.0f} | "
              f"{pct(batch_ms, 0.99):.0f} | {statistics.median(batch_ms):.0f} |")
        print(f"| reference: 500 × DELETE /purchase/cancel in a row | {statistics.median(single_ms):.1f} "
              f"(each) | {pct(single_ms, 0.99):.1f} (each) | {singles_total:.0f} |")
        print(f"\nEvery batch, ms, sorted: {', '.join(f'{m:.0f}' for m in sorted(batch_ms))} "
              f"({WARM} warm-up batches before them not counted)")
        print(f"\nBatch of 500 vs 500 singles: {singles_total / statistics.median(batch_ms):.1f}× faster "
              "(medians, same run).\n")
        print(f"Webhook deliveries of {EVENTS} order_line.canceled events (one batch cancel) to a local "
              "Python receiver answering 204\n")
        print("| endpoints | deliveries | delivered | seconds | deliveries/s | receiver alone, req/s |")
        print("|---:|---:|---:|---:|---:|---:|")
        for (endpoints, want, got, elapsed, rate), cap in zip(rows, (cap1, cap8)):
            print(f"| {endpoints} | {want} | {got} | {elapsed:.2f} | {rate:.0f} | {cap:.0f} "
                  f"({'1 client' if endpoints == 1 else '8 clients'}) |")
    finally:
        if proc:
            proc.terminate(); proc.wait(10)
        psql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


main()
