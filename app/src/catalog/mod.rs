//! The catalog: an organization's products, their units, categories and
//! barcodes.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod service;
