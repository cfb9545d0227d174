//! Forecasting and replenishment: daily demand per pantry and product
//! (what went out, imported history, out-of-stock days flagged), forecasts
//! with prediction intervals from the `forecast` crate, made by a
//! background worker (nightly, on request, and after a history import),
//! and what to order by when.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod run;
#[cfg(feature = "ssr")]
pub mod series;
#[cfg(feature = "ssr")]
pub mod service;
