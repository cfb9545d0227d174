//! The models, each a function from a history to point forecasts.
//!
//! The simple ones are written here because they are a few lines each and
//! must match their published definitions exactly (they follow Nixtla's
//! statsforecast, whose values the tests compare against). Exponential
//! smoothing and the seasonal decomposition come from `augurs` (Grafana's
//! port of statsforecast's AutoETS and of MSTL).

use std::fmt;

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use augurs_mstl::MSTLModel;
use serde::{Deserialize, Serialize};

/// Days in a week and in a year, the seasons pantry demand has.
pub const WEEK: usize = 7;
pub const YEAR: usize = 365;

/// The smoothing constant statsforecast and Syntetos & Boylan use for
/// Croston's method.
const CROSTON_ALPHA: f64 = 0.1;

/// One forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Every day like the last.
    Naive,
    /// The same weekday last week.
    SeasonalNaive,
    /// The mean of the last four weeks (four seasons).
    WindowAverage,
    /// The mean of the same weekday over the last four weeks.
    SeasonalWindowAverage,
    /// Exponential smoothing, error and trend chosen by AICc (AutoETS),
    /// no season.
    Ets,
    /// The weekly season taken out by MSTL, the rest by AutoETS.
    MstlWeekly,
    /// Weekly and yearly seasons taken out by MSTL (two years of history
    /// and more), the rest by AutoETS.
    MstlYearly,
    /// Croston's method for intermittent demand.
    Croston,
    /// Croston's method with the Syntetos–Boylan bias correction.
    Sba,
    /// Teunter–Syntetos–Babai: demand size and the chance of demand,
    /// smoothed apart, so obsolescence shows.
    Tsb,
    /// The mean of the three best models' forecasts. Not fitted on its
    /// own: [`crate::run`] makes it from its members when it beats them.
    Combination,
}

impl Model {
    pub const ALL: [Model; 10] = [
        Model::Naive,
        Model::SeasonalNaive,
        Model::WindowAverage,
        Model::SeasonalWindowAverage,
        Model::Ets,
        Model::MstlWeekly,
        Model::MstlYearly,
        Model::Croston,
        Model::Sba,
        Model::Tsb,
    ];

    /// The stored name.
    pub fn code(self) -> &'static str {
        match self {
            Model::Naive => "naive",
            Model::SeasonalNaive => "seasonal_naive",
            Model::WindowAverage => "window_average",
            Model::SeasonalWindowAverage => "seasonal_window_average",
            Model::Ets => "ets",
            Model::MstlWeekly => "mstl_weekly",
            Model::MstlYearly => "mstl_yearly",
            Model::Croston => "croston",
            Model::Sba => "sba",
            Model::Tsb => "tsb",
            Model::Combination => "combination",
        }
    }

    pub fn from_code(code: &str) -> Option<Model> {
        Model::ALL
            .into_iter()
            .chain([Model::Combination])
            .find(|m| m.code() == code)
    }

    /// What people read.
    pub fn label(self) -> &'static str {
        match self {
            Model::Naive => "Same as the last day",
            Model::SeasonalNaive => "Same weekday last week",
            Model::WindowAverage => "Average of the last 4 weeks",
            Model::SeasonalWindowAverage => "Weekday average of the last 4 weeks",
            Model::Ets => "Exponential smoothing (AutoETS)",
            Model::MstlWeekly => "Weekly pattern + exponential smoothing (MSTL)",
            Model::MstlYearly => "Weekly and yearly pattern + exponential smoothing (MSTL)",
            Model::Croston => "Croston (occasional demand)",
            Model::Sba => "Croston–SBA (occasional demand)",
            Model::Tsb => "TSB (occasional, fading demand)",
            Model::Combination => "Average of the three best models",
        }
    }

    /// The fewest days (periods) of history the model can be fitted on,
    /// for a season of `season` periods (7 for daily demand).
    pub fn min_history(self, season: usize) -> usize {
        match self {
            Model::Naive => 1,
            Model::SeasonalNaive => season,
            Model::WindowAverage => season,
            Model::SeasonalWindowAverage => 2 * season,
            // AutoETS refuses fewer than npars + 5 points; with a damped
            // trend that is 10.
            Model::Ets => 14,
            Model::MstlWeekly => 3 * season,
            // Yearly patterns only for daily demand, with two years of it.
            Model::MstlYearly if season == WEEK => 2 * YEAR + WEEK,
            Model::MstlYearly => usize::MAX,
            Model::Croston | Model::Sba | Model::Tsb => season,
            Model::Combination => usize::MAX,
        }
    }

    /// Whether the model is worth trying on this history: the
    /// occasional-demand models only where many days have no demand.
    pub fn fits(self, y: &[f64], season: usize) -> bool {
        if y.len() < self.min_history(season) {
            return false;
        }
        let nonzero = y.iter().filter(|v| **v > 0.0).count();
        // Average demand interval above 1.32 days: Syntetos et al.'s
        // cut-off between smooth and intermittent demand.
        let intermittent = nonzero > 0 && y.len() as f64 / nonzero as f64 > 1.32;
        match self {
            // At least two demands to measure an interval.
            Model::Croston | Model::Sba | Model::Tsb => intermittent && nonzero >= 2,
            // On occasional demand the last day is a lottery: one large
            // order repeated for a month (the benchmark found exactly that).
            Model::Naive => !intermittent,
            _ => true,
        }
    }

    /// Point forecasts for the next `horizon` periods. A panic inside a
    /// fitting library is caught and reported as a failed fit, so one odd
    /// series cannot take a whole run down.
    pub fn predict(self, y: &[f64], horizon: usize, season: usize) -> Result<Vec<f64>, ModelError> {
        if season == 0 || y.len() < self.min_history(season) {
            return Err(ModelError::TooShort);
        }
        std::panic::catch_unwind(|| self.predict_unchecked(y, horizon, season))
            .unwrap_or_else(|_| Err(ModelError::Fit("the model's fitting code panicked".into())))
    }

    fn predict_unchecked(
        self,
        y: &[f64],
        horizon: usize,
        season: usize,
    ) -> Result<Vec<f64>, ModelError> {
        let out = match self {
            Model::Naive => vec![y[y.len() - 1]; horizon],
            Model::SeasonalNaive => seasonal_window_average(y, horizon, season, 1),
            Model::WindowAverage => {
                let k = y.len().min(4 * season);
                vec![mean(&y[y.len() - k..]); horizon]
            }
            Model::SeasonalWindowAverage => {
                seasonal_window_average(y, horizon, season, (y.len() / season).min(4))
            }
            Model::Ets => ets(y, horizon)?,
            Model::MstlWeekly => mstl(y, horizon, vec![season])?,
            Model::MstlYearly => mstl(y, horizon, vec![WEEK, YEAR])?,
            Model::Croston => vec![croston(y, CROSTON_ALPHA); horizon],
            Model::Sba => vec![croston(y, CROSTON_ALPHA) * (1.0 - CROSTON_ALPHA / 2.0); horizon],
            Model::Tsb => vec![tsb_optimized(y); horizon],
            Model::Combination => return Err(ModelError::TooShort),
        };
        if out.len() != horizon || out.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NotFinite);
        }
        // Demand is never negative.
        Ok(out.into_iter().map(|v| v.max(0.0)).collect())
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a model gave no forecast; the caller tries the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    TooShort,
    /// The fit failed (e.g. the optimiser found nothing).
    Fit(String),
    /// The fit produced infinities or NaN.
    NotFinite,
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        0.0
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// The mean of the same phase over the last `seasons` seasons
/// (statsforecast's SeasonalWindowAverage; `seasons = 1` is SeasonalNaive).
fn seasonal_window_average(y: &[f64], horizon: usize, season: usize, seasons: usize) -> Vec<f64> {
    let n = y.len();
    let seasons = seasons.max(1);
    let start = n - season * seasons;
    let phase_means: Vec<f64> = (0..season)
        .map(|p| (0..seasons).map(|k| y[start + k * season + p]).sum::<f64>() / seasons as f64)
        .collect();
    (0..horizon).map(|h| phase_means[h % season]).collect()
}

/// Simple exponential smoothing as statsforecast writes it: the level
/// starts at the first value, and the forecast is the level after the last.
pub(crate) fn ses(x: &[f64], alpha: f64) -> f64 {
    let mut level = x[0];
    for v in &x[1..] {
        level = alpha * v + (1.0 - alpha) * level;
    }
    level
}

/// Croston's method: smoothed demand size over smoothed interval between
/// demands (intervals counted from the day before the first day).
pub(crate) fn croston(y: &[f64], alpha: f64) -> f64 {
    let mut sizes = Vec::new();
    let mut intervals = Vec::new();
    let mut last = 0usize;
    for (i, v) in y.iter().enumerate() {
        if *v > 0.0 {
            sizes.push(*v);
            intervals.push((i + 1 - last) as f64);
            last = i + 1;
        }
    }
    if sizes.is_empty() {
        return 0.0;
    }
    let size = ses(&sizes, alpha);
    let interval = ses(&intervals, alpha);
    if interval > 0.0 {
        size / interval
    } else {
        size
    }
}

/// TSB with given smoothing constants: the chance of demand is smoothed
/// every day, the size only on days with demand.
pub(crate) fn tsb(y: &[f64], alpha_size: f64, alpha_chance: f64) -> f64 {
    let sizes: Vec<f64> = y.iter().copied().filter(|v| *v > 0.0).collect();
    if sizes.is_empty() {
        return 0.0;
    }
    let chance: Vec<f64> = y.iter().map(|v| if *v > 0.0 { 1.0 } else { 0.0 }).collect();
    ses(&chance, alpha_chance) * ses(&sizes, alpha_size)
}

/// TSB with its two constants chosen from a small grid by the in-sample
/// one-day-ahead squared error over the last year (the way the
/// literature fits them).
fn tsb_optimized(y: &[f64]) -> f64 {
    const GRID: [f64; 4] = [0.05, 0.1, 0.2, 0.3];
    let start = y.len().saturating_sub(YEAR).max(1);
    let mut best = (f64::INFINITY, 0.1, 0.1);
    for a in GRID {
        for b in GRID {
            // The recursions of `tsb`, run once: before day t they hold
            // what `tsb(&y[..t], a, b)` would return.
            let (mut chance, mut size): (Option<f64>, Option<f64>) = (None, None);
            let mut sse = 0.0;
            for (t, v) in y.iter().enumerate() {
                if t >= start {
                    let f = match (chance, size) {
                        (Some(p), Some(z)) => p * z,
                        _ => 0.0,
                    };
                    sse += (v - f) * (v - f);
                }
                let c = if *v > 0.0 { 1.0 } else { 0.0 };
                chance = Some(chance.map_or(c, |p| b * c + (1.0 - b) * p));
                if *v > 0.0 {
                    size = Some(size.map_or(*v, |z| a * v + (1.0 - a) * z));
                }
            }
            if sse < best.0 {
                best = (sse, a, b);
            }
        }
    }
    tsb(y, best.1, best.2)
}

fn ets(y: &[f64], horizon: usize) -> Result<Vec<f64>, ModelError> {
    let fitted = AutoETS::non_seasonal()
        .fit(y)
        .map_err(|e| ModelError::Fit(e.to_string()))?;
    let forecast = fitted
        .predict(horizon, None)
        .map_err(|e| ModelError::Fit(e.to_string()))?;
    Ok(forecast.point)
}

fn mstl(y: &[f64], horizon: usize, periods: Vec<usize>) -> Result<Vec<f64>, ModelError> {
    let model = MSTLModel::new(periods, AutoETS::non_seasonal().into_trend_model());
    let fitted = model.fit(y).map_err(|e| ModelError::Fit(e.to_string()))?;
    let forecast = fitted
        .predict(horizon, None)
        .map_err(|e| ModelError::Fit(e.to_string()))?;
    Ok(forecast.point)
}
