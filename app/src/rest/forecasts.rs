//! `/api/v1` for planning: a pantry's demand forecasts, asking for new
//! ones, and what it should order. The shapes here are flat and carry
//! dates, not the pages' view models (which hold offsets and labels).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;

use super::error::ErrorBody;
use super::v1::{path, ApiResult};
use crate::auth::service::caller_from_headers;
use crate::forecasts::model::{
    Accuracy, ForecastDay, HistoryDay, ModelTried, Recommendation, RunStatus,
};
use crate::ids::{PantryId, ProductId};
use crate::state::AppState;

/// What to order of one product, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecommendationOut {
    pub product_id: String,
    pub product_name: String,
    /// `each`, `pack`, `kg`, `lb` or `l`.
    pub unit: String,
    /// Quantities below are in the product's unit (items, kg, l or lb).
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
    /// The date to order by (`YYYY-MM-DD`), when an order is due this period.
    pub order_by: Option<String>,
    /// The day the usable stock runs out at the forecast demand, if soon.
    pub runs_out: Option<String>,
    /// The stock runs out before an order placed today could arrive.
    pub urgent: bool,
    /// One plain-language line: what, how much, by when and why.
    pub reason: String,
}

/// A product without a forecast yet, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unforecast {
    pub product_name: String,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Recommendations {
    pub pantry_id: String,
    pub pantry_name: String,
    /// Days an order takes to arrive, and between reviews (the pantry's
    /// forecast settings).
    pub lead_time_days: i64,
    pub review_days: i64,
    /// When the forecasts behind this were made, in the pantry's time zone;
    /// absent before the first run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_run: Option<String>,
    /// Products to order, most urgent first.
    pub order: Vec<RecommendationOut>,
    /// Products with enough for this review period.
    pub enough: Vec<RecommendationOut>,
    pub without_forecast: Vec<Unforecast>,
}

fn out(r: Recommendation) -> RecommendationOut {
    RecommendationOut {
        product_id: r.product_id.to_string(),
        product_name: r.product_name,
        unit: r.unit.as_str().into(),
        on_hand: r.on_hand,
        expiring: r.expiring,
        on_order: r.on_order,
        weekly_use: r.weekly_use,
        safety_stock: r.safety_stock,
        reorder_point: r.reorder_point,
        max_stock: r.max_stock,
        order_quantity: r.order_quantity,
        order_by: r.order_by,
        runs_out: r.runs_out,
        urgent: r.urgent,
        reason: r.reason,
    }
}

/// What a pantry should order this review period, from its latest
/// forecasts, with the numbers behind each line.
#[utoipa::path(
    get, path = "/api/v1/pantries/{pantry_id}/recommendations", tag = "forecasts",
    params(("pantry_id" = String, Path, description = "The pantry's id")),
    responses(
        (status = 200, body = Recommendations),
        (status = 400, body = ErrorBody, description = "The path does not decode"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A pantry of the organization that the key is not for"),
        (status = 404, body = ErrorBody, description = "No such pantry, or not yours"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<Recommendations>> {
    let pantry = path(pantry)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    let r = crate::forecasts::service::recommendations(&state, &caller, &pantry).await?;
    Ok(Json(Recommendations {
        pantry_id: r.pantry.id.to_string(),
        pantry_name: r.pantry.name,
        lead_time_days: r.settings.lead_time_days,
        review_days: r.settings.review_days,
        forecast_run: r.run.map(|run| run.finished.unwrap_or(run.created)),
        order: r.order.into_iter().map(out).collect(),
        enough: r.enough.into_iter().map(out).collect(),
        without_forecast: r
            .without
            .into_iter()
            .map(|(product_name, reason)| Unforecast {
                product_name,
                reason,
            })
            .collect(),
    }))
}

/// A forecast run: queued, running, done or failed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunOut {
    pub id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// `requested`, `scheduled` or `import`.
    pub reason: String,
    pub products_total: i64,
    pub products_done: i64,
    /// When it was asked for and finished, in the pantry's time zone.
    pub created: String,
    pub finished: Option<String>,
    /// Why a run failed.
    pub message: Option<String>,
}

impl From<RunStatus> for RunOut {
    fn from(r: RunStatus) -> Self {
        Self {
            id: r.id,
            status: r.status,
            reason: r.reason,
            products_total: r.products_total,
            products_done: r.products_done,
            created: r.created,
            finished: r.finished,
            message: r.message,
        }
    }
}

/// One forecast day, in the product's unit, with its 80% and 95% intervals.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastDayOut {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    pub lo95: f64,
    pub hi95: f64,
}

/// Days counted from `first_day` as dates; no first day, no days.
fn dated(first_day: Option<&str>, points: &[ForecastDay]) -> Vec<ForecastDayOut> {
    let Some(first) = first_day.and_then(|d| crate::dates::parse(d, 1900..=9999).ok()) else {
        return Vec::new();
    };
    points
        .iter()
        .filter_map(|p| {
            Some(ForecastDayOut {
                date: crate::dates::iso(first.checked_add(time::Duration::days(p.offset))?),
                mean: p.mean,
                lo80: p.lo80,
                hi80: p.hi80,
                lo95: p.lo95,
                hi95: p.hi95,
            })
        })
        .collect()
}

/// One product's line in a pantry's forecasts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastLine {
    pub product_id: String,
    pub product_name: String,
    /// `each`, `pack`, `kg`, `lb` or `l`.
    pub unit: String,
    /// `ok`, `not_enough_history` or `none` (never forecast).
    pub status: String,
    /// Why there is no forecast.
    pub message: Option<String>,
    /// The model chosen by the backtest, as people name it.
    pub model: Option<String>,
    /// Forecast demand over the horizon.
    pub horizon_total: f64,
    pub accuracy: Option<Accuracy>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastList {
    pub pantry_id: String,
    pub pantry_name: String,
    /// Days forecast ahead.
    pub horizon_days: i64,
    /// The latest run, if any.
    pub run: Option<RunOut>,
    pub products: Vec<ForecastLine>,
}

/// A product's forecast at a pantry: the days ahead, the demand behind
/// them, how the model was chosen and what to order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastOut {
    pub pantry_id: String,
    pub product_id: String,
    pub product_name: String,
    pub unit: String,
    /// `ok`, `not_enough_history` or `none` (never forecast).
    pub status: String,
    pub message: Option<String>,
    /// When it was made, in the pantry's time zone.
    pub generated: Option<String>,
    /// The chosen model's id and name.
    pub model: Option<String>,
    pub model_label: Option<String>,
    /// Days of demand history, and how many of them ended out of stock
    /// (their demand is at least what went out).
    pub history_days: i64,
    pub out_of_stock_days: i64,
    pub accuracy: Option<Accuracy>,
    /// Every model the backtest tried.
    pub models: Vec<ModelTried>,
    /// The last weeks of demand, oldest first.
    pub history: Vec<HistoryDay>,
    pub days: Vec<ForecastDayOut>,
    pub recommendation: Option<RecommendationOut>,
}

/// Every product's forecast at a pantry, from its latest run.
#[utoipa::path(
    get, path = "/api/v1/pantries/{pantry_id}/forecasts", tag = "forecasts",
    params(("pantry_id" = String, Path, description = "The pantry's id")),
    responses(
        (status = 200, body = ForecastList),
        (status = 400, body = ErrorBody, description = "The path does not decode"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A pantry of the organization that the key is not for"),
        (status = 404, body = ErrorBody, description = "No such pantry, or not yours"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn forecasts(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<ForecastList>> {
    let pantry = path(pantry)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    let s = crate::forecasts::service::summary(&state, &caller, &pantry).await?;
    Ok(Json(ForecastList {
        pantry_id: s.pantry.id.to_string(),
        pantry_name: s.pantry.name,
        horizon_days: s.settings.horizon_days,
        run: s.run.map(RunOut::from),
        products: s
            .rows
            .into_iter()
            .map(|r| ForecastLine {
                product_id: r.product_id.to_string(),
                product_name: r.product_name,
                unit: r.unit.as_str().into(),
                status: r.status,
                message: r.message,
                model: r.model_label,
                horizon_total: r.horizon_total,
                accuracy: r.accuracy,
            })
            .collect(),
    }))
}

/// One product's forecast at a pantry.
#[utoipa::path(
    get, path = "/api/v1/pantries/{pantry_id}/forecasts/{product_id}", tag = "forecasts",
    params(
        ("pantry_id" = String, Path, description = "The pantry's id"),
        ("product_id" = String, Path, description = "The product's id"),
    ),
    responses(
        (status = 200, body = ForecastOut),
        (status = 400, body = ErrorBody, description = "The path does not decode"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A pantry of the organization that the key is not for"),
        (status = 404, body = ErrorBody, description = "No such pantry or product, or not yours"),
        (status = 422, body = ErrorBody, description = "An id that is not one"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn forecast(
    State(state): State<AppState>,
    ids: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<ForecastOut>> {
    let (pantry, product) = path(ids)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    let product: ProductId = product.parse()?;
    let f = crate::forecasts::service::product_forecast(&state, &caller, &pantry, &product).await?;
    Ok(Json(ForecastOut {
        pantry_id: f.pantry.id.to_string(),
        product_id: f.product_id.to_string(),
        product_name: f.product_name,
        unit: f.unit.as_str().into(),
        days: dated(f.first_day.as_deref(), &f.points),
        status: f.status,
        message: f.message,
        generated: f.generated,
        model: f.model,
        model_label: f.model_label,
        history_days: f.history_days,
        out_of_stock_days: f.out_of_stock_days,
        accuracy: f.accuracy,
        models: f.models,
        history: f.history,
        recommendation: f.recommendation.map(out),
    }))
}

/// Asks for new forecasts of every product at the pantry. The run is
/// queued and done in the background; poll the forecasts' `run`. Needs a
/// read-write key (or a manager in a session).
#[utoipa::path(
    post, path = "/api/v1/pantries/{pantry_id}/forecasts/runs", tag = "forecasts",
    params(("pantry_id" = String, Path, description = "The pantry's id")),
    responses(
        (status = 202, body = RunOut, description = "Queued (or the run already queued)"),
        (status = 400, body = ErrorBody, description = "The path does not decode"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A read-only key, or a role below manager"),
        (status = 404, body = ErrorBody, description = "No such pantry, or not yours"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn run_forecasts(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<(axum::http::StatusCode, Json<RunOut>)> {
    let pantry = path(pantry)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    super::v1::may_write_at(&state, &caller, &pantry).await?;
    let run = crate::forecasts::service::request(&state, &caller, &pantry).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(run.into())))
}
