#!/usr/bin/env python3
"""Upload benchmark (issue 23): a large file through the admin API into a bucket
(POST /admin/api/assets, multipart, streamed and hashed on the way) against
copying the same file into the same bucket with a plain S3 PUT (curl -T to a
presigned URL, SigV4 computed here), on a private s3s-fs. Prints a table with
the gateway's peak RSS. Standard library only; run through bench/upload.sh.

    bench/upload.sh [--quick]     (--quick: 256 MiB instead of 1 GiB)
    bench/upload.sh --quick --profile   (then one more upload under `perf record`:
                                         the gateway's hottest symbols)
"""

import json, os, shutil, signal, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BIN, RssSampler, free_port, log, presigned, run  # noqa: E402

QUICK = "--quick" in sys.argv
PROFILE = "--profile" in sys.argv
SIZE = (256 if QUICK else 1024) << 20
S3S_FS = os.environ.get("S3S_FS") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
    "assetgate-tools/bin/s3s-fs")
KEY, SECRET, BUCKET, REGION = "bench", "bench-secret", "bench", "us-east-1"


def timed(cmd):
    started = time.monotonic()
    out = run(cmd)
    return time.monotonic() - started, out


def main():
    tmp = tempfile.mkdtemp(prefix="assetgate-upload-bench-")
    s3_root, s3_port = os.path.join(tmp, "s3"), free_port()
    os.makedirs(os.path.join(s3_root, BUCKET))
    s3s = subprocess.Popen([S3S_FS, "--host", "127.0.0.1", "--port", str(s3_port), "--access-key", KEY,
                            "--secret-key", SECRET, s3_root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gw = None
    try:
        for _ in range(200):
            try: socket.create_connection(("127.0.0.1", s3_port), 0.1).close(); break
            except OSError: time.sleep(0.05)
        port = free_port()
        env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp}/bench.db?mode=rwc",
                   ASSETGATE__SERVER__PORT=str(port), ASSETGATE__LOG__LEVEL="warn",
                   ASSETGATE__LINKS__SIGNING_KEY_FILE=os.path.join(tmp, "signing.key"),
                   ASSETGATE__STORAGE__BACKEND="s3", ASSETGATE__STORAGE__S3__BUCKET=BUCKET,
                   ASSETGATE__STORAGE__S3__ENDPOINT=f"http://127.0.0.1:{s3_port}",
                   ASSETGATE__STORAGE__S3__ACCESS_KEY_ID=KEY, ASSETGATE__STORAGE__S3__SECRET_ACCESS_KEY=SECRET,
                   ASSETGATE__STORAGE__S3__FORCE_PATH_STYLE="true", ASSETGATE__STORAGE__S3__ALLOW_HTTP="true")
        gw = subprocess.Popen([BIN, "serve"], env=env, cwd=tmp, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
        gw.stdout.readline()
        admin = json.loads(run([BIN, "admin", "create", "--name", "Bench"], env=env))["token"]
        path = os.path.join(tmp, "big.bin")
        with open(path, "wb") as f:
            left = SIZE
            while left:
                chunk = min(left, 8 << 20); f.write(os.urandom(chunk)); left -= chunk
        rows = []
        for round_ in range(2):
            # Alternate the order; the file is in the page cache for both after round 1.
            order = ("direct", "gateway") if round_ % 2 == 0 else ("gateway", "direct")
            for kind in order:
                if kind == "direct":
                    url = presigned("PUT", f"127.0.0.1:{s3_port}", BUCKET, f"direct/{round_}-{time.time_ns()}", KEY, SECRET)
                    log(f"round {round_ + 1}: PUT into the bucket with curl…")
                    secs, _ = timed(["curl", "-sS", "-f", "-o", "/dev/null", "-T", path, url])
                    rows.append((kind, secs, None))
                else:
                    log(f"round {round_ + 1}: upload through the admin API…")
                    with RssSampler(gw.pid) as rss:
                        secs, out = timed(["curl", "-sS", "-f", "-H", f"Authorization: Bearer {admin}",
                                           "-F", f"title=Bench {round_}", "-F", f"file=@{path}",
                                           f"http://127.0.0.1:{port}/admin/api/assets"])
                    assert json.loads(out)["size_bytes"] == SIZE, out
                    rows.append((kind, secs, rss.mib()))
        direct = [s for k, s, _ in rows if k == "direct"]
        gateway = [(s, r) for k, s, r in rows if k == "gateway"]
        mib = SIZE / (1 << 20)
        print(f"\n{'quick run; ' if QUICK else ''}{mib:.0f} MiB file, s3s-fs on this machine's disk, "
              f"{os.cpu_count()} cores; 2 rounds each, order alternating; best of each\n")
        print("| path | seconds per round | best MiB/s | peak RSS MiB | ratio to direct PUT |\n|---|---|---:|---:|---:|")
        best_direct = min(direct)
        print(f"| curl -T to a presigned PUT (direct) | {', '.join(f'{s:.1f}' for s in direct)} | "
              f"{mib / best_direct:.0f} | – | 1.00× |")
        best_gw = min(s for s, _ in gateway)
        print(f"| POST /admin/api/assets (gateway: multipart, sha256, multipart upload, server-side copy) | "
              f"{', '.join(f'{s:.1f}' for s, _ in gateway)} | {mib / best_gw:.0f} | "
              f"{max(r for _, r in gateway):.1f} | {best_direct / best_gw:.2f}× |")
        if PROFILE:
            log("one more upload through the admin API, under perf…")
            data = os.path.join(tmp, "perf.data")
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-o", data,
                                     "-p", str(gw.pid)], stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            secs, _ = timed(["curl", "-sS", "-f", "-H", f"Authorization: Bearer {admin}", "-F", "title=Profiled",
                             "-F", f"file=@{path}", f"http://127.0.0.1:{port}/admin/api/assets"])
            perf.send_signal(signal.SIGINT); perf.wait()
            report = run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio",
                          "-g", "none", "--percent-limit", "2"])
            print(f"\nprofile of one upload ({secs:.1f} s), gateway symbols ≥ 2 % of its samples:\n")
            print("\n".join(l.rstrip()[:110] for l in report.splitlines() if l.strip() and not l.startswith("#")))
    finally:
        if gw:
            gw.send_signal(signal.SIGTERM)
            try: gw.wait(10)
            except subprocess.TimeoutExpired: gw.kill()
        s3s.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
