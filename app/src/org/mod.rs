//! Organizations → campuses → pantries: the places everything else belongs to.

pub mod api;
pub mod model;
#[cfg(feature = "ssr")]
pub mod service;
pub mod views;
