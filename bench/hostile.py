#!/usr/bin/env python3
"""What a hostile client can make the server hold: peak memory under the
attacks of issue 21, against the release binary on SQLite.

Starts the server on a fresh database, signs in a viewer, then in turn:
  1. 1,200 stock searches, each with a distinct 1 MiB category;
  2. 40,000 requests with made-up HTTP methods, then /metrics (its size,
     how long it takes) while /healthz is timed;
  3. 8 parallel uploads of a 7000 x 7000 16-bit RGBA PNG;
  4. 16 parallel 24 MB uploads.
After each it reads the server's resident memory (VmRSS) and its peak
(VmHWM) from /proc. Prints a Markdown table.

  bench/hostile.py            # needs target/release/larder
"""
import http.cookiejar
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = "BENCH-HOSTILE-CODE"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, method, path, data=None, headers=None, timeout=120):
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def call(self, endpoint, **form):
        code, body = self.request("POST", f"/api/{endpoint}", urllib.parse.urlencode(form).encode(),
                                  {"content-type": "application/x-www-form-urlencoded"})
        if code != 200:
            raise RuntimeError(f"{endpoint}: {code} {body[:200]!r}")
        return json.loads(body or b"null")


def deep_png(width, height):
    """A valid 16-bit RGBA PNG of one colour: a few hundred KB that decode to width*height*8 bytes."""
    row = b"\x00" + b"\x12\x34" * 4 * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def parallel(n, fn):
    results = [None] * n
    def run(i):
        results[i] = fn(i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main():
    binary = os.path.join(ROOT, "target", "release", "larder")
    with tempfile.TemporaryDirectory() as tmp:
        port, metrics_port = free_port(), free_port()
        env = dict(os.environ, LARDER_LISTEN=f"127.0.0.1:{port}", LARDER_METRICS_LISTEN=f"127.0.0.1:{metrics_port}",
                   LARDER_SETUP_CODE=CODE, LARDER_PUBLIC_URL="http://larder.bench", LARDER_DATA_DIR=tmp,
                   LARDER_SITE_ROOT=os.path.join(tmp, "site"), LARDER_ITEM_MODEL="off", DATABASE_URL="",
                   LARDER_LOG="warn")
        server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"))
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/readyz", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            admin = Client(base)
            admin.call("setup", code=CODE, name="Bench", email="bench@larder.example", password="correct horse battery")
            org = admin.call("create_organization", name="Bench College")
            campus = admin.call("create_campus", organization=org, name="Main")
            pantry = admin.call("create_pantry", campus=campus, name="Main Pantry")
            intake = admin.call("create_intake", pantry=pantry)
            rows = []

            def record(what, outcome):
                rows.append((what, outcome, status(server.pid, "VmRSS"), status(server.pid, "VmHWM")))

            record("idle, after setup", "")
            statuses = {}
            big = "x" * (1 << 20)
            for i in range(1200):
                body = urllib.parse.urlencode({"pantry": pantry, "category": f"{i}{big}"}).encode()
                code, _ = admin.request("POST", "/api/stock", body, {"content-type": "application/x-www-form-urlencoded"})
                statuses[code] = statuses.get(code, 0) + 1
            record("1,200 stock searches, 1 MiB category each", ", ".join(f"{n}×{c}" for c, n in sorted(statuses.items())))

            def weird(i):
                c = Client(base)
                out = {}
                for j in range(i * 5000, (i + 1) * 5000):
                    code, _ = c.request(f"X{j}", "/healthz")
                    out[code] = out.get(code, 0) + 1
                return out
            counts = {}
            for d in parallel(8, weird):
                for c, n in d.items():
                    counts[c] = counts.get(c, 0) + n
            timings = {}
            def health():
                t = time.monotonic()
                urllib.request.urlopen(f"{base}/healthz").read()
                timings["healthz"] = time.monotonic() - t
            t = time.monotonic()
            h = threading.Thread(target=health)
            h.start()
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read()
            render = time.monotonic() - t
            h.join()
            record("40,000 made-up methods", ", ".join(f"{n}×{c}" for c, n in sorted(counts.items()))
                   + f"; /metrics {len(text) / 1024:.0f} KB in {render * 1000:.0f} ms, /healthz meanwhile {timings['healthz'] * 1000:.0f} ms")

            png = deep_png(7000, 7000)
            def upload_png(_):
                return Client.request(admin, "POST", f"/intakes/{intake}/photos", png, {"content-type": "image/png"})[0]
            codes = parallel(8, upload_png)
            record(f"8 parallel 7000×7000 16-bit PNGs ({len(png) // 1024} KB each)", ", ".join(f"{codes.count(c)}×{c}" for c in sorted(set(codes))))

            junk = os.urandom(24 * 1024 * 1024)
            def upload_big(_):
                return Client.request(admin, "POST", f"/intakes/{intake}/photos", junk, {"content-type": "image/jpeg"}, timeout=300)[0]
            codes = parallel(16, upload_big)
            record("16 parallel 24 MB uploads", ", ".join(f"{codes.count(c)}×{c}" for c in sorted(set(codes))))

            print("| attack | answers | RSS after (MB) | peak RSS so far (MB) |")
            print("|---|---|---:|---:|")
            for what, outcome, rss, hwm in rows:
                print(f"| {what} | {outcome} | {rss:.0f} | {hwm:.0f} |")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
