#!/usr/bin/env python3
"""Orchestrates the download benchmark; see bench/README.md. Standard library only."""

import base64, hashlib, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, uuid

QUICK = "--quick" in sys.argv
# BENCH_ONLY=a,d runs only those scenarios (for iterating on one number).
ONLY = set(os.environ.get("BENCH_ONLY", "a,b,c,d,e,f,g,h,s").split(","))
# (s): the PostgreSQL + Redis gateway with the catalogue in a bucket of a
# private s3s-fs (a real S3 server, on this machine's disk), in (a)-(c).
S3_NAME = "assetgate (PostgreSQL + Redis, S3)"
S3S_FS = os.environ.get("S3S_FS") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "assetgate-tools/bin/s3s-fs")
# Rounds of the interleaved A/B scenarios (f is fixed at 3), e.g. BENCH_AB_ROUNDS=7.
AB_ROUNDS = int(os.environ.get("BENCH_AB_ROUNDS", "3"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ASSETGATE_BIN: another build of the gateway (bench/run.sh builds and uses target/release).
BIN = os.environ.get("ASSETGATE_BIN") or os.path.join(ROOT, "target/release/assetgate")
PG = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
DUR = 5 if QUICK else 10           # seconds per wrk run
# (d): each connection waits this long after a response (wrk's delay(), whole ms),
# so (d) opens rate × this many connections. Shorter means fewer connections, and
# less of the load generator's own timer work in the measured latency.
D_DELAY_MS = int(os.environ.get("BENCH_D_DELAY_MS", "10"))
BIG = (256 if QUICK else 1024) << 20  # scenario (c) file size
BIG_CLIENTS = 20
WRK_THREADS = 2

def presigned(method, host, bucket, key, access_key, secret, expires=3600, region="us-east-1"):
    """A SigV4 query-signed URL (path-style), as any S3 client makes one."""
    import datetime, hmac, urllib.parse
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/{'aws4_request'}"
    path = f"/{bucket}/{urllib.parse.quote(key)}"
    query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{access_key}/{scope}",
             "X-Amz-Date": amz_date, "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
    canonical_query = "&".join(f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}"
                               for k, v in sorted(query.items()))
    canonical = "\n".join([method, path, canonical_query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"http://{host}{path}?{canonical_query}&X-Amz-Signature={signature}"

def psql(db, sql):
    """Runs `sql` on database `db` of the PostgreSQL server; stops the bench if it fails."""
    r = subprocess.run(["psql", f"{PG}/{db}", "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"psql failed: {r.stderr}")
    return r.stdout

def pct(values, p):
    """The p-quantile of `values` (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]

def log(*a):
    print(*a, file=sys.stderr, flush=True)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def run(cmd, env=None, check=True):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r.stdout

def cli(env, *args):
    return json.loads(run([BIN, *args], env=env))

def http(method, url, token=None, body=None):
    cmd = ["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code} %{time_total}", "-X", method, url]
    if token: cmd += ["-H", f"Authorization: Bearer {token}"]
    if body is not None: cmd += ["-H", "content-type: application/json", "-d", json.dumps(body)]
    out = run(cmd).rsplit("\n", 1)
    code, t = out[1].split()
    return int(code), out[0], float(t)

class RssSampler:
    """Peak resident set size of a process while a scenario runs."""
    def __init__(self, pid): self.pid, self.peak, self.stop = pid, 0, False
    def __enter__(self):
        self.t = threading.Thread(target=self.loop, daemon=True); self.t.start(); return self
    def loop(self):
        while not self.stop:
            try:
                for line in open(f"/proc/{self.pid}/status"):
                    if line.startswith("VmRSS:"): self.peak = max(self.peak, int(line.split()[1]))
            except OSError: pass
            time.sleep(0.05)
    def __exit__(self, *a): self.stop = True; self.t.join()
    def mib(self): return self.peak / 1024

def parse_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", v)
    if not m:
        sys.exit(f"cannot read wrk latency {v!r}")
    n, u = float(m.group(1)), m.group(2)
    return n * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}[u]

def wrk(url, conns, duration=DUR, script=None, threads=WRK_THREADS):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency"]
    if script: cmd += ["-s", script]
    out = run(cmd + [url])
    if os.environ.get("BENCH_DEBUG"): log(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    mbs = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    mib = float(mbs.group(1)) * {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[mbs.group(2)]
    # The "Latency Distribution" lines, not a "…50%" in the stdev column.
    p50 = parse_ms(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M).group(1))
    p99 = parse_ms(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return dict(rps=rps, mib=mib, p50=p50, p99=p99, errors=errors)

def paced_script(tmp, delay_ms):
    path = os.path.join(tmp, f"paced-{delay_ms}.lua")
    with open(path, "w") as f:
        f.write(f"function delay() return {delay_ms} end\n")
    return path

def big_download(url, clients=BIG_CLIENTS):
    start = time.time()
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
                              stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    total, errors = 0, 0
    for p in procs:
        code, size = p.communicate()[0].split()
        if code != "200": errors += 1
        total += int(size)
    secs = time.time() - start
    return dict(rps=clients / secs, mib=total / 2**20 / secs, p50=None, p99=None, errors=errors)

def redis_servers(tmp, n, cluster):
    """n private redis-servers (no persistence); with cluster, made into a
    cluster of n primaries by redis-cli. Returns (processes, ports)."""
    # A cluster node also listens on its port + 10000 (the cluster bus): a
    # port above 55535 leaves it no bus port and the server does not start.
    ports = []
    while len(ports) < n:
        p = free_port()
        if not cluster or p + 10000 <= 65535: ports.append(p)
    procs = []
    for p in ports:
        d = os.path.join(tmp, f"redis-{p}"); os.makedirs(d)
        args = ["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly", "no"]
        if cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-require-full-coverage", "no"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in ports:
        for _ in range(200):
            if run(["redis-cli", "-p", str(p), "ping"], check=False).strip() == "PONG": break
            time.sleep(0.05)
    if cluster:
        run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
             "--cluster-replicas", "0", "--cluster-yes"])
        for p in ports:
            for _ in range(200):
                if "cluster_state:ok" in run(["redis-cli", "-p", str(p), "cluster", "info"], check=False): break
                time.sleep(0.05)
    return procs, ports

class Gateway:
    def __init__(self, name, tmp, database_url, redis_url, **extra_env):
        self.name, self.dir = name, os.path.join(tmp, re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
        os.makedirs(self.dir)
        self.env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url,
                        ASSETGATE__STORAGE__PATH=os.path.join(self.dir, "assets"),
                        ASSETGATE__LINKS__SIGNING_KEY=base64.b64encode(os.urandom(32)).decode(),
                        ASSETGATE__REDIS__KEY_PREFIX=f"bench-{uuid.uuid4().hex}",
                        ASSETGATE__LOG__LEVEL="warn", ASSETGATE__SERVER__PORT=str(free_port()),
                        # The setup and the register-throughput run call the vendor
                        # API far above the default 50/s; (f) measures the limits.
                        ASSETGATE__RATE_LIMIT__VENDOR_PER_SECOND="0")
        self.env.update(extra_env)
        self.port = int(self.env["ASSETGATE__SERVER__PORT"])
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen([BIN, "serve"], env=self.env, cwd=self.dir,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.proc.stdout.readline()  # "assetgate is serving on …"
        vendor = cli(self.env, "vendor", "create", "--name", "Bench")["vendor_id"]
        self.token = cli(self.env, "token", "create", "--vendor", vendor, "--environment", "LIVE")["token"]
        self.next_order = 1

    def add(self, path):
        return cli(self.env, "asset", "add", "--file", path, "--title", os.path.basename(path))

    def order(self, asset_id):
        order = self.next_order; self.next_order += 1
        code, body, _ = http("POST", f"{self.base}/purchase/register", self.token,
                             dict(asset_id=asset_id, order_number=order, order_line_id=1,
                                  unit_price=1, line_item_price=1, customer="Bench"))
        assert code == 201, body
        for _ in range(400):
            code, body, _ = http("GET", f"{self.base}/purchase/download-url?order_id={order}&order_line_id=1", self.token)
            if code == 200: return order, json.loads(body)["url"]
            time.sleep(0.05)
        sys.exit(f"order {order} was not fulfilled: {body}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill()

def nginx_start(tmp, storage):
    port, secret = free_port(), uuid.uuid4().hex
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes auto; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log warn; daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path {tmp}/nginx-body; proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fcgi; uwsgi_temp_path {tmp}/nginx-uwsgi; scgi_temp_path {tmp}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port};
    location /dl/ {{
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "$secure_link_expires$uri {secret}";
      if ($secure_link = "") {{ return 403; }}
      if ($secure_link = "0") {{ return 410; }}
      add_header Cache-Control "private, no-store";
      alias {storage}/;
    }}
  }}
}}""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=open(f"{tmp}/nginx-stderr.log", "w"))
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", port), 0.1).close(); break
        except OSError: time.sleep(0.05)
    else:
        sys.exit(f"nginx did not start: {open(f'{tmp}/nginx-stderr.log').read()}")
    def link(sha):
        uri = f"/dl/{sha[:2]}/{sha}"
        expires = int(time.time()) + 3600
        digest = base64.urlsafe_b64encode(hashlib.md5(f"{expires}{uri} {secret}".encode()).digest()).decode().rstrip("=")
        return f"http://127.0.0.1:{port}{uri}?md5={digest}&expires={expires}"
    return proc, link

def cancel_and_register_numbers(gw, asset_id, n=100):
    lat = []
    for _ in range(n):
        order, _ = gw.order(asset_id)
        code, body, t = http("DELETE", f"{gw.base}/purchase/cancel?order_id={order}", gw.token)
        assert code == 201, body
        lat.append(t * 1000)
    lat.sort()
    cancel = dict(p50=lat[len(lat) // 2], p99=lat[int(len(lat) * 0.99) - 1])
    # Register throughput: wrk POSTing unique order numbers.
    script = os.path.join(gw.dir, "register.lua")
    with open(script, "w") as f:
        f.write(f"""
local counter = 0
local threads = {{}}
function setup(thread) thread:set("id", #threads + 1); table.insert(threads, thread) end
function init(args) base = 1000000 + id * 10000000 end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {gw.token}"
wrk.headers["Content-Type"] = "application/json"
function request()
  counter = counter + 1
  local body = string.format('{{"asset_id":{asset_id},"order_number":%d,"order_line_id":1,"unit_price":1,"line_item_price":1,"customer":"Bench"}}', base + counter)
  return wrk.format(nil, "/purchase/register", nil, body)
end
""")
    reg = wrk(f"{gw.base}/purchase/register", 8, duration=min(DUR, 5), script=script)
    return cancel, reg

def main():
    tmp = tempfile.mkdtemp(prefix="assetgate-bench-")
    os.chmod(tmp, 0o755)  # nginx workers run as nobody and must reach the files
    db = f"assetgate_bench_{uuid.uuid4().hex}"
    run(["psql", f"{PG}/postgres", "-qc", f'CREATE DATABASE "{db}"'])
    files = {}
    for name, size in [("1k.bin", 1024), ("1m.bin", 1 << 20), ("big.bin", BIG if "c" in ONLY else 1024)]:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            left = size
            while left:
                chunk = min(left, 8 << 20); f.write(os.urandom(chunk)); left -= chunk
        files[name] = path
    gws = [Gateway("assetgate (PostgreSQL + Redis)", tmp, f"{PG}/{db}", REDIS),
           Gateway("assetgate (embedded default)", tmp, f"sqlite://{tmp}/embedded.db?mode=rwc", "")]
    # (f): the cost of metrics and rate limiting on /access. "on": the defaults
    # (metrics on, vendor limit 50/s) plus a per-IP /access limit too high to
    # refuse anything, so that every request pays for the check; "off": none.
    toggles = [Gateway("limits+metrics on", tmp, f"{PG}/{db}", REDIS,
                       ASSETGATE__RATE_LIMIT__VENDOR_PER_SECOND="50",
                       ASSETGATE__RATE_LIMIT__ACCESS_PER_IP_PER_SECOND="100000000"),
               Gateway("limits+metrics off", tmp, f"{PG}/{db}", REDIS,
                       ASSETGATE__METRICS__ENABLED="false")] if "f" in ONLY else []
    # (g): scenario (a) against a 3-primary Redis Cluster vs one Redis server,
    # both private to this run, same PostgreSQL, interleaved rounds.
    redis_procs, shards = [], []
    if "g" in ONLY:
        procs, cluster_ports = redis_servers(tmp, 3, cluster=True)
        redis_procs += procs
        procs, single_port = redis_servers(tmp, 1, cluster=False)
        redis_procs += procs
        shards = [Gateway("one Redis server", tmp, f"{PG}/{db}", f"redis://127.0.0.1:{single_port[0]}"),
                  Gateway("Redis Cluster, 3 primaries", tmp, f"{PG}/{db}", "",
                          ASSETGATE__REDIS__CLUSTER_NODES=",".join(f"127.0.0.1:{p}" for p in cluster_ports))]
    # (h): scenario (a) with checks coalesced (the default) vs one Redis read
    # per check, same binary, interleaved rounds.
    coalescing = [Gateway("checks coalesced", tmp, f"{PG}/{db}", REDIS),
                  Gateway("one read per check", tmp, f"{PG}/{db}", REDIS,
                          ASSETGATE__REDIS__COALESCE_CHECKS="false")] if "h" in ONLY else []
    s3s = None
    if "s" in ONLY:
        s3_root, s3_port = os.path.join(tmp, "s3"), free_port()
        os.makedirs(os.path.join(s3_root, "bench"))
        s3s = subprocess.Popen([S3S_FS, "--host", "127.0.0.1", "--port", str(s3_port),
                                "--access-key", "bench", "--secret-key", "bench-secret", s3_root],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try: socket.create_connection(("127.0.0.1", s3_port), 0.1).close(); break
            except OSError: time.sleep(0.05)
        gws.append(Gateway(S3_NAME, tmp, f"{PG}/{db}", REDIS,
                           ASSETGATE__STORAGE__BACKEND="s3",
                           ASSETGATE__STORAGE__S3__BUCKET="bench",
                           ASSETGATE__STORAGE__S3__ENDPOINT=f"http://127.0.0.1:{s3_port}",
                           ASSETGATE__STORAGE__S3__ACCESS_KEY_ID="bench",
                           ASSETGATE__STORAGE__S3__SECRET_ACCESS_KEY="bench-secret",
                           ASSETGATE__STORAGE__S3__FORCE_PATH_STYLE="true",
                           ASSETGATE__STORAGE__S3__ALLOW_HTTP="true"))
    rows, extra, ngx = [], {}, None
    try:
        log("setting up gateways and nginx…")
        links = {}
        for gw in gws:
            gw.start()
            assets = {n: gw.add(p) for n, p in files.items()}
            gw.assets = assets
            links[gw.name] = {n: gw.order(a["asset_id"])[1] for n, a in assets.items()}
            order, revoked = gw.order(assets["1k.bin"]["asset_id"])
            code, body, _ = http("DELETE", f"{gw.base}/purchase/cancel?order_id={order}", gw.token)
            assert code == 201, body
            links[gw.name]["revoked"] = revoked
        for gw in toggles + shards + coalescing:
            gw.start()
            asset = gw.add(files["1k.bin"])
            links[gw.name] = {"1k.bin": gw.order(asset["asset_id"])[1]}
        ngx, ngx_link = nginx_start(tmp, os.path.join(gws[0].dir, "assets"))
        links["nginx secure_link"] = {n: ngx_link(gws[0].assets[n]["sha256"]) for n in files}
        pids = {gw.name: gw.proc.pid for gw in gws}
        pids["nginx secure_link"] = ngx.pid

        def rss_pids(name):
            if name != "nginx secure_link": return [pids[name]]
            # nginx: the master and its workers.
            out = run(["pgrep", "-P", str(ngx.pid)], check=False).split()
            return [int(p) for p in out] or [ngx.pid]

        targets = ["nginx secure_link"] + [gw.name for gw in gws]
        def measure(name, fn):
            samplers = [RssSampler(p) for p in rss_pids(name)]
            for s in samplers: s.__enter__()
            try: r = fn()
            finally:
                for s in samplers: s.__exit__()
            r["rss"] = sum(s.mib() for s in samplers)
            return r

        def measure_pid(pid, fn):
            with RssSampler(pid) as s: r = fn()
            r["rss"] = s.mib()
            return r

        results = {}
        for t in targets:
            log(f"{t}: (a) 1 KiB…"); results[(t, "a")] = measure(t, lambda: wrk(links[t]["1k.bin"], 64))
            if "b" in ONLY:
                log(f"{t}: (b) 1 MiB…"); results[(t, "b")] = measure(t, lambda: wrk(links[t]["1m.bin"], 16))
            if "c" in ONLY:
                log(f"{t}: (c) {BIG >> 20} MiB × {BIG_CLIENTS}…"); results[(t, "c")] = measure(t, lambda: big_download(links[t]["big.bin"]))
            if t == S3_NAME and "b" in ONLY:
                # The store's own speed, for reference: the same object, GET
                # from s3s-fs directly with a presigned URL (no gateway).
                sha = gws[-1].assets["1m.bin"]["sha256"]
                direct = presigned("GET", f"127.0.0.1:{s3_port}", "bench", f"assets/{sha[:2]}/{sha}",
                                   "bench", "bench-secret")
                log("s3s-fs direct: (b) 1 MiB…"); results[("s3s-fs direct", "b")] = measure_pid(s3s.pid, lambda: wrk(direct, 16))
            if "d" not in ONLY or t == S3_NAME: continue
            # wrk paces per connection in whole milliseconds: D_DELAY_MS (10) ms
            # think time, so each connection sends one request per (think time +
            # latency); as many connections as the rate needs, counting the
            # target's own (a) p50 as the latency (≈ rate × 10.5 ms).
            rate = results[(t, "a")]["rps"] / 2
            delay = D_DELAY_MS
            conns = max(2, round(rate * (delay + results[(t, "a")]["p50"]) / 1000))
            log(f"{t}: (d) paced at ~{rate:.0f} req/s ({conns} conns × 1 per {delay} ms)…")
            results[(t, "d")] = measure(t, lambda: wrk(links[t]["1k.bin"], conns, script=paced_script(tmp, delay)))
            results[(t, "d")]["target_rate"] = rate
            if t != "nginx secure_link" and "e" in ONLY:
                log(f"{t}: (e) revoked link…"); results[(t, "e")] = measure(t, lambda: wrk(links[t]["revoked"], 64))
        toggle_rps = {gw.name: [] for gw in toggles}
        for round_ in range(3 if toggles else 0):
            for gw in toggles if round_ % 2 == 0 else toggles[::-1]:
                log(f"(f) {gw.name}, round {round_ + 1}/3…")
                toggle_rps[gw.name].append(wrk(links[gw.name]["1k.bin"], 64)["rps"])
        def interleaved(tag, pair):
            runs = {gw.name: [] for gw in pair}
            for round_ in range(AB_ROUNDS if pair else 0):
                for gw in pair if round_ % 2 == 0 else pair[::-1]:
                    log(f"({tag}) {gw.name}, round {round_ + 1}/{AB_ROUNDS}…")
                    runs[gw.name].append(wrk(links[gw.name]["1k.bin"], 64))
            return runs
        # (e) as a ratio: the revoked link against the same gateway's hit, in
        # interleaved rounds (one run each right after (d) swings with the machine).
        revoked_runs = {}
        for gw in [g for g in gws if g.name != S3_NAME] if "e" in ONLY else []:
            hits, refused = [], []
            for round_ in range(AB_ROUNDS):
                for kind in (("hit", "revoked") if round_ % 2 == 0 else ("revoked", "hit")):
                    log(f"(e) {gw.name}, {kind}, round {round_ + 1}/{AB_ROUNDS}…")
                    (hits if kind == "hit" else refused).append(wrk(links[gw.name]["1k.bin" if kind == "hit" else "revoked"], 64)["rps"])
            revoked_runs[gw.name] = (hits, refused)
        # (d) in rounds: one run right after (a) swings with the machine, so each
        # target is paced again in interleaved rounds (the order rotates), at its own
        # half-maximum (the goal's reading) and at nginx's (one common rate: a faster
        # target's own half is more requests, and the load generator shares the cores).
        paced_runs = {}
        if "d" in ONLY:
            common = results[("nginx secure_link", "a")]["rps"] / 2
            for round_ in range(AB_ROUNDS):
                paced = [t for t in targets if t != S3_NAME]
                for t in paced[round_ % len(paced):] + paced[:round_ % len(paced)]:
                    for kind, rate in (("own", results[(t, "a")]["rps"] / 2), ("common", common)):
                        conns = max(2, round(rate * (D_DELAY_MS + results[(t, "a")]["p50"]) / 1000))
                        log(f"(d) {t}, {kind} rate {rate:.0f}/s, round {round_ + 1}/{AB_ROUNDS}…")
                        w = wrk(links[t]["1k.bin"], conns, script=paced_script(tmp, D_DELAY_MS))
                        w["target_rate"] = rate
                        paced_runs.setdefault((t, kind), []).append(w)
        shard_runs = interleaved("g", shards)
        coalesce_runs = interleaved("h", coalescing)
        for gw in gws[:1] if "e" in ONLY else []:
            log(f"{gw.name}: cancel latency and register throughput…")
            extra[gw.name] = cancel_and_register_numbers(gw, gw.assets["1k.bin"]["asset_id"])

        scen = {"a": "(a) 1 KiB, 64 conns", "b": "(b) 1 MiB, 16 conns", "c": f"(c) {BIG >> 20} MiB × {BIG_CLIENTS} clients",
                "d": "(d) 1 KiB at ½ of its (a) max", "e": "(e) revoked link, 64 conns"}
        print(f"\n{'quick run; ' if QUICK else ''}{os.cpu_count()} cores; wrk -t{WRK_THREADS}, {DUR}s per run; load generator on the same machine\n")
        print("| target | scenario | req/s | MiB/s | p50 ms | p99 ms | errors | peak RSS MiB | ratio to nginx |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for key in "abcde":
            for t in targets:
                r = results.get((t, key))
                if not r: continue
                ref = results[("nginx secure_link", key)] if key != "e" else results[(t, "a")]
                metric = "mib" if key == "c" else "rps"
                if key == "d": ratio = f"p99 {r['p99'] / max(ref['p99'], 1e-9):.2f}×"
                elif key == "e": ratio = f"{r['rps'] / ref['rps']:.2f}× of own (a)"
                else: ratio = f"{r[metric] / ref[metric]:.2f}×"
                rate = f" (aimed {r['target_rate']:.0f}/s)" if key == "d" else ""
                fmt = lambda v: "–" if v is None else f"{v:.2f}"
                errors = f"{r['errors']} (403, expected)" if key == "e" else str(r["errors"])
                print(f"| {t} | {scen[key]}{rate} | {r['rps']:.0f} | {r['mib']:.1f} | {fmt(r['p50'])} | {fmt(r['p99'])} | {errors} | {r['rss']:.1f} | {ratio} |")
        if revoked_runs:
            print(f"\n(e) revoked link vs a valid one (1 KiB), 64 conns, same gateway; {AB_ROUNDS} interleaved rounds each, median\n")
            print("| gateway | hit req/s per round | revoked req/s per round | per-round ratio | median ratio |\n|---|---|---|---|---:|")
            for name, (hits, refused) in revoked_runs.items():
                paired = [r / h for h, r in zip(hits, refused)]
                print(f"| {name} | {', '.join(f'{x:.0f}' for x in hits)} | {', '.join(f'{x:.0f}' for x in refused)} | "
                      f"{', '.join(f'{x:.3f}×' for x in paired)} | {statistics.median(refused) / statistics.median(hits):.3f}× |")
        if paced_runs:
            print(f"\n(d) p99 of 1 KiB downloads at half load, {D_DELAY_MS} ms think time; {AB_ROUNDS} rounds, "
                  "targets in rotating order, median p99; at its own ½ (a) max (the goal) and at nginx's\n")
            print("| target | own ½ max, req/s done | p99 ms per round | median p99 | ratio to nginx | "
                  "at nginx's rate, req/s done | p99 ms per round | median p99 | ratio to nginx |")
            print("|---|---:|---|---:|---:|---:|---|---:|---:|")
            med = {k: statistics.median(r["p99"] for r in v) for k, v in paced_runs.items()}
            for t in [t for t in targets if t != S3_NAME]:
                cells = []
                for kind in ("own", "common"):
                    runs = paced_runs[(t, kind)]
                    cells += [f"{statistics.median(r['rps'] for r in runs):.0f}",
                              ", ".join(f"{r['p99']:.2f}" for r in runs),
                              f"{med[(t, kind)]:.2f}",
                              f"{med[(t, kind)] / max(med[('nginx secure_link', kind)], 1e-9):.2f}×"]
                print(f"| {t} | " + " | ".join(cells) + " |")
        if s3s and (S3_NAME, "b") in results:
            local = gws[0].name
            print("\n(s) the catalogue in a bucket (s3s-fs on this machine) vs on local disk, same gateway "
                  "otherwise (PostgreSQL + Redis); the goal is ≥ 0.8× on (b) and peak RSS ≤ 64 MiB on (c)\n")
            print("| scenario | local | S3 | S3 ÷ local | S3 peak RSS MiB |\n|---|---:|---:|---:|---:|")
            for key, metric, unit in (("a", "rps", "req/s"), ("b", "rps", "req/s"), ("c", "mib", "MiB/s")):
                l, s = results.get((local, key)), results.get((S3_NAME, key))
                if l and s:
                    print(f"| {scen[key]} | {l[metric]:.0f} {unit} | {s[metric]:.0f} {unit} | "
                          f"{s[metric] / l[metric]:.2f}× | {s['rss']:.1f} |")
            d = results.get(("s3s-fs direct", "b"))
            if d:
                s = results[(S3_NAME, "b")]
                print(f"\n(b) from the store itself, no gateway (presigned GET to s3s-fs): {d['rps']:.0f} req/s, "
                      f"p50 {d['p50']:.2f} ms, p99 {d['p99']:.2f} ms; the gateway on S3 does "
                      f"{s['rps'] / d['rps']:.2f}× of the store's own rate")
        if toggles:
            on, off = (statistics.median(toggle_rps[gw.name]) for gw in toggles)
            print("\n(f) scenario (a) on PostgreSQL + Redis with metrics and rate limiting on (defaults, plus a "
                  "per-IP /access limit too high to refuse) vs off; 3 interleaved rounds each, median\n")
            print("| gateway | req/s per round | median | ratio |\n|---|---|---:|---:|")
            for gw in toggles:
                rounds = ", ".join(f"{r:.0f}" for r in toggle_rps[gw.name])
                med = statistics.median(toggle_rps[gw.name])
                print(f"| {gw.name} | {rounds} | {med:.0f} | {med / off:.3f}× |")
        def ab_table(title, first_column, pair, all_runs, reference):
            ref = statistics.median(r["rps"] for r in all_runs[reference.name])
            print(f"\n{title}; {AB_ROUNDS} interleaved rounds each, median\n")
            print(f"| {first_column} | req/s per round | median req/s | median p99 ms | errors | ratio |\n|---|---|---:|---:|---:|---:|")
            for gw in pair:
                runs = all_runs[gw.name]
                med = statistics.median(r["rps"] for r in runs)
                p99 = statistics.median(r["p99"] for r in runs)
                errs = sum(r["errors"] for r in runs)
                rounds = ", ".join(f"{r['rps']:.0f}" for r in runs)
                print(f"| {gw.name} | {rounds} | {med:.0f} | {p99:.2f} | {errs} | {med / ref:.3f}× |")
            # Each round's two runs are back to back: their ratio drifts less
            # with the machine's load than the medians do.
            other = [gw for gw in pair if gw.name != reference.name][0]
            paired = [o["rps"] / r["rps"] for o, r in zip(all_runs[other.name], all_runs[reference.name])]
            print(f"\nper round, {other.name} / {reference.name}: "
                  + ", ".join(f"{x:.3f}×" for x in paired)
                  + f"; median {statistics.median(paired):.3f}×, min {min(paired):.3f}×, max {max(paired):.3f}×")
        if shards:
            ab_table("(g) scenario (a) on PostgreSQL + a private Redis: one server vs a 3-primary cluster "
                     "(revocation keys over 64 buckets)", "revocation store", shards, shard_runs, shards[0])
        if coalescing:
            ab_table("(h) scenario (a) on PostgreSQL + Redis: concurrent checks coalesced into one MGET "
                     "(the default) vs one read per check", "checks", coalescing, coalesce_runs, coalescing[1])
        for name, (cancel, reg) in extra.items():
            print(f"\n{name}: cancel latency p50 {cancel['p50']:.1f} ms, p99 {cancel['p99']:.1f} ms (100 sequential cancels, curl);"
                  f" register throughput {reg['rps']:.0f} req/s (wrk, 8 conns, p99 {reg['p99']:.1f} ms, {reg['errors']} errors)")
    finally:
        for gw in gws + toggles + shards + coalescing:
            if hasattr(gw, "proc"): gw.stop()
        for p in redis_procs: p.kill()
        if s3s: s3s.kill()
        if ngx: ngx.terminate()
        subprocess.run(["pkill", "-f", f"nginx -c {tmp}/nginx.conf"], check=False)
        run(["psql", f"{PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=False)
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
