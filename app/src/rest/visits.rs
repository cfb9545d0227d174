//! `/api/v1` for a pantry's counter: its visits, read a page at a time
//! (household counts and what each took, never client references or
//! notes), and recorded by a till.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::cursor;
use super::error::ErrorBody;
use super::v1::{cursor_after, may_write_at, path, period, query, text, ApiResult};
use crate::auth::service::caller_from_headers;
use crate::error::AppError;
use crate::ids::PantryId;
use crate::state::AppState;

/// A page of visits, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VisitPage {
    pub visits: Vec<crate::usage::feed::VisitRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A pantry's visits, oldest first, a page at a time: household counts and
/// what each took (never client references or notes).
#[utoipa::path(
    get, path = "/api/v1/pantries/{pantry_id}/visits", tag = "visits",
    params(
        ("pantry_id" = String, Path, description = "The pantry's id"),
        ("since" = Option<String>, Query, description = "From this time on (RFC 3339), inclusive"),
        ("until" = Option<String>, Query, description = "Before this time (RFC 3339), exclusive"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Visits per page, 1 to 500 (100 if not given)", minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, body = VisitPage),
        (status = 400, body = ErrorBody, description = "The path or query string does not decode"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A pantry of the organization that the key is not for"),
        (status = 404, body = ErrorBody, description = "No such pantry, or not yours"),
        (status = 422, body = ErrorBody, description = "A parameter does not parse; `field` names it"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn visits(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<VisitPage>> {
    let (pantry, q) = (path(pantry)?, query(q)?);
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    let (since, until) = period(&q)?;
    let filter = crate::usage::feed::VisitFilter {
        since,
        until,
        after: text(&q, "cursor").map(cursor::decode).transpose()?,
    };
    let limit = cursor::limit(q.get("limit"), 100, 500)?;
    let (visits, more) =
        crate::usage::feed::visit_feed(&state, &caller, &pantry, &filter, limit).await?;
    let next_cursor = cursor_after(
        more,
        visits
            .last()
            .map(|v| (v.occurred_at.as_str(), v.id.as_str())),
    );
    Ok(Json(VisitPage {
        visits,
        next_cursor,
    }))
}

/// One product a household took.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewVisitLine {
    pub product_id: String,
    /// In the product's unit: 2 for two cans, 1.5 for 1.5 kg.
    #[schema(exclusive_minimum = 0)]
    pub quantity: f64,
}

/// A visit to record: what the household took, and optionally who they
/// are (counts, and the pantry's client reference for its visit rule).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewVisit {
    #[schema(min_items = 1)]
    pub lines: Vec<NewVisitLine>,
    #[schema(minimum = 0)]
    pub adults: Option<i64>,
    #[schema(minimum = 0)]
    pub children: Option<i64>,
    #[schema(minimum = 0)]
    pub seniors: Option<i64>,
    /// The client's card or reference, if the pantry uses them; kept for
    /// the visit rule and never returned by the API.
    pub client_ref: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VisitCreated {
    pub visit_id: String,
    /// "3 items: 2 × Rice, …"
    pub summary: String,
    /// What the pantry's visit rule says about this client's last visit,
    /// when it applied. A warning: the visit is recorded all the same.
    pub rule_warning: Option<String>,
}

/// Records a visit: the stock each line takes goes out of the pantry at
/// once, first expiry first. Needs a read-write key (or staff in a session).
#[utoipa::path(
    post, path = "/api/v1/pantries/{pantry_id}/visits", tag = "visits",
    params(("pantry_id" = String, Path, description = "The pantry's id")),
    request_body = NewVisit,
    responses(
        (status = 201, body = VisitCreated),
        (status = 400, body = ErrorBody, description = "The body is not JSON of this shape"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A read-only key, or a role that cannot record visits"),
        (status = 404, body = ErrorBody, description = "No such pantry or product, or not yours"),
        (status = 409, body = ErrorBody, description = "Not enough stock for a line"),
        (status = 422, body = ErrorBody, description = "A field does not parse; `field` names it"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn post_visit(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let pantry = path(pantry)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    may_write_at(&state, &caller, &pantry).await?;
    let v: NewVisit = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body is not a visit: {e}.")))?;
    let count = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut lines = Vec::with_capacity(v.lines.len());
    for line in v.lines {
        lines.push(crate::usage::model::LineInput {
            product: line
                .product_id
                .parse()
                .map_err(|_| AppError::invalid("product_id", "That is not a product id."))?,
            quantity: line.quantity.to_string(),
        });
    }
    let input = crate::usage::model::VisitInput {
        pantry,
        lines,
        adults: count(v.adults),
        children: count(v.children),
        seniors: count(v.seniors),
        client_ref: v.client_ref.unwrap_or_default(),
        note: v.note.unwrap_or_default(),
    };
    let saved = crate::usage::service::record(&state, &caller, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(VisitCreated {
            visit_id: saved.id.to_string(),
            summary: saved.summary,
            rule_warning: saved.rule_warning,
        }),
    ))
}
