//! Where `forecast::run` spends its time: each model's `predict` timed on
//! every series of a `unique_id,ds,y` CSV, at the three backtest origins
//! and the full history, as `run` calls it.
//!
//! ```text
//! cargo run --release -p forecast --example model_timing -- CSV
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use forecast::{Model, Settings};

fn main() {
    let path = std::env::args().nth(1).expect("usage: model_timing CSV");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut p = line.split(',');
        let (Some(id), Some(_), Some(y)) = (p.next(), p.next(), p.next()) else {
            continue;
        };
        series
            .entry(id.to_string())
            .or_default()
            .push(y.trim().parse().unwrap_or(0.0));
    }
    let s = Settings::default();
    let mut total: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    let t_all = Instant::now();
    for y in series.values() {
        let n = y.len();
        let origins = [n - 28 - 14, n - 28 - 7, n - 28];
        for model in Model::ALL {
            if !model.fits(&y[..origins[0]], s.season) {
                continue;
            }
            let t = Instant::now();
            for o in origins {
                let _ = model.predict(&y[..o], 28, s.season);
            }
            let _ = model.predict(y, 28, s.season);
            let e = total.entry(model.code()).or_default();
            e.0 += t.elapsed().as_secs_f64();
            e.1 += 1;
        }
    }
    let all = t_all.elapsed().as_secs_f64();
    println!("{} series, {all:.2} s in all", series.len());
    for (m, (secs, count)) in &total {
        println!(
            "{m:>24}: {secs:7.3} s over {count:3} series ({:5.1}%), {:.2} ms per series",
            100.0 * secs / all,
            1000.0 * secs / *count as f64
        );
    }
}
