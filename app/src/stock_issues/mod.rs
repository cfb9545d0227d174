//! The stock issue analyser: it watches stock, forecasts, orders and
//! supplier prices, and raises issues (runs out before the next delivery,
//! below the reorder point with nothing on order, expiring before use,
//! overstock, a price change), each with a plain explanation, the numbers
//! behind it and a proposed action that accepting performs.

#[cfg(feature = "ssr")]
pub mod advisor;
#[cfg(feature = "ssr")]
pub mod analyser;
pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
pub mod views;
