#!/usr/bin/env python3
"""statsforecast's side of bench/forecast.sh.

    forecast_reference.py CSV --horizon H --season M --windows W --step S
                          [--freq D] [--jobs 2] [--models A,B,...]
                          [--per-series OUT.csv]

CSV has the columns unique_id, ds, y; every series the same length with no
gaps. For each model, separately:

- cross_validation(h=H, n_windows=W, step_size=S, level=[80, 95]): the
  origins are len - H - k*S for k in 0..W, and each is scored on the next H
  values. Models without intervals of their own get
  ConformalIntervals(h=H, n_windows=W).
- MASE of one (series, origin): mean |y - forecast| over the H values, over
  the in-sample mean |y_t - y_{t-M}| of the history before the origin (the
  seasonal naive's MAE). Per series, the mean over its origins; reported: the
  mean and the median over series. An origin whose scale is 0 is skipped and
  counted.
- coverage80 / coverage95: share of all (series, origin, step) values that fall
  within [lo, hi] (bounds included). width95: mean of (hi95 - lo95) / scale.
- time: the whole cross-validation, and a plain forecast(h=H, level=[80, 95])
  on the full series, both with n_jobs=JOBS, after one untimed warm-up call
  of each on two series (statsforecast 2.x has no numba JIT any more, but the
  first call still pays for imports and pool start-up).

Prints one JSON object on stdout.
"""
import argparse
import json
import math
import sys
import time
import warnings

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import (ADIDA, IMAPA, MSTL, TSB, AutoETS, CrostonClassic,
                                  CrostonOptimized, CrostonSBA, HistoricAverage, Naive,
                                  SeasonalNaive, WindowAverage)
from statsforecast.utils import ConformalIntervals

LEVELS = [80, 95]


def model_table(h, m, w):
    ci = lambda: ConformalIntervals(h=h, n_windows=w)  # noqa: E731
    return {
        "AutoETS": lambda: AutoETS(season_length=m),
        "MSTL": lambda: MSTL(season_length=m),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=m),
        "Naive": lambda: Naive(),
        "HistoricAverage": lambda: HistoricAverage(),
        "WindowAverage": lambda: WindowAverage(window_size=4 * m if m <= 13 else m,
                                               prediction_intervals=ci()),
        "CrostonClassic": lambda: CrostonClassic(prediction_intervals=ci()),
        "CrostonSBA": lambda: CrostonSBA(prediction_intervals=ci()),
        "CrostonOptimized": lambda: CrostonOptimized(prediction_intervals=ci()),
        "TSB": lambda: TSB(alpha_d=0.1, alpha_p=0.1, prediction_intervals=ci()),
        "ADIDA": lambda: ADIDA(prediction_intervals=ci()),
        "IMAPA": lambda: IMAPA(prediction_intervals=ci()),
    }


def seasonal_scale(history, m):
    if len(history) <= m:
        return float("nan")
    return float(np.mean(np.abs(history[m:] - history[:-m])))


def score(cv, series, name, m, rows=None):
    """MASE, coverage and scaled width of one model's cross-validation frame;
    appends (model, unique_id, origin, MASE) to `rows` when given."""
    per_series = {}
    inside80 = inside95 = total = 0
    widths = []
    skipped = 0
    nonfinite = []
    for (uid, cutoff), g in cv.groupby(["unique_id", "cutoff"], sort=False):
        ds, y_all = series[uid]
        origin = int(np.searchsorted(ds, np.datetime64(cutoff))) + 1
        scale = seasonal_scale(y_all[:origin], m)
        y = g["y"].to_numpy(float)
        f = g[name].to_numpy(float)
        lo80, hi80 = g[f"{name}-lo-80"].to_numpy(float), g[f"{name}-hi-80"].to_numpy(float)
        lo95, hi95 = g[f"{name}-lo-95"].to_numpy(float), g[f"{name}-hi-95"].to_numpy(float)
        if not all(np.isfinite(a).all() for a in (f, lo80, hi80, lo95, hi95)):
            nonfinite.append(f"{uid}@{pd.Timestamp(cutoff).date()}")
            continue
        inside80 += int(((lo80 <= y) & (y <= hi80)).sum())
        inside95 += int(((lo95 <= y) & (y <= hi95)).sum())
        total += len(y)
        if not scale > 0:
            skipped += 1
            continue
        per_series.setdefault(uid, []).append(float(np.mean(np.abs(y - f))) / scale)
        if rows is not None:
            rows.append((name, uid, origin, per_series[uid][-1]))
        widths.append(float(np.mean(hi95 - lo95)) / scale)
    mase = [float(np.mean(v)) for v in per_series.values()]
    return {
        "mase": float(np.mean(mase)) if mase else None,
        "mase_median": float(np.median(mase)) if mase else None,
        "coverage80": inside80 / total if total else None,
        "coverage95": inside95 / total if total else None,
        "width95": float(np.mean(widths)) if widths else None,
        "scored_series": len(mase),
        "zero_scale_origins": skipped,
        "nonfinite": nonfinite[:10],
        "nonfinite_count": len(nonfinite),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("csv")
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--season", type=int, required=True)
    p.add_argument("--windows", type=int, required=True)
    p.add_argument("--step", type=int, required=True)
    p.add_argument("--freq", default="D")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--models", default="")
    p.add_argument("--per-series", default="", help="write each origin's MASE per model as CSV")
    a = p.parse_args()
    warnings.filterwarnings("ignore")

    df = pd.read_csv(a.csv, parse_dates=["ds"])
    df = df.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    series = {uid: (g["ds"].to_numpy("datetime64[ns]"), g["y"].to_numpy(float))
              for uid, g in df.groupby("unique_id", sort=False)}
    n = len(series)
    table = model_table(a.horizon, a.season, a.windows)
    names = [x for x in a.models.split(",") if x] or list(table)
    warm = df[df["unique_id"].isin(list(series)[:2])]

    out = {"side": "statsforecast", "csv": a.csv, "series": n,
           "params": {"horizon": a.horizon, "season": a.season, "windows": a.windows,
                      "step": a.step, "jobs": a.jobs},
           "models": {}}
    import statsforecast
    out["version"] = statsforecast.__version__
    rows = [] if a.per_series else None
    for name in names:
        res = {}
        try:
            sf = lambda: StatsForecast(models=[table[name]()], freq=a.freq,  # noqa: E731
                                       n_jobs=a.jobs)
            sf().cross_validation(h=a.horizon, df=warm, n_windows=a.windows,
                                  step_size=a.step, level=LEVELS)
            t0 = time.perf_counter()
            cv = sf().cross_validation(h=a.horizon, df=df, n_windows=a.windows,
                                       step_size=a.step, level=LEVELS)
            res["cv_seconds"] = time.perf_counter() - t0
            res.update(score(cv, series, name, a.season, rows))
            sf().forecast(h=a.horizon, df=warm, level=LEVELS)
            t0 = time.perf_counter()
            fc = sf().forecast(h=a.horizon, df=df, level=LEVELS)
            res["forecast_seconds"] = time.perf_counter() - t0
            res["series_per_s"] = n / res["forecast_seconds"]
            res["forecast_nonfinite"] = int((~np.isfinite(fc[[name, f"{name}-lo-95",
                                                              f"{name}-hi-95"]]
                                                          .to_numpy(float))).any(axis=1).sum())
        except Exception as e:  # a model that fails is reported, not fatal
            res["error"] = f"{type(e).__name__}: {e}"[:300]
        out["models"][name] = res
        print(f"  statsforecast {name}: "
              + (res.get("error") or f"MASE {res['mase']:.3f} cov80 {res['coverage80']:.3f} "
                 f"cov95 {res['coverage95']:.3f} cv {res['cv_seconds']:.1f}s"),
              file=sys.stderr)
    if rows is not None:
        pd.DataFrame(rows, columns=["model", "unique_id", "origin", "mase"]).to_csv(a.per_series,
                                                                                   index=False)
    json.dump(out, sys.stdout, indent=1,
              default=lambda x: None if isinstance(x, float) and math.isnan(x) else x)
    print()


if __name__ == "__main__":
    main()
