//! Stock: lots, the movement ledger, the stock projection, and the stock
//! checker's queries, with live updates.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
mod batch;
#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod consumers;
#[cfg(feature = "ssr")]
pub mod ledger;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod writer;
