//! The handlers of `/api/v1` that are documented in its OpenAPI document.
//! Each reads its caller (an API key, or a session), parses its parameters
//! into the owning module's types with field-named errors, and hands over
//! to that module's service, as the server functions do.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::cursor;
use super::error::{ApiError, ErrorBody};
use crate::auth::model::{Role, ScopeKind};
use crate::auth::service::{caller_from_headers, Caller};
use crate::error::AppError;
use crate::ids::{OrganizationId, PantryId, ProductId};
use crate::inventory::model::MovementKind;
use crate::inventory::service::{self as stock, FeedFilter, MovementRecord};
use crate::state::AppState;

pub(super) type ApiResult<T> = Result<T, ApiError>;

/// A path segment, or the error (400, in words) when it does not decode.
pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> crate::error::AppResult<T> {
    p.map(|Path(s)| s)
        .map_err(|e| AppError::BadRequest(format!("The path could not be read: {}", e.body_text())))
}

/// The query string's parameters, or the error when it does not decode.
pub(crate) fn query(
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> crate::error::AppResult<HashMap<String, String>> {
    q.map(|Query(q)| q).map_err(|e| {
        AppError::BadRequest(format!(
            "The query string could not be read: {}",
            e.body_text()
        ))
    })
}

/// An organization the caller belongs to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationOut {
    pub id: String,
    pub name: String,
    /// The IANA time zone its days are counted in.
    pub time_zone: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationList {
    pub organizations: Vec<OrganizationOut>,
}

/// A campus or pantry of an organization the caller can see.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlaceOut {
    pub id: String,
    /// `campus` or `pantry`.
    pub kind: String,
    pub name: String,
    /// The campus a pantry is on.
    pub campus_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlaceList {
    pub organization: OrganizationOut,
    pub places: Vec<PlaceOut>,
}

/// A page of movements, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MovementPage {
    pub movements: Vec<MovementRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A movement to record. `quantity` is positive; `adjusted` takes a
/// `direction` (`up` or `down`) and `discarded` a `reason`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewMovement {
    pub product_id: String,
    /// `received`, `distributed`, `adjusted` or `discarded`.
    pub kind: String,
    /// In whole units of the product (5 means 5 kg for a product in kg).
    #[schema(minimum = 1)]
    pub quantity: i64,
    /// For `received`: the lot's best-before date, `YYYY-MM-DD`.
    pub best_before: Option<String>,
    /// For `received`: `donation`, `purchase` or `transfer`.
    pub source: Option<String>,
    pub donor: Option<String>,
    pub weight_g: Option<i64>,
    /// For `discarded`: `expired`, `damaged`, `recalled` or `other`; for
    /// `adjusted`: why the count differs.
    pub reason: Option<String>,
    /// For `adjusted`: `up` or `down`.
    pub direction: Option<String>,
    pub note: Option<String>,
}

/// What a recorded movement left.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MovementCreated {
    pub movement_id: String,
    /// The product's stock at the pantry afterwards.
    pub on_hand: i64,
}

fn organization_out(o: crate::org::model::Organization) -> OrganizationOut {
    OrganizationOut {
        id: o.id.to_string(),
        name: o.name,
        time_zone: o.time_zone,
    }
}

/// The organizations the caller belongs to (for an API key, its own).
#[utoipa::path(
    get, path = "/api/v1/organizations", tag = "places",
    responses(
        (status = 200, body = OrganizationList),
        (status = 401, body = ErrorBody, description = "No key, or a revoked one"),
        (status = 429, body = ErrorBody, description = "Too many requests; see Retry-After"),
    )
)]
pub async fn organizations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<OrganizationList>> {
    let caller = caller_from_headers(&state, &headers).await?;
    let mut ids: Vec<&str> = caller
        .grants
        .iter()
        .map(|g| g.organization_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut organizations = Vec::new();
    for id in ids {
        let (o, _) = crate::org::service::organization_with_place(&state.db, id).await?;
        organizations.push(organization_out(o));
    }
    Ok(Json(OrganizationList { organizations }))
}

/// The campuses and pantries of an organization that the caller can see.
#[utoipa::path(
    get, path = "/api/v1/organizations/{organization_id}/places", tag = "places",
    params(("organization_id" = String, Path, description = "The organization's id")),
    responses(
        (status = 200, body = PlaceList),
        (status = 400, body = ErrorBody, description = "The path does not decode"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such organization, or not yours"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn places(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<PlaceList>> {
    let id = path(id)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let id: OrganizationId = id.parse()?;
    if !caller.belongs_to(id.as_str()) {
        return Err(AppError::not_found("organization").into());
    }
    let tree = crate::org::service::organization_tree(&state.db, &id).await?;
    let mut places = Vec::new();
    for (kind, place_id, place, label) in tree.places() {
        let visible = caller.role_at(&place).is_some()
            || (kind == ScopeKind::Campus
                && caller
                    .grants
                    .iter()
                    .any(|g| g.campus_id.as_deref() == Some(place_id.as_str())));
        if kind == ScopeKind::Organization || !visible {
            continue;
        }
        places.push(PlaceOut {
            id: place_id,
            kind: kind.as_str().into(),
            name: label,
            campus_id: place.campus_id.filter(|_| kind == ScopeKind::Pantry),
        });
    }
    Ok(Json(PlaceList {
        organization: organization_out(tree.organization),
        places,
    }))
}

pub(super) fn text<'a>(q: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The cursor after a feed page's last row (its time and id), when more
/// rows follow.
pub(super) fn cursor_after(more: bool, last: Option<(&str, &str)>) -> Option<String> {
    let (occurred_at, id) = last.filter(|_| more)?;
    let at = stock::parse_rfc3339(occurred_at, "cursor").ok()?;
    Some(cursor::encode(at, id))
}

/// `since` and `until` (RFC 3339), in ms: the period a feed is read for.
pub(super) fn period(q: &HashMap<String, String>) -> ApiResult<(Option<i64>, Option<i64>)> {
    let at = |k: &str| text(q, k).map(|s| stock::parse_rfc3339(s, k)).transpose();
    Ok((at("since")?, at("until")?))
}

/// A pantry's movements, oldest first, a page at a time. Distributions of a
/// period: `kind=distributed&since=…&until=…`.
#[utoipa::path(
    get, path = "/api/v1/pantries/{pantry_id}/movements", tag = "stock",
    params(
        ("pantry_id" = String, Path, description = "The pantry's id"),
        ("since" = Option<String>, Query, description = "From this time on (RFC 3339), inclusive"),
        ("until" = Option<String>, Query, description = "Before this time (RFC 3339), exclusive"),
        ("kind" = Option<String>, Query, description = "received, distributed, adjusted, transferred or discarded"),
        ("product_id" = Option<String>, Query, description = "Only this product"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Movements per page, 1 to 500 (100 if not given)", minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, body = MovementPage),
        (status = 400, body = ErrorBody, description = "The path or query string does not decode"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such pantry, or not yours"),
        (status = 422, body = ErrorBody, description = "A parameter does not parse; `field` names it"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn movements(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<MovementPage>> {
    let (pantry, q) = (path(pantry)?, query(q)?);
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    let (since, until) = period(&q)?;
    let filter = FeedFilter {
        since,
        until,
        kind: text(&q, "kind")
            .map(|k| {
                MovementKind::parse(k).ok_or_else(|| {
                    AppError::invalid(
                        "kind",
                        format!("“{k}” is not a movement kind; use received, distributed, adjusted, transferred or discarded."),
                    )
                })
            })
            .transpose()?,
        product: text(&q, "product_id")
            .map(|p| p.parse::<ProductId>().map(|p| p.to_string()))
            .transpose()?,
        after: text(&q, "cursor").map(cursor::decode).transpose()?,
    };
    let limit = cursor::limit(q.get("limit"), 100, 500)?;
    let (movements, more) = stock::movement_feed(&state, &caller, &pantry, &filter, limit).await?;
    let next_cursor = cursor_after(
        more,
        movements
            .last()
            .map(|m| (m.occurred_at.as_str(), m.id.as_str())),
    );
    Ok(Json(MovementPage {
        movements,
        next_cursor,
    }))
}

/// Records a movement at a pantry: stock received, given out, counted or
/// thrown away. Needs a read-write key (or staff in a session).
#[utoipa::path(
    post, path = "/api/v1/pantries/{pantry_id}/movements", tag = "stock",
    params(("pantry_id" = String, Path, description = "The pantry's id")),
    request_body = NewMovement,
    responses(
        (status = 201, body = MovementCreated),
        (status = 400, body = ErrorBody, description = "The body is not JSON of this shape"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A read-only key, or a role that cannot record stock"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not enough stock to take"),
        (status = 422, body = ErrorBody, description = "A field does not parse; `field` names it"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn post_movement(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let pantry = path(pantry)?;
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    may_write_at(&state, &caller, &pantry).await?;
    let m: NewMovement = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body is not a movement: {e}.")))?;
    let product: ProductId = m
        .product_id
        .parse()
        .map_err(|_| AppError::invalid("product_id", "That is not a product id."))?;
    let fields = stock::MovementFields {
        quantity: m.quantity.to_string(),
        best_before: m.best_before.unwrap_or_default(),
        source: m.source.unwrap_or_else(|| "donation".into()),
        donor: m.donor.unwrap_or_default(),
        weight_g: m.weight_g.map(|w| w.to_string()).unwrap_or_default(),
        reason: m.reason.unwrap_or_default(),
        direction: m.direction.unwrap_or_default(),
        note: m.note.unwrap_or_default(),
        ..Default::default()
    };
    let receipt = match m.kind.trim() {
        "received" => stock::receive(&state, &caller, &pantry, &product, &fields).await,
        "distributed" => stock::distribute(&state, &caller, &pantry, &product, &fields).await,
        "adjusted" => stock::adjust(&state, &caller, &pantry, &product, &fields).await,
        "discarded" => stock::discard(&state, &caller, &pantry, &product, &fields).await,
        other => Err(AppError::invalid(
            "kind",
            format!("“{other}” cannot be posted; use received, distributed, adjusted or discarded (transfers are made in Larder)."),
        )),
    }?;
    Ok((
        StatusCode::CREATED,
        Json(MovementCreated {
            movement_id: receipt.movement_id.to_string(),
            on_hand: receipt.on_hand,
        }),
    ))
}

/// Before a write reads its body: a caller with no access to the pantry is
/// refused as on a read (403 or 404), whatever it sent, and a read-only
/// key is told so rather than the generic "not allowed". The service
/// checks the role the write itself needs.
pub(super) async fn may_write_at(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
) -> ApiResult<()> {
    let (_, place) = stock::pantry_header(&state.db, pantry).await?;
    if caller.require(&place, Role::Viewer, "pantry")? < Role::Staff && caller.key.is_some() {
        return Err(AppError::Forbidden(
            "This API key can only read. An admin can make a read-write key on the API keys page."
                .into(),
        )
        .into());
    }
    Ok(())
}

/// A product of an organization's catalog.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductOut {
    pub id: String,
    pub name: String,
    pub sku: Option<String>,
    pub category: String,
    /// `each`, `pack`, `kg`, `lb` or `l`.
    pub unit: String,
    /// How many stored parts make one unit (quantities in the ledger and in
    /// stock are in parts): 1000 for kg and l (grams, millilitres), 16 for
    /// lb (ounces), 1 otherwise.
    pub parts_per_unit: i64,
    /// The weight of one unit in grams, when known.
    pub unit_weight_g: Option<i64>,
    /// GTIN barcodes (8, 12, 13 or 14 digits).
    pub barcodes: Vec<String>,
    pub perishable: bool,
    pub shelf_life_days: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One product's stock at a pantry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockOut {
    pub product_id: String,
    pub name: String,
    pub category: String,
    /// `each`, `pack`, `kg`, `lb` or `l`.
    pub unit: String,
    /// How many stored parts make one unit (see the product).
    pub parts_per_unit: i64,
    /// On hand, in parts.
    pub on_hand: i64,
    /// On hand as people read it: `12`, `2.5 kg`, `3 pack`.
    pub on_hand_text: String,
    /// The weight on hand in grams, when the weight of one unit is known.
    pub weight_g: Option<i64>,
    /// The pantry's minimum for it, in parts (0: none set).
    pub minimum: i64,
    /// Below its minimum.
    pub low: bool,
    /// The earliest best-before date among lots with stock, `YYYY-MM-DD`.
    pub next_best_before: Option<String>,
    /// Parts whose best-before date is within the next `expiring_days`.
    pub expiring: i64,
    /// Parts already past their best-before date.
    pub expired: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockList {
    pub pantry_id: String,
    pub pantry_name: String,
    /// What counts as expiring soon, in days.
    pub expiring_days: i64,
    pub stock: Vec<StockOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn search(q: &HashMap<String, String>, k: &str) -> ApiResult<crate::input::SearchText> {
    Ok(crate::input::SearchText::parse(
        q.get(k).map(String::as_str).unwrap_or(""),
        k,
    )?)
}

fn page_of(q: &HashMap<String, String>) -> ApiResult<crate::input::PageNumber> {
    Ok(match text(q, "cursor") {
        Some(c) => cursor::decode_page(c)?,
        None => crate::input::PageNumber::default(),
    })
}

/// The next page's cursor when rows lie beyond this one.
fn next_page(page: i64, per_page: i64, total: i64) -> Option<String> {
    (page * per_page < total).then(|| cursor::encode_page(page + 1))
}

/// An organization's catalog by name, a page at a time; `q` finds by name,
/// SKU or barcode.
#[utoipa::path(
    get, path = "/api/v1/organizations/{organization_id}/products", tag = "products",
    params(
        ("organization_id" = String, Path, description = "The organization's id"),
        ("q" = Option<String>, Query, description = "Part of the name, the SKU, or a barcode"),
        ("category" = Option<String>, Query, description = "Only this category"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, body = ProductList),
        (status = 400, body = ErrorBody, description = "The path or query string does not decode"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such organization, or not yours"),
        (status = 422, body = ErrorBody, description = "A parameter does not parse; `field` names it"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn products(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<ProductList>> {
    let (id, q) = (path(id)?, query(q)?);
    let caller = caller_from_headers(&state, &headers).await?;
    let id: OrganizationId = id.parse()?;
    if !caller.belongs_to(id.as_str()) {
        return Err(AppError::not_found("organization").into());
    }
    let (text_q, category, page) = (search(&q, "q")?, search(&q, "category")?, page_of(&q)?);
    let page = crate::catalog::service::list(
        &state.db,
        &caller,
        &id,
        &text_q,
        &category,
        crate::catalog::model::ProductSort::Name,
        page,
    )
    .await?;
    Ok(Json(ProductList {
        next_cursor: next_page(page.page, page.per_page, page.total),
        products: page
            .items
            .into_iter()
            .map(|p| ProductOut {
                id: p.id.to_string(),
                parts_per_unit: p.unit.scale(),
                unit: p.unit.as_str().into(),
                name: p.name,
                sku: p.sku,
                category: p.category,
                unit_weight_g: p.unit_weight_g,
                barcodes: p.barcodes.iter().map(|g| g.as_str().to_string()).collect(),
                perishable: p.perishable,
                shelf_life_days: p.shelf_life_days,
            })
            .collect(),
    }))
}

/// What a pantry holds, by product name, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/pantries/{pantry_id}/stock", tag = "stock",
    params(
        ("pantry_id" = String, Path, description = "The pantry's id"),
        ("filter" = Option<String>, Query, description = "`in_stock` (the default), `all` (the whole catalog), `low` (below minimum) or `expiring`"),
        ("q" = Option<String>, Query, description = "Part of the name, or a barcode"),
        ("category" = Option<String>, Query, description = "Only this category"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, body = StockList),
        (status = 400, body = ErrorBody, description = "The path or query string does not decode"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A pantry of the organization that the key is not for"),
        (status = 404, body = ErrorBody, description = "No such pantry, or not yours"),
        (status = 422, body = ErrorBody, description = "A parameter does not parse; `field` names it"),
        (status = 429, body = ErrorBody),
    )
)]
pub async fn stock(
    State(state): State<AppState>,
    pantry: Result<Path<String>, PathRejection>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<StockList>> {
    use crate::inventory::model::{StockFilter, StockQuery, StockSort};
    let (pantry, q) = (path(pantry)?, query(q)?);
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = pantry.parse()?;
    let filter = match text(&q, "filter").unwrap_or("in_stock") {
        "in_stock" => StockFilter::InStock,
        "all" => StockFilter::All,
        "low" => StockFilter::Low,
        "expiring" => StockFilter::Expiring,
        other => {
            return Err(AppError::invalid(
                "filter",
                format!("“{other}” is not a filter; use in_stock, all, low or expiring."),
            )
            .into())
        }
    };
    let query = StockQuery {
        q: search(&q, "q")?,
        category: search(&q, "category")?,
        filter,
        sort: StockSort::Name,
        page: page_of(&q)?,
    };
    let page = stock::stock_page(&state, &caller, &pantry, &query).await?;
    Ok(Json(StockList {
        pantry_id: page.pantry.id.to_string(),
        pantry_name: page.pantry.name.clone(),
        expiring_days: page.expiring_days,
        next_cursor: next_page(page.page, page.per_page, page.total),
        stock: page
            .rows
            .into_iter()
            .map(|r| StockOut {
                product_id: r.product_id.to_string(),
                on_hand_text: r.on_hand_text(),
                parts_per_unit: r.unit.scale(),
                unit: r.unit.as_str().into(),
                name: r.name,
                category: r.category,
                on_hand: r.on_hand,
                weight_g: r.weight_g,
                minimum: r.minimum,
                low: r.low,
                next_best_before: r.next_best_before,
                expiring: r.expiring,
                expired: r.expired,
            })
            .collect(),
    }))
}
