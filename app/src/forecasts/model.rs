//! What the forecasting pages and the API show.

use serde::{Deserialize, Serialize};

use crate::catalog::model::Unit;
use crate::ids::ProductId;
use crate::inventory::model::PantryHeader;

/// A pantry's replenishment settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSettings {
    /// Days forecast ahead.
    pub horizon_days: i64,
    /// Days from ordering to stock on the shelf.
    pub lead_time_days: i64,
    /// Days between two looks at what to order.
    pub review_days: i64,
    /// The chance of not running out during a lead time, in percent.
    pub service_level_percent: f64,
}

impl Default for ForecastSettings {
    fn default() -> Self {
        Self {
            horizon_days: 28,
            lead_time_days: 7,
            review_days: 7,
            service_level_percent: 95.0,
        }
    }
}

/// One run of the forecaster for a pantry: its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub id: String,
    /// queued, running, done or failed.
    pub status: String,
    /// requested, scheduled or import.
    pub reason: String,
    pub products_total: i64,
    pub products_done: i64,
    /// When it was asked for, in the pantry's time zone.
    pub created: String,
    pub finished: Option<String>,
    pub message: Option<String>,
}

impl RunStatus {
    pub fn is_open(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }

    /// Done so far, 0–100.
    pub fn percent(&self) -> f64 {
        if self.products_total > 0 {
            100.0 * self.products_done as f64 / self.products_total as f64
        } else if self.status == "done" {
            100.0
        } else {
            0.0
        }
    }
}

/// One forecast day, in the product's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForecastDay {
    /// Days after the first forecast day.
    pub offset: i64,
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    pub lo95: f64,
    pub hi95: f64,
}

/// One day of demand history, in the product's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryDay {
    pub day: String,
    pub quantity: f64,
    /// The product was out of stock at the end of the day: what went out
    /// was all there was.
    pub out_of_stock: bool,
}

/// How a model did in the backtest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Accuracy {
    pub mae: f64,
    pub rmse: f64,
    pub mase: Option<f64>,
    /// Forecast − actual on average: positive forecasts too much.
    pub bias: f64,
    /// Share of actual days inside the 80% and 95% intervals.
    pub coverage80: Option<f64>,
    pub coverage95: Option<f64>,
    pub windows: i64,
}

/// A model the forecaster tried for a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelTried {
    pub model: String,
    pub label: String,
    pub chosen: bool,
    pub accuracy: Option<Accuracy>,
    pub failure: Option<String>,
}

/// What to order of one product, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    /// Quantities in the product's unit (items, kg, l or lb).
    pub on_hand: f64,
    /// On hand that will pass its date before it is used.
    pub expiring: f64,
    pub on_order: f64,
    pub weekly_use: f64,
    pub safety_stock: f64,
    pub reorder_point: f64,
    pub max_stock: f64,
    /// Whole units; zero when nothing needs ordering this review period.
    pub order_quantity: f64,
    /// ISO date to order by, when an order is due this review period.
    pub order_by: Option<String>,
    /// The same, as people say it: "today", "Tuesday", "Thu 10 Dec".
    pub order_by_label: Option<String>,
    /// The day the usable stock runs out at the forecast demand, if soon.
    pub runs_out: Option<String>,
    pub runs_out_label: Option<String>,
    /// The usable stock runs out before an order placed today could arrive.
    pub urgent: bool,
    /// One plain-language line: what, how much, by when and why.
    pub reason: String,
}

/// A product's forecast at a pantry, with its history and what to order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductForecast {
    pub pantry: PantryHeader,
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    /// ok, not_enough_history, or none (never forecast).
    pub status: String,
    /// Said when there is no forecast: why.
    pub message: Option<String>,
    pub generated: Option<String>,
    /// ISO date of the first forecast day.
    pub first_day: Option<String>,
    pub model: Option<String>,
    pub model_label: Option<String>,
    pub history_days: i64,
    pub out_of_stock_days: i64,
    pub accuracy: Option<Accuracy>,
    pub models: Vec<ModelTried>,
    /// The last weeks of demand (oldest first).
    pub history: Vec<HistoryDay>,
    pub points: Vec<ForecastDay>,
    pub recommendation: Option<Recommendation>,
    pub settings: ForecastSettings,
    pub can_generate: bool,
}

/// One product in the forecast summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    pub status: String,
    pub message: Option<String>,
    pub model_label: Option<String>,
    /// Forecast demand over the horizon, with its 95% interval (the sum of
    /// the daily bounds: a wide, safe band).
    pub horizon_total: f64,
    pub accuracy: Option<Accuracy>,
    /// The last four weeks of demand and the forecast, for the row's chart.
    pub history: Vec<HistoryDay>,
    pub points: Vec<ForecastDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastSummary {
    pub pantry: PantryHeader,
    pub settings: ForecastSettings,
    pub run: Option<RunStatus>,
    pub rows: Vec<SummaryRow>,
    pub can_generate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendationReport {
    pub pantry: PantryHeader,
    pub settings: ForecastSettings,
    pub run: Option<RunStatus>,
    /// Products to order, most urgent first.
    pub order: Vec<Recommendation>,
    /// Products with enough for this review period.
    pub enough: Vec<Recommendation>,
    /// Products without a forecast yet, and why.
    pub without: Vec<(String, String)>,
    pub can_generate: bool,
}

/// A product's forecast over a campus or an organization: the summed
/// demand of its pantries, forecast when asked (not stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeForecast {
    /// `campus:<id>` or `organization:<id>`.
    pub scope: String,
    pub label: String,
    pub product_id: ProductId,
    pub product_name: String,
    pub unit: Unit,
    /// The pantries whose demand is summed.
    pub pantries: i64,
    /// ok or not_enough_history.
    pub status: String,
    pub message: Option<String>,
    pub model: Option<String>,
    pub model_label: Option<String>,
    pub history_days: i64,
    pub out_of_stock_days: i64,
    pub accuracy: Option<Accuracy>,
    pub models: Vec<ModelTried>,
    pub history: Vec<HistoryDay>,
    pub points: Vec<ForecastDay>,
}

/// A quantity in the product's unit, as people say it.
pub fn amount(unit: Unit, v: f64) -> String {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    let number = match unit {
        Unit::Each | Unit::Pack if v >= 10.0 => format!("{v:.0}"),
        Unit::Each | Unit::Pack => trim(format!("{v:.1}")),
        _ if v >= 100.0 => format!("{v:.0}"),
        _ => trim(format!("{v:.1}")),
    };
    match unit {
        Unit::Each => number,
        Unit::Pack => format!("{number} pack"),
        other => format!("{number} {}", other.as_str()),
    }
}

fn trim(s: String) -> String {
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}
