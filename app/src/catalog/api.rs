//! Server functions for the catalog.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{OrganizationId, ProductId};
#[cfg(feature = "ssr")]
use crate::input::{PageNumber, SearchText};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "products")]
pub async fn get_products(
    organization: OrganizationId,
    #[server(default)] q: String,
    #[server(default)] category: String,
    #[server(default)] sort: String,
    #[server(default)] page: i64,
) -> Result<ProductPage, AppError> {
    let (state, caller) = context().await?;
    super::service::list(
        &state.db,
        &caller,
        &organization,
        &SearchText::parse(&q, "q")?,
        &SearchText::parse(&category, "category")?,
        ProductSort::parse(&sort),
        PageNumber::parse(page, "page")?,
    )
    .await
}

/// A product with whether the caller may edit it and its organization's name.
#[server(prefix = "/api", endpoint = "product")]
pub async fn get_product(id: ProductId) -> Result<(Product, bool, String), AppError> {
    let (state, caller) = context().await?;
    super::service::get(&state.db, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "create_product")]
#[allow(clippy::too_many_arguments)]
pub async fn create_product(
    organization: OrganizationId,
    name: String,
    category: String,
    #[server(default)] sku: String,
    #[server(default)] unit: String,
    #[server(default)] unit_weight_g: String,
    #[server(default)] barcodes: String,
    #[server(default)] perishable: Option<String>,
    #[server(default)] shelf_life_days: String,
) -> Result<ProductId, AppError> {
    let (state, caller) = context().await?;
    let fields = ProductFields {
        name,
        sku,
        category,
        unit,
        unit_weight_g,
        barcodes,
        perishable: perishable.is_some(),
        shelf_life_days,
    };
    Ok(
        super::service::create(&state, &caller, &organization, &fields)
            .await?
            .id,
    )
}

#[server(prefix = "/api", endpoint = "update_product")]
#[allow(clippy::too_many_arguments)]
pub async fn update_product(
    id: ProductId,
    name: String,
    category: String,
    #[server(default)] sku: String,
    #[server(default)] unit: String,
    #[server(default)] unit_weight_g: String,
    #[server(default)] barcodes: String,
    #[server(default)] perishable: Option<String>,
    #[server(default)] shelf_life_days: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    let fields = ProductFields {
        name,
        sku,
        category,
        unit,
        unit_weight_g,
        barcodes,
        perishable: perishable.is_some(),
        shelf_life_days,
    };
    super::service::update(&state, &caller, &id, &fields)
        .await
        .map(|_| ())
}

#[server(prefix = "/api", endpoint = "archive_product")]
pub async fn archive_product(id: ProductId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::archive(&state, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "import_products")]
pub async fn import_products(
    organization: OrganizationId,
    csv: String,
    #[server(default)] skip_bad: Option<String>,
) -> Result<ImportReport, AppError> {
    let (state, caller) = context().await?;
    super::service::import_csv(&state, &caller, &organization, &csv, skip_bad.is_some()).await
}

/// `GET /organizations/{id}/catalog.csv`: the catalog in the import format.
#[cfg(feature = "ssr")]
pub async fn export_handler(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let result = async {
        let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
        let organization: OrganizationId = id.parse()?;
        super::service::export_csv(&state.db, &caller, &organization).await
    }
    .await;
    match result {
        Ok(body) => (
            [
                (http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"catalog.csv\"",
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The catalog's routes besides its server functions: the CSV export.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/organizations/{id}/catalog.csv", get(export_handler))
}
