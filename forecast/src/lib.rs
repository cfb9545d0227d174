//! Demand forecasts for one series of daily demand.
//!
//! [`run`] takes a product's daily demand (oldest first, up to yesterday)
//! and which of those days it was out of stock, and returns point forecasts
//! with 80% and 95% prediction intervals, the model it chose and how that
//! model did when it was tried on the past:
//!
//! 1. Out-of-stock days are censored: what went out was all there was, so
//!    they are filled in with the weekday's usual demand (never less than
//!    what went out) for fitting, and left out when errors are counted.
//! 2. Every model that suits the history is tried by rolling-origin
//!    backtesting: fitted on the history before an origin, scored on the
//!    days after it, for several origins a step apart (as statsforecast's
//!    `cross_validation`).
//! 3. The model with the smallest scaled error wins; the score adds the
//!    absolute bias to the mean absolute error, so a forecast of nothing
//!    never wins on occasional demand by being right on the zero days. The
//!    average of the three best is scored too, and wins when it is better.
//! 4. Intervals are conformal: quantiles of the winner's backtest errors,
//!    which makes no assumption about the shape of the demand. Their
//!    coverage is measured honestly, each window against intervals built
//!    from the other windows only.

mod models;
pub mod replenish;

use serde::{Deserialize, Serialize};

pub use models::{Model, ModelError, WEEK, YEAR};

/// What a run forecasts and how it tries the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Periods to forecast (days, for daily demand).
    pub horizon: usize,
    /// Periods in a season (7: a week of days).
    pub season: usize,
    /// Backtest windows (origins) to score each model on.
    pub windows: usize,
    /// Periods between two origins.
    pub step: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            horizon: 28,
            season: WEEK,
            windows: 3,
            step: WEEK,
        }
    }
}

impl Settings {
    /// The least history a forecast needs: two seasons to learn from and
    /// a season (or the horizon, if shorter) to test on.
    pub fn min_history(&self) -> usize {
        let season = self.season.max(1);
        2 * season + season.min(self.horizon.max(1))
    }
}

/// One forecast period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    pub lo95: f64,
    pub hi95: f64,
}

/// How a model did in the backtest. Errors are actual − forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    pub mae: f64,
    pub rmse: f64,
    /// MAE over the in-sample MAE of the seasonal naive forecast; `None`
    /// when that is zero (a constant history).
    pub mase: Option<f64>,
    /// Mean of forecast − actual: positive means it forecast too much.
    pub bias: f64,
    /// The share of actual values inside the 80% and 95% intervals; `None`
    /// with a single window (no other window to build intervals from).
    pub coverage80: Option<f64>,
    pub coverage95: Option<f64>,
    pub windows: usize,
    /// Periods scored (censored days are not).
    pub scored: usize,
}

/// A model that was tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub model: Model,
    /// `None` when it could not be fitted; `failure` says why.
    pub accuracy: Option<Accuracy>,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub model: Model,
    /// The models averaged, when `model` is [`Model::Combination`].
    pub members: Vec<Model>,
    pub points: Vec<Point>,
    pub accuracy: Accuracy,
    pub candidates: Vec<Candidate>,
    pub history: usize,
    pub censored: usize,
}

/// Why there is no forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// Not enough history (needs `needs` periods, has `has`).
    NotEnoughHistory { needs: usize, has: usize },
    /// A horizon, season or window count of zero.
    BadSettings,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotEnoughHistory { needs, has } => {
                write!(f, "not enough history (needs {needs} days, has {has})")
            }
            Refusal::BadSettings => f.write_str("horizon, season and windows must be at least 1"),
        }
    }
}

/// Forecasts one series. `censored[t]` says the product was out of stock
/// on day `t`; a shorter `censored` counts the rest as in stock. Negative
/// or non-finite demand counts as none.
pub fn run(demand: &[f64], censored: &[bool], settings: &Settings) -> Result<Forecast, Refusal> {
    if settings.horizon == 0 || settings.season == 0 || settings.windows == 0 || settings.step == 0
    {
        return Err(Refusal::BadSettings);
    }
    let n = demand.len();
    if n < settings.min_history() {
        return Err(Refusal::NotEnoughHistory {
            needs: settings.min_history(),
            has: n,
        });
    }
    let actual: Vec<f64> = demand
        .iter()
        .map(|v| if v.is_finite() && *v > 0.0 { *v } else { 0.0 })
        .collect();
    let censored: Vec<bool> = (0..n)
        .map(|t| censored.get(t).copied().unwrap_or(false))
        .collect();
    let y = impute(&actual, &censored, settings.season);
    let plan = Backtest::plan(n, settings);
    let scale = seasonal_naive_mae(&y[..plan.origins[0]], settings.season);

    let mut candidates = Vec::new();
    // Each model that could be backtested: its forecasts per window.
    let mut tried: Vec<(Model, Vec<Vec<f64>>, Accuracy)> = Vec::new();
    for model in Model::ALL {
        if !model.fits(&y[..plan.origins[0]], settings.season) {
            continue;
        }
        match plan.forecasts(model, &y, settings.season) {
            Ok(means) => {
                let accuracy = accuracy(&plan.errors_of(&means, &actual, &censored), scale);
                candidates.push(Candidate {
                    model,
                    accuracy: Some(accuracy),
                    failure: None,
                });
                tried.push((model, means, accuracy));
            }
            Err(e) => candidates.push(Candidate {
                model,
                accuracy: None,
                failure: Some(format!("{e:?}")),
            }),
        }
    }
    // Best first; on a tie the simpler model (earlier in `Model::ALL`),
    // which a stable sort keeps first.
    tried.sort_by(|a, b| score(&a.2).total_cmp(&score(&b.2)));

    // Averaging a few good forecasts is usually better than the best of
    // them (the lesson of the M competitions), and costs nothing to try:
    // the members' backtest forecasts are at hand. It is chosen only when
    // it scores better than the best single model on the same windows.
    if tried.len() >= 3 {
        let members = &tried[..3];
        let means: Vec<Vec<f64>> = (0..plan.origins.len())
            .map(|w| {
                (0..plan.length)
                    .map(|h| members.iter().map(|m| m.1[w][h]).sum::<f64>() / 3.0)
                    .collect()
            })
            .collect();
        let errors = plan.errors_of(&means, &actual, &censored);
        let combined = accuracy(&errors, scale);
        candidates.push(Candidate {
            model: Model::Combination,
            accuracy: Some(combined),
            failure: None,
        });
        if score(&combined) < score(&tried[0].2) {
            let finals: Result<Vec<Vec<f64>>, _> = members
                .iter()
                .map(|m| m.0.predict(&y, settings.horizon, settings.season))
                .collect();
            if let Ok(finals) = finals {
                let means: Vec<f64> = (0..settings.horizon)
                    .map(|h| finals.iter().map(|f| f[h]).sum::<f64>() / 3.0)
                    .collect();
                return Ok(Forecast {
                    model: Model::Combination,
                    members: members.iter().map(|m| m.0).collect(),
                    points: with_intervals(&means, &errors),
                    accuracy: combined,
                    candidates,
                    history: n,
                    censored: censored.iter().filter(|c| **c).count(),
                });
            }
        }
    }
    for (model, window_means, accuracy) in tried {
        let Ok(means) = model.predict(&y, settings.horizon, settings.season) else {
            continue;
        };
        let errors = plan.errors_of(&window_means, &actual, &censored);
        return Ok(Forecast {
            model,
            members: Vec::new(),
            points: with_intervals(&means, &errors),
            accuracy,
            candidates,
            history: n,
            censored: censored.iter().filter(|c| **c).count(),
        });
    }
    // Unreachable in practice: the window average fits any history of a
    // season and more. Said rather than assumed.
    Err(Refusal::NotEnoughHistory {
        needs: settings.min_history(),
        has: n,
    })
}

/// Point forecasts with conformal bounds from the backtest errors, pooled.
fn with_intervals(means: &[f64], errors: &[Vec<f64>]) -> Vec<Point> {
    let pooled: Vec<f64> = errors.iter().flatten().copied().collect();
    let (lo80, hi80) = (quantile_low(&pooled, 0.8), quantile_high(&pooled, 0.8));
    let (lo95, hi95) = (quantile_low(&pooled, 0.95), quantile_high(&pooled, 0.95));
    means
        .iter()
        .map(|m| Point {
            mean: *m,
            lo80: m + lo80,
            hi80: m + hi80,
            lo95: m + lo95,
            hi95: m + hi95,
        })
        .map(tidy)
        .collect()
}

/// What selection minimises: scaled absolute error plus absolute bias.
fn score(a: &Accuracy) -> f64 {
    a.mae + a.bias.abs()
}

/// Bounds in order, none negative, none NaN.
fn tidy(p: Point) -> Point {
    let mean = p.mean.max(0.0);
    let lo80 = p.lo80.clamp(0.0, mean);
    let lo95 = p.lo95.clamp(0.0, lo80);
    let hi80 = p.hi80.max(mean);
    let hi95 = p.hi95.max(hi80);
    Point {
        mean,
        lo80,
        hi80,
        lo95,
        hi95,
    }
}

/// Censored days filled in with the mean uncensored demand of the same
/// phase of the season (the same weekday), or of all days when that phase
/// was never seen in stock; never below what went out that day.
fn impute(actual: &[f64], censored: &[bool], season: usize) -> Vec<f64> {
    if !censored.iter().any(|c| *c) {
        return actual.to_vec();
    }
    let mut sums = vec![(0.0, 0usize); season];
    let (mut all, mut count) = (0.0, 0usize);
    for (t, v) in actual.iter().enumerate() {
        if !censored[t] {
            sums[t % season].0 += v;
            sums[t % season].1 += 1;
            all += v;
            count += 1;
        }
    }
    let overall = if count > 0 { all / count as f64 } else { 0.0 };
    actual
        .iter()
        .enumerate()
        .map(|(t, v)| {
            if !censored[t] {
                return *v;
            }
            let (s, c) = sums[t % season];
            let usual = if c > 0 { s / c as f64 } else { overall };
            v.max(usual)
        })
        .collect()
}

/// In-sample MAE of the seasonal naive forecast (lag one season, or one
/// period when the history is shorter): the MASE denominator.
fn seasonal_naive_mae(y: &[f64], season: usize) -> f64 {
    let lag = if y.len() > season { season } else { 1 };
    if y.len() <= lag {
        return 0.0;
    }
    let n = y.len() - lag;
    (lag..y.len())
        .map(|t| (y[t] - y[t - lag]).abs())
        .sum::<f64>()
        / n as f64
}

/// Where the backtest windows start and how long each is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Backtest {
    /// Origins, earliest first.
    origins: Vec<usize>,
    length: usize,
}

impl Backtest {
    /// Windows as long as the horizon when the history allows, never
    /// leaving less than two seasons to fit on; as many as asked for that
    /// fit, and at least one.
    fn plan(n: usize, settings: &Settings) -> Backtest {
        let min_train = 2 * settings.season;
        let length = settings.horizon.min(n - min_train).max(1);
        let mut origins: Vec<usize> = (0..settings.windows)
            .map_while(|k| {
                let back = length + k * settings.step;
                (n >= back && n - back >= min_train).then(|| n - back)
            })
            .collect();
        if origins.is_empty() {
            origins.push(n - length);
        }
        origins.reverse();
        Backtest { origins, length }
    }

    /// The model's forecasts for each window.
    fn forecasts(
        &self,
        model: Model,
        y: &[f64],
        season: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        self.origins
            .iter()
            .map(|&origin| model.predict(&y[..origin], self.length, season))
            .collect()
    }

    /// Errors (actual − forecast) of forecasts per window, censored days
    /// left out.
    fn errors_of(&self, means: &[Vec<f64>], actual: &[f64], censored: &[bool]) -> Vec<Vec<f64>> {
        self.origins
            .iter()
            .zip(means)
            .map(|(&origin, means)| {
                (0..self.length)
                    .filter(|h| !censored[origin + h])
                    .map(|h| actual[origin + h] - means[h])
                    .collect()
            })
            .collect()
    }

    #[cfg(test)]
    fn errors(
        &self,
        model: Model,
        y: &[f64],
        actual: &[f64],
        censored: &[bool],
        season: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        Ok(self.errors_of(&self.forecasts(model, y, season)?, actual, censored))
    }
}

fn accuracy(errors: &[Vec<f64>], scale: f64) -> Accuracy {
    let all: Vec<f64> = errors.iter().flatten().copied().collect();
    let n = all.len().max(1) as f64;
    let mae = all.iter().map(|e| e.abs()).sum::<f64>() / n;
    let rmse = (all.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
    let bias = -all.iter().sum::<f64>() / n;
    let coverage = |level: f64| -> Option<f64> {
        if errors.len() < 2 {
            return None;
        }
        let (mut inside, mut total) = (0usize, 0usize);
        for (w, window) in errors.iter().enumerate() {
            let others: Vec<f64> = errors
                .iter()
                .enumerate()
                .filter(|(v, _)| *v != w)
                .flat_map(|(_, e)| e.iter().copied())
                .collect();
            let (lo, hi) = (quantile_low(&others, level), quantile_high(&others, level));
            for e in window {
                total += 1;
                // actual inside [mean + lo, mean + hi] ⇔ lo ≤ error ≤ hi
                if *e >= lo && *e <= hi {
                    inside += 1;
                }
            }
        }
        (total > 0).then(|| inside as f64 / total as f64)
    };
    Accuracy {
        mae,
        rmse,
        mase: (scale > 1e-12).then(|| mae / scale),
        bias,
        coverage80: coverage(0.8),
        coverage95: coverage(0.95),
        windows: errors.len(),
        scored: all.len(),
    }
}

/// The split-conformal upper bound for a central interval at `level`: the
/// ⌈(n+1)(1+level)/2⌉-th smallest error (the largest when there are too
/// few). Zero for no errors.
fn quantile_high(errors: &[f64], level: f64) -> f64 {
    let sorted = sorted(errors);
    if sorted.is_empty() {
        return 0.0;
    }
    let n = sorted.len();
    // Nudged so 0.9 × 20 is 18, not 18.000000000000004.
    let rank = (((n + 1) as f64) * (1.0 + level) / 2.0 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// The lower bound: the ⌊(n+1)(1−level)/2⌋-th smallest (the smallest when
/// there are too few).
fn quantile_low(errors: &[f64], level: f64) -> f64 {
    let sorted = sorted(errors);
    if sorted.is_empty() {
        return 0.0;
    }
    let n = sorted.len();
    let rank = (((n + 1) as f64) * (1.0 - level) / 2.0 + 1e-9).floor() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests;
