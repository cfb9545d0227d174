//! Finding your way: the navigation every page carries (the current
//! pantry, a switcher, the pantry's sections for the caller's role), the
//! help pages and the first-run checklist.

pub mod api;
pub mod help;
pub mod model;
#[cfg(feature = "ssr")]
pub mod service;
pub mod views;
