//! Usage: visits at the counter (the lines a household took, posted as
//! `distributed` movements in one transaction), their corrections and
//! voids (compensating movements), visit rules, and the reports funders
//! read.

pub mod api;
#[cfg(feature = "ssr")]
pub mod donations;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod feed;
#[cfg(feature = "ssr")]
pub mod history;
#[cfg(feature = "ssr")]
pub mod import;
#[cfg(feature = "ssr")]
pub mod report;
#[cfg(feature = "ssr")]
pub mod service;
