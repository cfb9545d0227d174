//! Server functions for the forecast pages, and the REST API:
//!
//! - `POST /api/v1/forecasts/generate?pantry=…` queues a run (202, its status)
//! - `GET /api/v1/forecasts/{product_id}?pantry=…` the forecast, history and recommendation
//!   (`?campus=…` or `?organization=…`: their pantries' demand summed, forecast on request)
//! - `GET /api/v1/forecasts/{product_id}/accuracy?pantry=…` the backtest of every model tried
//! - `GET /api/v1/reports/forecast-summary?pantry=…`
//! - `GET /api/v1/reports/inventory-recommendations?pantry=…`

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{PantryId, ProductId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "product_forecast")]
pub async fn get_product_forecast(
    pantry: PantryId,
    product: ProductId,
) -> Result<ProductForecast, AppError> {
    let (state, caller) = context().await?;
    super::service::product_forecast(&state, &caller, &pantry, &product).await
}

#[server(prefix = "/api", endpoint = "forecast_summary")]
pub async fn get_forecast_summary(pantry: PantryId) -> Result<ForecastSummary, AppError> {
    let (state, caller) = context().await?;
    super::service::summary(&state, &caller, &pantry).await
}

#[server(prefix = "/api", endpoint = "inventory_recommendations")]
pub async fn get_recommendations(pantry: PantryId) -> Result<RecommendationReport, AppError> {
    let (state, caller) = context().await?;
    super::service::recommendations(&state, &caller, &pantry).await
}

/// "Generate forecasts": queues a run for the pantry (managers).
#[server(prefix = "/api", endpoint = "generate_forecasts")]
pub async fn generate_forecasts(pantry: PantryId) -> Result<RunStatus, AppError> {
    let (state, caller) = context().await?;
    super::service::request(&state, &caller, &pantry).await
}

/// The pantry's latest run (the pages poll it while one is open).
#[server(prefix = "/api", endpoint = "forecast_run")]
pub async fn get_forecast_run(pantry: PantryId) -> Result<Option<RunStatus>, AppError> {
    let (state, caller) = context().await?;
    super::service::run_status(&state, &caller, &pantry).await
}

#[server(prefix = "/api", endpoint = "save_forecast_settings")]
pub async fn save_forecast_settings(
    pantry: PantryId,
    #[server(default)] horizon_days: String,
    #[server(default)] lead_time_days: String,
    #[server(default)] review_days: String,
    #[server(default)] service_level: String,
) -> Result<ForecastSettings, AppError> {
    let (state, caller) = context().await?;
    let input = super::service::parse_settings(
        &horizon_days,
        &lead_time_days,
        &review_days,
        &service_level,
    )?;
    super::service::set_settings(&state, &caller, &pantry, input).await
}

#[cfg(feature = "ssr")]
pub use rest::routes;

#[cfg(feature = "ssr")]
mod rest {
    use std::collections::HashMap;

    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use serde::Serialize;

    use super::*;
    use crate::auth::service::{caller_from_headers, Caller};
    use crate::error::AppResult;
    use crate::state::AppState;

    pub fn routes() -> axum::Router<AppState> {
        use axum::routing::{get, post};
        axum::Router::new()
            .route("/api/v1/forecasts/generate", post(generate))
            .route("/api/v1/forecasts/{product_id}", get(product))
            .route("/api/v1/forecasts/{product_id}/accuracy", get(accuracy))
            .route("/api/v1/reports/forecast-summary", get(summary))
            .route(
                "/api/v1/reports/inventory-recommendations",
                get(recommendations),
            )
    }

    fn pantry_of(q: &HashMap<String, String>) -> AppResult<PantryId> {
        match q.get("pantry").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(p) => p.parse(),
            None => Err(AppError::invalid(
                "pantry",
                "Say which pantry: ?pantry=<id>.",
            )),
        }
    }

    async fn answer<T: Serialize>(
        state: &AppState,
        headers: &HeaderMap,
        status: StatusCode,
        f: impl AsyncFnOnce(&Caller) -> AppResult<T>,
    ) -> Response {
        let result = async {
            let caller = caller_from_headers(state, headers).await?;
            f(&caller).await
        }
        .await;
        match result {
            Ok(v) => (status, axum::Json(v)).into_response(),
            // The public API's one error shape.
            Err(e) => crate::rest::error::ApiError(e).into_response(),
        }
    }

    async fn generate(
        State(state): State<AppState>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        answer(&state, &headers, StatusCode::ACCEPTED, async |caller| {
            super::super::service::request(&state, caller, &pantry_of(&q)?).await
        })
        .await
    }

    async fn product(
        State(state): State<AppState>,
        Path(product): Path<String>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        let given = |k: &str| {
            q.get(k)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        // A campus or an organization: their pantries' demand summed and
        // forecast on request.
        if let Some(scope) = given("campus")
            .map(|c| format!("campus:{c}"))
            .or_else(|| given("organization").map(|o| format!("organization:{o}")))
            .filter(|_| given("pantry").is_none())
        {
            return answer(&state, &headers, StatusCode::OK, async |caller| {
                let product: ProductId = product.parse()?;
                let scope = crate::org::model::Scope::parse(&scope)?;
                super::super::service::scope_forecast(&state, caller, &scope, &product).await
            })
            .await;
        }
        answer(&state, &headers, StatusCode::OK, async |caller| {
            let product: ProductId = product.parse()?;
            super::super::service::product_forecast(&state, caller, &pantry_of(&q)?, &product).await
        })
        .await
    }

    /// How the forecast was chosen: every model's backtest.
    #[derive(Serialize)]
    struct AccuracyReport {
        pantry_id: PantryId,
        product_id: ProductId,
        status: String,
        message: Option<String>,
        model: Option<String>,
        accuracy: Option<Accuracy>,
        models: Vec<ModelTried>,
        history_days: i64,
        out_of_stock_days: i64,
    }

    async fn accuracy(
        State(state): State<AppState>,
        Path(product): Path<String>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        answer(&state, &headers, StatusCode::OK, async |caller| {
            let product: ProductId = product.parse()?;
            let f =
                super::super::service::product_forecast(&state, caller, &pantry_of(&q)?, &product)
                    .await?;
            Ok(AccuracyReport {
                pantry_id: f.pantry.id,
                product_id: f.product_id,
                status: f.status,
                message: f.message,
                model: f.model,
                accuracy: f.accuracy,
                models: f.models,
                history_days: f.history_days,
                out_of_stock_days: f.out_of_stock_days,
            })
        })
        .await
    }

    async fn summary(
        State(state): State<AppState>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        answer(&state, &headers, StatusCode::OK, async |caller| {
            super::super::service::summary(&state, caller, &pantry_of(&q)?).await
        })
        .await
    }

    async fn recommendations(
        State(state): State<AppState>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        answer(&state, &headers, StatusCode::OK, async |caller| {
            super::super::service::recommendations(&state, caller, &pantry_of(&q)?).await
        })
        .await
    }
}
