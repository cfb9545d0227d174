//! The public REST API under `/api/v1`: its routes, its OpenAPI 3.1
//! document (derived from the handlers, at `/api/v1/openapi.json`), its
//! error shape and cursors, and the rate limits that guard it and every
//! other state-changing request.
//!
//! Callers are API keys (`Authorization: Bearer lk_…`, see
//! `auth::keys`) or a signed-in browser session.

pub mod api;
#[cfg(feature = "ssr")]
pub mod cursor;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
mod forecasts;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
mod v1;
pub mod views;
#[cfg(feature = "ssr")]
mod visits;

#[cfg(feature = "ssr")]
pub use ssr::*;
#[cfg(feature = "ssr")]
pub(crate) use v1::{path, query};

#[cfg(feature = "ssr")]
mod ssr {
    use axum::routing::get;
    use axum::Router;
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::OpenApi;

    use super::error::{ErrorBody, ErrorDetail};
    use super::{forecasts, v1, visits};
    use crate::state::AppState;

    #[derive(OpenApi)]
    #[openapi(
        info(
            title = "Larder API",
            version = "1",
            description = "Products, stock, movements, visits and places of a Larder organization, for scripts, tills and spreadsheets. Authenticate with an API key from the organization's API keys page, sent as `Authorization: Bearer lk_…`. Lists are paged with cursors: pass `next_cursor` back as `cursor`. Every error is `{\"error\": {\"code\", \"message\", \"field\"?}}`. Requests are rate limited per key and per address; a 429 carries `Retry-After` in seconds."
        ),
        paths(v1::organizations, v1::places, v1::products, v1::stock, v1::movements, v1::post_movement, visits::visits, visits::post_visit, forecasts::recommendations, forecasts::forecasts, forecasts::forecast, forecasts::run_forecasts, crate::usage::api::api_usage_summary_handler, crate::usage::api::api_product_usage_handler, crate::usage::api::api_import_handler),
        components(schemas(ErrorBody, ErrorDetail)),
        modifiers(&BearerKey),
        security(("api_key" = [])),
        tags(
            (name = "places", description = "Organizations, campuses and pantries"),
            (name = "products", description = "The organization's catalog"),
            (name = "stock", description = "What pantries hold, and the ledger of stock movements"),
            (name = "visits", description = "Households served at a pantry's counter"),
            (name = "forecasts", description = "Demand forecasts per product, asking for new ones, and what to order"),
            (name = "usage", description = "What went out, per day and per product, including imported history"),
        )
    )]
    pub struct ApiDoc;

    struct BearerKey;

    impl utoipa::Modify for BearerKey {
        fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
            let components = doc.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("An API key, `lk_…`"))
                        .build(),
                ),
            );
        }
    }

    /// The document as served.
    pub fn document() -> utoipa::openapi::OpenApi {
        ApiDoc::openapi()
    }

    async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
        axum::Json(document())
    }

    pub fn routes() -> Router<AppState> {
        Router::new()
            .route("/api/v1/openapi.json", get(openapi_json))
            .route("/api/v1/organizations", get(v1::organizations))
            .route(
                "/api/v1/organizations/{organization_id}/places",
                get(v1::places),
            )
            .route(
                "/api/v1/organizations/{organization_id}/products",
                get(v1::products),
            )
            .route("/api/v1/pantries/{pantry_id}/stock", get(v1::stock))
            .route(
                "/api/v1/pantries/{pantry_id}/visits",
                get(visits::visits).post(visits::post_visit),
            )
            .route(
                "/api/v1/pantries/{pantry_id}/recommendations",
                get(forecasts::recommendations),
            )
            .route(
                "/api/v1/pantries/{pantry_id}/forecasts",
                get(forecasts::forecasts),
            )
            .route(
                "/api/v1/pantries/{pantry_id}/forecasts/runs",
                axum::routing::post(forecasts::run_forecasts),
            )
            .route(
                "/api/v1/pantries/{pantry_id}/forecasts/{product_id}",
                get(forecasts::forecast),
            )
            .route(
                "/api/v1/pantries/{pantry_id}/movements",
                get(v1::movements).post(v1::post_movement),
            )
    }
}
