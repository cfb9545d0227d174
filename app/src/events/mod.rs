//! The event log: every state change appends an event in its own
//! transaction; the bus delivers committed events to consumers.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod bus;
#[cfg(feature = "ssr")]
pub mod domain;
#[cfg(feature = "ssr")]
pub mod rabbit;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod trace;
