//! Server functions for suppliers and purchase orders, and an order's CSV.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use super::model::*;
use crate::error::AppError;
use crate::ids::{OrganizationId, PantryId, PurchaseOrderId, SupplierId, SupplierItemId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "suppliers")]
pub async fn get_suppliers(organization: OrganizationId) -> Result<SupplierList, AppError> {
    let (state, caller) = context().await?;
    super::suppliers::suppliers(&state, &caller, &organization).await
}

#[server(prefix = "/api", endpoint = "supplier")]
pub async fn get_supplier(id: SupplierId) -> Result<SupplierDetail, AppError> {
    let (state, caller) = context().await?;
    super::suppliers::supplier(&state, &caller, &id).await
}

/// Adds a supplier, or changes one (`id`); returns its id.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "save_supplier")]
pub async fn save_supplier(
    organization: OrganizationId,
    #[server(default)] id: String,
    #[server(default)] name: String,
    #[server(default)] contact_name: String,
    #[server(default)] email: String,
    #[server(default)] phone: String,
    #[server(default)] lead_time_days: String,
    #[server(default)] order_days: String,
    #[server(default)] minimum_order: String,
    #[server(default)] notes: String,
) -> Result<SupplierId, AppError> {
    let (state, caller) = context().await?;
    let input = SupplierInput {
        organization,
        id,
        name,
        contact_name,
        email,
        phone,
        lead_time_days,
        order_days,
        minimum_order,
        notes,
    };
    super::suppliers::save_supplier(&state, &caller, &input).await
}

#[server(prefix = "/api", endpoint = "archive_supplier")]
pub async fn archive_supplier(id: SupplierId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::suppliers::archive_supplier(&state, &caller, &id).await
}

/// Adds an item to a supplier, or changes the one with that SKU.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/api", endpoint = "save_supplier_item")]
pub async fn save_supplier_item(
    supplier: SupplierId,
    #[server(default)] sku: String,
    #[server(default)] description: String,
    #[server(default)] barcode: String,
    #[server(default)] product: String,
    #[server(default)] pack_size: String,
    #[server(default)] price: String,
    #[server(default)] unavailable: String,
) -> Result<SupplierItemId, AppError> {
    let (state, caller) = context().await?;
    let input = ItemInput {
        supplier,
        sku,
        description,
        barcode,
        product,
        pack_size,
        price,
        unavailable,
    };
    super::suppliers::save_item(&state, &caller, &input).await
}

/// Brings in a supplier's whole catalog from a file's text (CSV or JSON).
#[server(prefix = "/api", endpoint = "import_supplier_catalog", input = Json)]
pub async fn import_supplier_catalog(
    supplier: SupplierId,
    name: String,
    text: String,
) -> Result<SyncReport, AppError> {
    let (state, caller) = context().await?;
    super::sync::import_catalog(&state, &caller, &supplier, &name, &text).await
}

/// Sets (or, with an empty address, stops) fetching a supplier's catalog
/// from its web address, on a schedule or on demand only.
#[server(prefix = "/api", endpoint = "save_supplier_feed")]
pub async fn save_supplier_feed(
    supplier: SupplierId,
    #[server(default)] url: String,
    #[server(default)] schedule: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::feed::save(&state, &caller, &supplier, &url, &schedule).await
}

/// Fetches a supplier's catalog from its web address now.
#[server(prefix = "/api", endpoint = "sync_supplier_now")]
pub async fn sync_supplier_now(supplier: SupplierId) -> Result<SyncReport, AppError> {
    let (state, caller) = context().await?;
    super::feed::sync_now(&state, &caller, &supplier).await
}

#[server(prefix = "/api", endpoint = "supplier_syncs")]
pub async fn get_supplier_syncs(supplier: SupplierId) -> Result<Vec<SyncRow>, AppError> {
    let (state, caller) = context().await?;
    super::sync::history(&state, &caller, &supplier).await
}

#[server(prefix = "/api", endpoint = "purchase_orders")]
pub async fn get_orders(pantry: PantryId) -> Result<OrderList, AppError> {
    let (state, caller) = context().await?;
    super::orders::orders(&state, &caller, &pantry).await
}

#[server(prefix = "/api", endpoint = "purchase_order")]
pub async fn get_order(id: PurchaseOrderId) -> Result<PurchaseOrder, AppError> {
    let (state, caller) = context().await?;
    super::orders::order(&state, &caller, &id).await
}

/// Starts a draft order; returns its id.
#[server(prefix = "/api", endpoint = "create_purchase_order")]
pub async fn create_order(
    pantry: PantryId,
    supplier: SupplierId,
    #[server(default)] note: String,
) -> Result<PurchaseOrderId, AppError> {
    let (state, caller) = context().await?;
    super::orders::create_order(&state, &caller, &pantry, &supplier, &note).await
}

/// Sets a draft's packs of a supplier item (0 takes it off).
#[server(prefix = "/api", endpoint = "set_order_line")]
pub async fn set_order_line(
    order: PurchaseOrderId,
    item: SupplierItemId,
    #[server(default)] packs: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::orders::set_line(&state, &caller, &order, &item, &packs).await
}

#[server(prefix = "/api", endpoint = "submit_purchase_order")]
pub async fn submit_order(order: PurchaseOrderId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::orders::submit(&state, &caller, &order).await
}

#[server(prefix = "/api", endpoint = "cancel_purchase_order")]
pub async fn cancel_order(order: PurchaseOrderId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::orders::cancel(&state, &caller, &order).await
}

/// Receives what came of an order, line by line.
#[server(prefix = "/api", endpoint = "receive_purchase_order", input = Json)]
pub async fn receive_order(
    order: PurchaseOrderId,
    lines: Vec<ReceiptLine>,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::orders::receive(&state, &caller, &order, &lines).await
}

/// Drafts orders from the pantry's recommendations, one per supplier.
#[server(prefix = "/api", endpoint = "draft_purchase_orders")]
pub async fn draft_orders(pantry: PantryId) -> Result<Drafted, AppError> {
    let (state, caller) = context().await?;
    super::drafting::draft_from_recommendations(&state, &caller, &pantry).await
}

#[cfg(feature = "ssr")]
pub use files::routes;

#[cfg(feature = "ssr")]
mod files {
    use axum::extract::{Path, State};
    use axum::http::{header, HeaderMap};
    use axum::response::{IntoResponse, Response};

    use crate::ids::PurchaseOrderId;
    use crate::state::AppState;

    pub fn routes() -> axum::Router<AppState> {
        axum::Router::new().route("/orders/{id}/order.csv", axum::routing::get(order_csv))
    }

    /// `GET /orders/{id}/order.csv`: the order for the supplier.
    async fn order_csv(
        State(state): State<AppState>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> Response {
        let result = async {
            let id: PurchaseOrderId = id.parse()?;
            let caller = crate::auth::service::caller_from_headers(&state, &headers).await?;
            super::super::orders::csv(&state, &caller, &id).await
        }
        .await;
        match result {
            Ok((name, body)) => (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => e.into_response(),
        }
    }
}
