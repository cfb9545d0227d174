//! Server functions for stock: the inventory list, a product's stock and
//! history, the movements, and overviews.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{PantryId, ProductId};
#[cfg(feature = "ssr")]
use crate::input::{PageNumber, SearchText};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "stock")]
pub async fn get_stock(
    pantry: PantryId,
    #[server(default)] q: String,
    #[server(default)] category: String,
    #[server(default)] filter: String,
    #[server(default)] sort: String,
    #[server(default)] page: i64,
) -> Result<StockPage, AppError> {
    let (state, caller) = context().await?;
    let query = StockQuery {
        q: SearchText::parse(&q, "q")?,
        category: SearchText::parse(&category, "category")?,
        filter: StockFilter::parse(&filter),
        sort: StockSort::parse(&sort),
        page: PageNumber::parse(page, "page")?,
    };
    super::service::stock_page(&state, &caller, &pantry, &query).await
}

#[server(prefix = "/api", endpoint = "product_stock")]
pub async fn get_product_stock(
    pantry: PantryId,
    product: ProductId,
    #[server(default)] page: i64,
) -> Result<ProductStockView, AppError> {
    let (state, caller) = context().await?;
    let page = PageNumber::parse(page, "page")?;
    super::service::product_stock(&state, &caller, &pantry, &product, page).await
}

/// `scope` is `pantry:<id>`, `campus:<id>` or `organization:<id>`;
/// `days` how far ahead counts as expiring (default 7).
#[server(prefix = "/api", endpoint = "stock_overview")]
pub async fn get_stock_overview(
    scope: String,
    #[server(default)] days: i64,
) -> Result<StockOverview, AppError> {
    let (state, caller) = context().await?;
    let scope = super::service::Scope::parse(&scope)?;
    super::service::overview(&state, &caller, &scope, days).await
}

/// Where a product is held, across every pantry the caller can see.
#[server(prefix = "/api", endpoint = "search_stock")]
pub async fn search_stock(#[server(default)] q: String) -> Result<StockSearch, AppError> {
    let (state, caller) = context().await?;
    let q = SearchText::parse(&q, "q")?;
    super::service::search_stock(&state, &caller, &q).await
}

/// One product across every pantry the caller can see: stock, lots,
/// latest movements and imported history.
#[server(prefix = "/api", endpoint = "product_everywhere")]
pub async fn get_product_everywhere(product: ProductId) -> Result<ProductEverywhere, AppError> {
    let (state, caller) = context().await?;
    super::service::product_everywhere(&state, &caller, &product).await
}

#[server(prefix = "/api", endpoint = "receive")]
#[allow(clippy::too_many_arguments)]
pub async fn receive(
    pantry: PantryId,
    product: ProductId,
    quantity: String,
    #[server(default)] best_before: String,
    #[server(default)] source: String,
    #[server(default)] donor: String,
    #[server(default)] weight_g: String,
    #[server(default)] note: String,
) -> Result<MovementReceipt, AppError> {
    let (state, caller) = context().await?;
    let f = super::service::MovementFields {
        quantity,
        best_before,
        source,
        donor,
        weight_g,
        note,
        ..Default::default()
    };
    super::service::receive(&state, &caller, &pantry, &product, &f).await
}

#[server(prefix = "/api", endpoint = "distribute")]
pub async fn distribute(
    pantry: PantryId,
    product: ProductId,
    quantity: String,
    #[server(default)] note: String,
) -> Result<MovementReceipt, AppError> {
    let (state, caller) = context().await?;
    let f = super::service::MovementFields {
        quantity,
        note,
        ..Default::default()
    };
    super::service::distribute(&state, &caller, &pantry, &product, &f).await
}

#[server(prefix = "/api", endpoint = "adjust")]
#[allow(clippy::too_many_arguments)]
pub async fn adjust(
    pantry: PantryId,
    product: ProductId,
    quantity: String,
    #[server(default)] direction: String,
    #[server(default)] reason: String,
    #[server(default)] best_before: String,
    #[server(default)] note: String,
) -> Result<MovementReceipt, AppError> {
    let (state, caller) = context().await?;
    let f = super::service::MovementFields {
        quantity,
        direction,
        reason,
        best_before,
        note,
        ..Default::default()
    };
    super::service::adjust(&state, &caller, &pantry, &product, &f).await
}

#[server(prefix = "/api", endpoint = "transfer")]
pub async fn transfer(
    pantry: PantryId,
    product: ProductId,
    quantity: String,
    #[server(default)] to: String,
    #[server(default)] note: String,
) -> Result<MovementReceipt, AppError> {
    let (state, caller) = context().await?;
    let f = super::service::MovementFields {
        quantity,
        to,
        note,
        ..Default::default()
    };
    super::service::transfer(&state, &caller, &pantry, &product, &f).await
}

#[server(prefix = "/api", endpoint = "discard")]
pub async fn discard(
    pantry: PantryId,
    product: ProductId,
    quantity: String,
    #[server(default)] reason: String,
    #[server(default)] lot: String,
    #[server(default)] note: String,
) -> Result<MovementReceipt, AppError> {
    let (state, caller) = context().await?;
    let f = super::service::MovementFields {
        quantity,
        reason,
        lot,
        note,
        ..Default::default()
    };
    super::service::discard(&state, &caller, &pantry, &product, &f).await
}

#[server(prefix = "/api", endpoint = "set_minimum")]
pub async fn set_minimum(
    pantry: PantryId,
    product: ProductId,
    #[server(default)] minimum: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::set_minimum(&state, &caller, &pantry, &product, &minimum).await
}

/// `GET /pantries/{id}/inventory.csv?q=&category=&filter=&sort=`: the
/// inventory list the page shows with the same settings, every page of it.
#[cfg(feature = "ssr")]
pub async fn inventory_csv_handler(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let result = async {
        let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
        let pantry: PantryId = id.parse()?;
        let query = StockQuery {
            q: SearchText::parse(&get("q"), "q")?,
            category: SearchText::parse(&get("category"), "category")?,
            filter: StockFilter::parse(&get("filter")),
            sort: StockSort::parse(&get("sort")),
            page: PageNumber::default(),
        };
        super::service::stock_csv(&state, &caller, &pantry, &query).await
    }
    .await;
    match result {
        Ok((name, body)) => (
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
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The inventory's routes besides its server functions: the live stream
/// and the CSV export.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/live/pantries/{id}", get(super::live::pantry_stream))
        .route("/pantries/{id}/inventory.csv", get(inventory_csv_handler))
}
