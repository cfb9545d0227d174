//! Alerts that reach people: the notification centre (a bell with the
//! unread count in the header, the list, marking read), each person's
//! choice of channel per kind, and the consumer that turns events into
//! notifications for the managers they concern.

pub mod api;
pub mod browser;
#[cfg(feature = "ssr")]
pub mod community;
#[cfg(feature = "ssr")]
pub mod digest;
pub mod model;
#[cfg(feature = "ssr")]
pub mod notifier;
#[cfg(feature = "ssr")]
pub mod push;
#[cfg(feature = "ssr")]
pub mod service;
pub mod views;
