//! Larder's side of `bench/forecast.sh`: the same rolling origins, scores
//! and timings as `bench/forecast_reference.py` (statsforecast), for
//! [`forecast::run`] (automatic model choice, conformal intervals).
//!
//! ```text
//! cargo run --release -p forecast --example compare -- CSV \
//!     --horizon 28 --season 7 --windows 3 --step 7 [--threads 2]
//! ```
//!
//! CSV: `unique_id,ds,y`, every series the same length with no gaps. For
//! each series and each origin `len - H - k*S` (k in 0..W, as statsforecast's
//! `cross_validation`), `run` sees only the history before the origin (and
//! does its own inner backtest on it) and is scored on the next H values:
//! MASE = MAE / in-sample MAE of the seasonal naive (lag m) on that history,
//! averaged over a series' origins, then mean and median over series;
//! coverage = share of all values inside [lo, hi]; width95 = mean
//! (hi95 − lo95) / scale. Then `run` on every full series, timed. Both
//! passes use `--threads` threads pulling series from a shared counter.
//! Prints one JSON object on stdout; `--per-series FILE` also writes each
//! origin's chosen model and MASE as CSV. Refusals, panics and non-finite
//! numbers are counted and named (first ten), never fatal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use forecast::{run, Forecast, Settings};

struct Series {
    id: String,
    y: Vec<f64>,
}

/// What one call of `run` gave.
enum Outcome {
    Done(Forecast),
    Refused(String),
    Panicked(String),
}

fn call(y: &[f64], settings: &Settings) -> Outcome {
    let censored = vec![false; y.len()];
    match catch_unwind(AssertUnwindSafe(|| run(y, &censored, settings))) {
        Ok(Ok(f)) => Outcome::Done(f),
        Ok(Err(r)) => Outcome::Refused(r.to_string()),
        Err(p) => Outcome::Panicked(
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into()),
        ),
    }
}

fn read_csv(path: &str) -> Vec<Series> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut rows: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    let mut order = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split(',');
        let (Some(id), Some(ds), Some(y)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("{path}:{}: expected unique_id,ds,y", i + 1);
        };
        let y: f64 = y.trim().parse().unwrap_or(f64::NAN);
        if !rows.contains_key(id) {
            order.push(id.to_string());
        }
        rows.entry(id.to_string())
            .or_default()
            .push((ds.to_string(), y));
    }
    order
        .into_iter()
        .map(|id| {
            let mut r = rows.remove(&id).unwrap();
            r.sort_by(|a, b| a.0.cmp(&b.0)); // ISO dates sort as text
            Series {
                id,
                y: r.into_iter().map(|(_, y)| y).collect(),
            }
        })
        .collect()
}

fn seasonal_scale(history: &[f64], m: usize) -> f64 {
    if history.len() <= m {
        return f64::NAN;
    }
    let n = history.len() - m;
    (m..history.len())
        .map(|t| (history[t] - history[t - m]).abs())
        .sum::<f64>()
        / n as f64
}

/// Runs `job` on every index in 0..n with `threads` threads.
fn parallel<T: Send>(n: usize, threads: usize, job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = job(i);
                out.lock().unwrap()[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

fn json_list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().take(10).map(|s| json_str(s)).collect();
    format!("[{}]", v.join(", "))
}

fn json_counts(m: &BTreeMap<String, usize>) -> String {
    let v: Vec<String> = m
        .iter()
        .map(|(k, c)| format!("{}: {c}", json_str(k)))
        .collect();
    format!("{{{}}}", v.join(", "))
}

fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

fn median(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: Option<usize>| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: not a number")))
            .or(default)
            .unwrap_or_else(|| panic!("{name} is required"))
    };
    let csv = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .expect("usage: compare CSV --horizon H --season M --windows W --step S [--threads T]");
    let (h, m, w, s) = (
        flag("--horizon", None),
        flag("--season", None),
        flag("--windows", None),
        flag("--step", None),
    );
    let threads = flag("--threads", Some(2));
    let settings = Settings {
        horizon: h,
        season: m,
        windows: w,
        step: s,
    };
    let series = read_csv(csv);
    let n = series.len();

    // Rolling origins, as statsforecast's cross_validation.
    struct Scored {
        mase: Vec<f64>,
        inside80: usize,
        inside95: usize,
        total: usize,
        widths: Vec<f64>,
        zero_scale: usize,
        chosen: Vec<String>,
        refused: Vec<String>,
        panicked: Vec<String>,
        nonfinite: Vec<String>,
        failures: Vec<String>,
        /// Per origin: origin, chosen model, MASE (NaN when unscored).
        origins: Vec<(usize, String, f64)>,
    }
    let t0 = Instant::now();
    let scored = parallel(n, threads, |i| {
        let sr = &series[i];
        let len = sr.y.len();
        let mut out = Scored {
            mase: vec![],
            inside80: 0,
            inside95: 0,
            total: 0,
            widths: vec![],
            zero_scale: 0,
            chosen: vec![],
            refused: vec![],
            panicked: vec![],
            nonfinite: vec![],
            failures: vec![],
            origins: vec![],
        };
        for k in 0..w {
            let Some(origin) = len.checked_sub(h + k * s) else {
                continue;
            };
            let at = format!("{}@{origin}", sr.id);
            let history = &sr.y[..origin];
            let f = match call(history, &settings) {
                Outcome::Done(f) => f,
                Outcome::Refused(r) => {
                    out.refused.push(format!("{at}: {r}"));
                    continue;
                }
                Outcome::Panicked(p) => {
                    out.panicked.push(format!("{at}: {p}"));
                    continue;
                }
            };
            for c in &f.candidates {
                if let Some(why) = &c.failure {
                    out.failures.push(format!("{}: {why}", c.model.code()));
                }
            }
            out.chosen.push(f.model.code().to_string());
            out.origins
                .push((origin, f.model.code().to_string(), f64::NAN));
            let actual = &sr.y[origin..origin + h];
            let ok = f.points.len() == h
                && f.points.iter().all(|p| {
                    [p.mean, p.lo80, p.hi80, p.lo95, p.hi95]
                        .iter()
                        .all(|v| v.is_finite())
                });
            if !ok {
                out.nonfinite.push(format!(
                    "{at}: {} points, model {}",
                    f.points.len(),
                    f.model.code()
                ));
                continue;
            }
            for (p, y) in f.points.iter().zip(actual) {
                out.inside80 += (p.lo80 <= *y && *y <= p.hi80) as usize;
                out.inside95 += (p.lo95 <= *y && *y <= p.hi95) as usize;
                out.total += 1;
            }
            let scale = seasonal_scale(history, m);
            if scale.is_nan() || scale <= 0.0 {
                out.zero_scale += 1;
                continue;
            }
            let mae = f
                .points
                .iter()
                .zip(actual)
                .map(|(p, y)| (y - p.mean).abs())
                .sum::<f64>()
                / h as f64;
            out.mase.push(mae / scale);
            if let Some(last) = out.origins.last_mut() {
                last.2 = mae / scale;
            }
            out.widths
                .push(f.points.iter().map(|p| p.hi95 - p.lo95).sum::<f64>() / h as f64 / scale);
        }
        out
    });
    let cv_seconds = t0.elapsed().as_secs_f64();

    // The plain run on every full series.
    let t0 = Instant::now();
    let full = parallel(n, threads, |i| match call(&series[i].y, &settings) {
        Outcome::Done(f) => {
            let bad = f.points.iter().any(|p| {
                ![p.mean, p.lo80, p.hi80, p.lo95, p.hi95]
                    .iter()
                    .all(|v| v.is_finite())
            });
            Ok((f.model.code().to_string(), bad))
        }
        Outcome::Refused(r) => Err(format!("{}: refused: {r}", series[i].id)),
        Outcome::Panicked(p) => Err(format!("{}: panicked: {p}", series[i].id)),
    });
    let forecast_seconds = t0.elapsed().as_secs_f64();

    let per_series: Vec<f64> = scored.iter().filter_map(|o| mean(&o.mase)).collect();
    let (inside80, inside95, total) = scored.iter().fold((0, 0, 0), |a, o| {
        (a.0 + o.inside80, a.1 + o.inside95, a.2 + o.total)
    });
    let widths: Vec<f64> = scored
        .iter()
        .flat_map(|o| o.widths.iter().copied())
        .collect();
    let gather = |f: fn(&Scored) -> &Vec<String>| -> Vec<String> {
        scored.iter().flat_map(|o| f(o).iter().cloned()).collect()
    };
    let mut chosen_cv = BTreeMap::new();
    for c in gather(|o| &o.chosen) {
        *chosen_cv.entry(c).or_insert(0usize) += 1;
    }
    let mut failures = BTreeMap::new();
    for c in gather(|o| &o.failures) {
        *failures.entry(c).or_insert(0usize) += 1;
    }
    let mut chosen_full = BTreeMap::new();
    let mut full_errors = Vec::new();
    let mut full_nonfinite = 0;
    for r in &full {
        match r {
            Ok((code, bad)) => {
                *chosen_full.entry(code.clone()).or_insert(0usize) += 1;
                full_nonfinite += *bad as usize;
            }
            Err(e) => full_errors.push(e.clone()),
        }
    }
    let (refused, panicked, nonfinite) = (
        gather(|o| &o.refused),
        gather(|o| &o.panicked),
        gather(|o| &o.nonfinite),
    );
    let ratio = |a: usize| (total > 0).then(|| a as f64 / total as f64);

    if let Some(path) = args
        .iter()
        .position(|a| a == "--per-series")
        .and_then(|i| args.get(i + 1))
    {
        let mut t = String::from("unique_id,origin,model,mase\n");
        for (sr, sc) in series.iter().zip(&scored) {
            for (origin, model, mase) in &sc.origins {
                let _ = writeln!(t, "{},{origin},{model},{mase}", sr.id);
            }
        }
        std::fs::write(path, t).unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    let mut o = String::new();
    let _ = writeln!(o, "{{");
    let _ = writeln!(
        o,
        " \"side\": \"larder\", \"csv\": {}, \"series\": {n},",
        json_str(csv)
    );
    let _ = writeln!(
        o,
        " \"params\": {{\"horizon\": {h}, \"season\": {m}, \"windows\": {w}, \"step\": {s}, \"jobs\": {threads}}},"
    );
    let _ = writeln!(o, " \"models\": {{\"Larder auto\": {{");
    let _ = writeln!(
        o,
        "  \"mase\": {}, \"mase_median\": {},",
        json_num(mean(&per_series)),
        json_num(median(&per_series))
    );
    let _ = writeln!(
        o,
        "  \"coverage80\": {}, \"coverage95\": {},",
        json_num(ratio(inside80)),
        json_num(ratio(inside95))
    );
    let _ = writeln!(
        o,
        "  \"width95\": {}, \"scored_series\": {},",
        json_num(mean(&widths)),
        per_series.len()
    );
    let _ = writeln!(
        o,
        "  \"zero_scale_origins\": {},",
        scored.iter().map(|o| o.zero_scale).sum::<usize>()
    );
    let _ = writeln!(
        o,
        "  \"cv_seconds\": {cv_seconds}, \"forecast_seconds\": {forecast_seconds},"
    );
    // Only series that got a forecast count; none when every one was refused.
    let done = full.iter().filter(|r| r.is_ok()).count();
    let _ = writeln!(
        o,
        "  \"series_per_s\": {},",
        json_num((done > 0).then(|| done as f64 / forecast_seconds))
    );
    let _ = writeln!(
        o,
        "  \"chosen_cv\": {}, \"chosen_full\": {},",
        json_counts(&chosen_cv),
        json_counts(&chosen_full)
    );
    let _ = writeln!(o, "  \"candidate_failures\": {},", json_counts(&failures));
    let _ = writeln!(
        o,
        "  \"refused_count\": {}, \"refused\": {},",
        refused.len(),
        json_list(&refused)
    );
    let _ = writeln!(
        o,
        "  \"panicked_count\": {}, \"panicked\": {},",
        panicked.len(),
        json_list(&panicked)
    );
    let _ = writeln!(
        o,
        "  \"nonfinite_count\": {}, \"nonfinite\": {},",
        nonfinite.len(),
        json_list(&nonfinite)
    );
    let _ = writeln!(o, "  \"forecast_nonfinite\": {full_nonfinite},");
    let _ = writeln!(
        o,
        "  \"forecast_errors_count\": {}, \"forecast_errors\": {}",
        full_errors.len(),
        json_list(&full_errors)
    );
    let _ = writeln!(o, " }}}}");
    let _ = writeln!(o, "}}");
    print!("{o}");
}
