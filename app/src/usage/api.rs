//! Server functions for visits and reports, and the report's CSV download.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::model::*;
use crate::error::AppError;
use crate::ids::{PantryId, VisitId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

/// Records a visit: every line handed out in one transaction, or none.
#[server(prefix = "/api", endpoint = "record_visit", input = Json)]
pub async fn record_visit(visit: VisitInput) -> Result<VisitSaved, AppError> {
    let (state, caller) = context().await?;
    super::service::record(&state, &caller, &visit).await
}

/// What the pantry's visit rule says about this client right now.
#[server(prefix = "/api", endpoint = "visit_rule_warning")]
pub async fn visit_rule_warning(
    pantry: PantryId,
    #[server(default)] client_ref: String,
) -> Result<Option<String>, AppError> {
    let (state, caller) = context().await?;
    super::service::check_rule(&state, &caller, &pantry, &client_ref).await
}

/// Sets the pantry's visit rule (days between a client's visits), or
/// clears it with a blank.
#[server(prefix = "/api", endpoint = "set_visit_rule")]
pub async fn set_visit_rule(
    pantry: PantryId,
    #[server(default)] days: String,
) -> Result<Option<i64>, AppError> {
    let (state, caller) = context().await?;
    super::service::set_rule(&state, &caller, &pantry, &days).await
}

#[server(prefix = "/api", endpoint = "visit")]
pub async fn get_visit(id: VisitId) -> Result<Visit, AppError> {
    let (state, caller) = context().await?;
    super::service::visit(&state, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "visits")]
pub async fn get_visits(
    pantry: PantryId,
    #[server(default)] page: i64,
) -> Result<VisitPage, AppError> {
    let (state, caller) = context().await?;
    super::service::visits(&state, &caller, &pantry, page).await
}

/// Changes a visit's lines; the difference is posted as compensating
/// movements. `version` is the one the editor loaded.
#[server(prefix = "/api", endpoint = "correct_visit", input = Json)]
pub async fn correct_visit(
    id: VisitId,
    version: String,
    lines: Vec<LineInput>,
) -> Result<VisitSaved, AppError> {
    let (state, caller) = context().await?;
    super::service::correct(&state, &caller, &id, &version, &lines).await
}

/// Voids a visit: what it took goes back on the shelf; the visit stays.
#[server(prefix = "/api", endpoint = "void_visit")]
pub async fn void_visit(
    id: VisitId,
    version: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::void(&state, &caller, &id, &version, &reason).await
}

/// The usage report. `scope` is `pantry:<id>`, `campus:<id>` or
/// `organization:<id>`; `from` and `to` inclusive ISO dates; `group` is
/// `day`, `week` or `month`.
#[server(prefix = "/api", endpoint = "usage_report")]
pub async fn get_usage_report(
    scope: String,
    from: String,
    to: String,
    #[server(default)] group: String,
) -> Result<UsageReport, AppError> {
    let (state, caller) = context().await?;
    super::report::usage_report(&state, &caller, &scope, &from, &to, &group).await
}

/// `GET /reports/usage.csv?scope=…&from=…&to=…&group=…`
#[cfg(feature = "ssr")]
pub async fn report_csv_handler(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let result = async {
        let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
        super::report::usage_report(
            &state,
            &caller,
            &get("scope"),
            &get("from"),
            &get("to"),
            &get("group"),
        )
        .await
    }
    .await;
    match result {
        Ok(report) => {
            let name = format!("usage-{}-{}.csv", report.from, report.to);
            (
                [
                    (
                        http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_string(),
                    ),
                    (
                        http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                super::report::to_csv(&report),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
