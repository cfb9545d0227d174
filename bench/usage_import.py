#!/usr/bin/env python3
"""CSV import of usage history: rows per second and the server's peak RSS.

Starts the release server binary on a fresh database, creates an
organization with a pantry and 200 products over HTTP, writes a CSV of
N rows (default 1,000,000) to disk, then imports it through
POST /api/v1/usage/import and reads the server's VmHWM (peak resident
memory) from /proc. Prints one Markdown table row per database.

  bench/usage_import.py sqlite            # SQLite in a temp directory
  bench/usage_import.py postgres URL      # a PostgreSQL admin URL
"""
import http.cookiejar
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = int(os.environ.get("LARDER_BENCH_IMPORT_ROWS", "1000000"))
PRODUCTS = 200
CODE = "BENCH-IMPORT-CODE"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def database_url(kind, admin_url, tmp):
    if kind == "sqlite":
        return f"sqlite://{tmp}/larder.db?mode=rwc"
    name = "larder_import_" + os.urandom(6).hex()
    subprocess.run(["psql", admin_url, "-qc", f"create database {name}"], check=True)
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


class Client:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, endpoint, **form):
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(f"{self.base}/api/{endpoint}", data) as r:
            return json.loads(r.read() or b"null")

    def upload(self, path, query):
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            req = urllib.request.Request(
                f"{self.base}/api/v1/usage/import?{query}", data=f, method="POST",
                headers={"content-type": "text/csv", "content-length": str(size)})
            try:
                with self.opener.open(req, timeout=3600) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    kind = sys.argv[1]
    admin_url = sys.argv[2] if len(sys.argv) > 2 else ""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = dict(os.environ,
                   LARDER_LISTEN=f"127.0.0.1:{port}",
                   LARDER_METRICS_LISTEN="off",
                   LARDER_SETUP_CODE=CODE,
                   LARDER_PUBLIC_URL="http://larder.bench",
                   LARDER_DATA_DIR=tmp,
                   LARDER_SITE_ROOT=os.path.join(tmp, "site"),
                   LARDER_LOG="warn",
                   DATABASE_URL=database_url(kind, admin_url, tmp))
        # The server's log goes to a file, never into the figures.
        log = open(os.path.join(tmp, "server.log"), "w")
        server = subprocess.Popen([os.path.join(ROOT, "target", "release", "larder")], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            c = Client(base)
            c.call("setup", code=CODE, name="Bench", email="bench@larder.example", password="correct horse battery")
            org = c.call("create_organization", name="Bench College")
            campus = c.call("create_campus", organization=org, name="Main")
            c.call("create_pantry", campus=campus, name="Pantry")
            names = [f"Product {i:03}" for i in range(PRODUCTS)]
            for i, n in enumerate(names):
                c.call("create_product", organization=org, name=n, category="Bench",
                       unit="kg" if i % 10 == 0 else "each")
            csv = os.path.join(tmp, "history.csv")
            rnd = random.Random(7)
            with open(csv, "w") as f:
                f.write("date,product,quantity,unit_price,revenue,pantry\n")
                for i in range(ROWS):
                    day = 1 + i * 365 // ROWS
                    y, d = 2025, day
                    month_lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
                    m = 0
                    while d > month_lengths[m]:
                        d -= month_lengths[m]
                        m += 1
                    q = rnd.randint(1, 12)
                    f.write(f"{y}-{m + 1:02}-{d:02},{names[rnd.randrange(PRODUCTS)]},{q},1.25,{q * 1.25:.2f},Pantry\n")
            size_mb = os.path.getsize(csv) / 1e6
            before = rss_mb(server.pid)
            start = time.monotonic()
            status, body = c.upload(csv, urllib.parse.urlencode({"organization": org, "name": "history.csv"}))
            elapsed = time.monotonic() - start
            peak = peak_rss_mb(server.pid)
            if status != 200 or body.get("rows_imported") != ROWS:
                print(f"import failed: {status} {body}", file=sys.stderr)
                log.flush()
                print(open(log.name).read()[-4000:], file=sys.stderr)
                sys.exit(1)
            label = "SQLite" if kind == "sqlite" else "PostgreSQL"
            print(f"| {label} | {ROWS:,} | {size_mb:.0f} MB | {elapsed:.1f} s | {ROWS / elapsed:,.0f} | {before:.0f} MB | {peak:.0f} MB |")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
