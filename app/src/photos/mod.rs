//! Photos: a box of donations photographed on a phone becomes an intake
//! whose photos are checked and stored on upload, read in the background
//! (an event consumer) for barcodes, printed dates and what the items look
//! like, and summed into suggested lines that staff confirm as one
//! `received` movement per product.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "hydrate")]
pub mod optimize;
#[cfg(feature = "hydrate")]
pub mod queue;
#[cfg(feature = "hydrate")]
pub mod send;

#[cfg(feature = "ssr")]
pub mod analysis;
#[cfg(feature = "ssr")]
pub mod aws;
#[cfg(feature = "ssr")]
pub mod barcodes;
#[cfg(feature = "ssr")]
pub mod dates;
#[cfg(feature = "ssr")]
pub mod items;
#[cfg(feature = "ssr")]
pub mod llm;
#[cfg(feature = "ssr")]
pub mod picture;
#[cfg(feature = "ssr")]
pub mod s3;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod store;
