//! Organizations → campuses → pantries: the places everything else belongs to.

pub mod api;
#[cfg(feature = "ssr")]
pub mod consumers;
pub mod model;
#[cfg(feature = "ssr")]
pub mod service;
pub mod views;
