//! `/api/v1` for planning: what a pantry should order, from its forecasts.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Serialize;

use super::error::ErrorBody;
use super::v1::{path, ApiResult};
use crate::auth::service::caller_from_headers;
use crate::forecasts::model::Recommendation;
use crate::ids::PantryId;
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
