//! Buying stock: suppliers and what they sell, and purchase orders that
//! a pantry drafts (by hand or from its recommendations), submits and
//! receives. Open orders count as "on order" in the recommendations.

pub mod api;
#[cfg(feature = "ssr")]
pub mod drafting;
#[cfg(feature = "ssr")]
pub mod feed;
pub mod model;
#[cfg(feature = "ssr")]
pub mod orders;
#[cfg(feature = "ssr")]
pub mod suppliers;
#[cfg(feature = "ssr")]
pub mod sync;
pub mod views;
