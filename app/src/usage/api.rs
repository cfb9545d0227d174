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
    let page = crate::input::PageNumber::parse(page, "page")?;
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

#[cfg(feature = "ssr")]
pub use rest::*;

/// The HTTP handlers that are not server functions: the history import
/// (a streamed upload), its error file, and the JSON API under `/api/v1`.
#[cfg(feature = "ssr")]
mod rest {
    use std::collections::HashMap;

    use axum::body::Body;
    use axum::extract::rejection::{PathRejection, QueryRejection};
    use axum::extract::{Path, Query, State};
    use axum::response::{IntoResponse, Response};
    use http::{HeaderMap, StatusCode};

    use crate::error::AppResult;
    use crate::state::AppState;
    use crate::usage::import::{self, ImportRequest};
    use crate::usage::model::ImportStatus;

    fn flag(q: &HashMap<String, String>, k: &str) -> bool {
        matches!(
            q.get(k).map(|v| v.trim().to_lowercase()).as_deref(),
            Some("1" | "true" | "on" | "yes")
        )
    }

    async fn begin(
        state: &AppState,
        headers: &HeaderMap,
        organization: &str,
        q: &HashMap<String, String>,
        body: Body,
    ) -> AppResult<(crate::auth::service::Caller, String)> {
        let caller = crate::auth::service::caller_from_headers(state, headers).await?;
        let organization = organization.parse()?;
        // Access first, so a stranger's upload is not even spooled.
        let (_, place) = crate::org::service::organization_with_place(
            &state.db,
            organization_str(&organization),
        )
        .await?;
        caller.require(&place, crate::auth::model::Role::Manager, "organization")?;
        let file = import::spool(state, body.into_data_stream()).await?;
        let request = ImportRequest {
            organization,
            pantry: q.get("pantry").cloned().unwrap_or_default(),
            skip_bad: flag(q, "skip_bad"),
            file_name: q
                .get("name")
                .cloned()
                .unwrap_or_else(|| "upload.csv".into()),
        };
        let id = import::start(state, &caller, request, file).await?;
        Ok((caller, id))
    }

    fn organization_str(o: &crate::ids::OrganizationId) -> &str {
        o.as_str()
    }

    /// `POST /organizations/{id}/usage-import?pantry=…&skip_bad=1&name=…`
    /// with the CSV as the body: starts the import, answers 202 with its
    /// id; the page follows its progress.
    pub async fn import_upload_handler(
        State(state): State<AppState>,
        Path(id): Path<String>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
        body: Body,
    ) -> Response {
        match begin(&state, &headers, &id, &q, body).await {
            Ok((_, id)) => (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({ "id": id })),
            )
                .into_response(),
            Err(e) => e.into_response(),
        }
    }

    /// A refused import (its outcome names the bad rows), or a request
    /// that was not one (the API's error shape).
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(untagged)]
    #[allow(dead_code)] // Only its schema is used: the handler answers either shape.
    pub enum ImportRefusal {
        Refused(ImportStatus),
        Invalid(crate::rest::error::ErrorBody),
    }

    /// Imports usage history: a CSV of what went out, one row per product
    /// and day, with columns `date` (`YYYY-MM-DD`), `quantity` and the
    /// product as `product` (its name), `barcode`, `sku` or `product_id`;
    /// optional `unit_price`, `revenue` and `pantry` (a pantry's name).
    /// Rows already imported add nothing. A file with bad rows imports
    /// nothing unless `skip_bad` is true; either way the outcome counts
    /// them and `errors_url` lists each with its line and reason. Needs a
    /// read-write key for the organization (or a manager in a session).
    #[utoipa::path(
        post, path = "/api/v1/usage/import", tag = "usage",
        params(
            ("organization" = String, Query, description = "The organization's id"),
            ("pantry" = Option<String>, Query, description = "The pantry rows without a `pantry` column belong to (its id or name)"),
            ("skip_bad" = Option<bool>, Query, description = "Import the good rows of a file with bad ones"),
            ("name" = Option<String>, Query, description = "The file's name, for the import list"),
        ),
        request_body(content = String, content_type = "text/csv", description = "The CSV, UTF-8, with a header row"),
        responses(
            (status = 200, body = ImportStatus, description = "Imported"),
            (status = 400, body = crate::rest::error::ErrorBody, description = "The query string does not decode"),
            (status = 401, body = crate::rest::error::ErrorBody),
            (status = 403, body = crate::rest::error::ErrorBody, description = "A read-only key, or a role below manager"),
            (status = 404, body = crate::rest::error::ErrorBody, description = "No such organization, or not yours"),
            (status = 422, body = ImportRefusal, description = "Refused: the file has bad rows (its outcome), or is too large, or a parameter does not parse"),
            (status = 429, body = crate::rest::error::ErrorBody),
        )
    )]
    pub async fn api_import_handler(
        State(state): State<AppState>,
        q: Result<Query<HashMap<String, String>>, QueryRejection>,
        headers: HeaderMap,
        body: Body,
    ) -> Response {
        let outcome = async {
            let q = crate::rest::query(q)?;
            let organization = q.get("organization").cloned().unwrap_or_default();
            let (caller, id) = begin(&state, &headers, &organization, &q, body).await?;
            import::wait(&state, &caller, &id).await
        }
        .await;
        match outcome {
            Ok(s) => {
                let code = match s.status.as_str() {
                    "done" => StatusCode::OK,
                    "refused" => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (code, axum::Json(s)).into_response()
            }
            Err(e) => crate::rest::error::ApiError(e).into_response(),
        }
    }

    /// `GET /imports/{id}/errors.csv`: an import's bad rows.
    pub async fn import_errors_handler(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        let result = async {
            let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
            import::errors_file(&state, &caller, &id).await
        }
        .await;
        match result {
            Ok(body) => (
                [
                    (
                        http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_string(),
                    ),
                    (
                        http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"import-{id}-errors.csv\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => e.into_response(),
        }
    }

    /// What went out of one product per day over a period (distributions
    /// recorded in Larder, and imported history), newest first, 100 days a
    /// page; at one pantry, or the whole organization.
    #[utoipa::path(
        get, path = "/api/v1/usage/{product_id}", tag = "usage",
        params(
            ("product_id" = String, Path, description = "The product's id"),
            ("pantry" = Option<String>, Query, description = "Only this pantry"),
            ("from" = Option<String>, Query, description = "First day, `YYYY-MM-DD` (a year before `to` if not given)"),
            ("to" = Option<String>, Query, description = "Last day, `YYYY-MM-DD` (today if not given)"),
            ("page" = Option<i64>, Query, description = "Page, from 1", minimum = 1),
        ),
        responses(
            (status = 200, body = crate::usage::history::ProductUsage),
            (status = 400, body = crate::rest::error::ErrorBody, description = "The path or query string does not decode"),
            (status = 401, body = crate::rest::error::ErrorBody),
            (status = 403, body = crate::rest::error::ErrorBody, description = "A pantry of the organization that the key is not for"),
            (status = 404, body = crate::rest::error::ErrorBody, description = "No such product or pantry, or not yours"),
            (status = 422, body = crate::rest::error::ErrorBody, description = "A parameter does not parse; `field` names it"),
            (status = 429, body = crate::rest::error::ErrorBody),
        )
    )]
    pub async fn api_product_usage_handler(
        State(state): State<AppState>,
        product: Result<Path<String>, PathRejection>,
        q: Result<Query<HashMap<String, String>>, QueryRejection>,
        headers: HeaderMap,
    ) -> Response {
        let result = async {
            let (product, q) = (crate::rest::path(product)?, crate::rest::query(q)?);
            let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
            crate::usage::history::product_usage(&state, &caller, &product, &q).await
        }
        .await;
        match result {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => crate::rest::error::ApiError(e).into_response(),
        }
    }

    /// What went out of each product of an organization over a period
    /// (distributions recorded in Larder, and imported history), by name,
    /// 100 products a page.
    #[utoipa::path(
        get, path = "/api/v1/usage/summary", tag = "usage",
        params(
            ("organization" = String, Query, description = "The organization's id"),
            ("from" = Option<String>, Query, description = "First day, `YYYY-MM-DD` (a year before `to` if not given)"),
            ("to" = Option<String>, Query, description = "Last day, `YYYY-MM-DD` (today if not given)"),
            ("page" = Option<i64>, Query, description = "Page, from 1", minimum = 1),
        ),
        responses(
            (status = 200, body = crate::usage::history::UsageSummary),
            (status = 400, body = crate::rest::error::ErrorBody, description = "The query string does not decode"),
            (status = 401, body = crate::rest::error::ErrorBody),
            (status = 403, body = crate::rest::error::ErrorBody, description = "A key for one pantry: the summary is the organization's"),
            (status = 404, body = crate::rest::error::ErrorBody, description = "No such organization, or not yours"),
            (status = 422, body = crate::rest::error::ErrorBody, description = "A parameter does not parse; `field` names it"),
            (status = 429, body = crate::rest::error::ErrorBody),
        )
    )]
    pub async fn api_usage_summary_handler(
        State(state): State<AppState>,
        q: Result<Query<HashMap<String, String>>, QueryRejection>,
        headers: HeaderMap,
    ) -> Response {
        let result = async {
            let q = crate::rest::query(q)?;
            let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
            crate::usage::history::summary(&state, &caller, &q).await
        }
        .await;
        match result {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => crate::rest::error::ApiError(e).into_response(),
        }
    }
}

/// An import's progress (the import page polls it).
#[server(prefix = "/api", endpoint = "import_status")]
pub async fn get_import_status(id: String) -> Result<crate::usage::model::ImportStatus, AppError> {
    let (state, caller) = context().await?;
    crate::usage::import::status(&state, &caller, &id).await
}

/// A donation's printable receipt.
#[server(prefix = "/api", endpoint = "donation_receipt")]
pub async fn get_donation_receipt(id: String) -> Result<DonationReceipt, AppError> {
    let (state, caller) = context().await?;
    super::donations::receipt(&state, &caller, &id).await
}

/// Receives a donation of several products in one form; its id is the
/// receipt's.
#[server(prefix = "/api", endpoint = "receive_donation", input = Json)]
pub async fn receive_donation(donation: DonationInput) -> Result<crate::ids::DonationId, AppError> {
    let (state, caller) = context().await?;
    super::donations::receive_donation(&state, &caller, &donation).await
}

/// One donor's giving, year by year, and one year's donations (their
/// year-end statement); `year` 0 is the latest year they gave in.
#[server(prefix = "/api", endpoint = "donor")]
pub async fn get_donor(
    organization: crate::ids::OrganizationId,
    name: String,
    #[server(default)] year: i32,
) -> Result<DonorPage, AppError> {
    let (state, caller) = context().await?;
    super::donations::donor_page(
        &state,
        &caller,
        &organization,
        &name,
        (year != 0).then_some(year),
    )
    .await
}

/// `GET /organizations/{id}/donor/statement.csv?name=&year=`: a donor's
/// year-end statement as CSV.
#[cfg(feature = "ssr")]
pub async fn statement_csv_handler(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let result = async {
        let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
        let organization: crate::ids::OrganizationId = id.parse()?;
        let year = match q.get("year").map(|y| y.trim()).filter(|y| !y.is_empty()) {
            None => None,
            Some(y) => Some(
                y.parse::<i32>()
                    .ok()
                    .filter(|y| (2000..=2100).contains(y))
                    .ok_or_else(|| {
                        AppError::invalid("year", "Give the year as four digits, such as 2026.")
                    })?,
            ),
        };
        let name = q.get("name").cloned().unwrap_or_default();
        super::donations::donor_page(&state, &caller, &organization, &name, year).await
    }
    .await;
    match result {
        Ok(page) => (
            [
                (
                    http::header::CONTENT_TYPE,
                    "text/csv; charset=utf-8".to_string(),
                ),
                (
                    http::header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"donations-{}-{}.csv\"",
                        crate::spreadsheet::file_slug(&page.donor),
                        page.year
                    ),
                ),
            ],
            super::donations::statement_csv(&page),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The organization's donors with their totals, and its latest donations.
#[server(prefix = "/api", endpoint = "donors")]
pub async fn get_donors(organization: crate::ids::OrganizationId) -> Result<Donors, AppError> {
    let (state, caller) = context().await?;
    super::donations::donors(&state, &caller, &organization).await
}

/// Usage's routes besides its server functions: the report's CSV, history
/// imports (a form upload and the REST API) and the REST reads.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/reports/usage.csv", get(report_csv_handler))
        .route(
            "/organizations/{id}/usage-import",
            post(import_upload_handler),
        )
        .route("/imports/{id}/errors.csv", get(import_errors_handler))
        .route(
            "/organizations/{id}/donor/statement.csv",
            get(statement_csv_handler),
        )
        .route("/api/v1/usage/import", post(api_import_handler))
        .route("/api/v1/usage/summary", get(api_usage_summary_handler))
        .route("/api/v1/usage/{product_id}", get(api_product_usage_handler))
}
