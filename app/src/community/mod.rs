//! The community: pantry timelines with posts, comments and likes; people
//! following pantries and each other; blocks; each person's home timeline,
//! kept by a consumer that fans posts out to followers.

pub mod api;
#[cfg(feature = "ssr")]
pub mod automatic;
#[cfg(feature = "ssr")]
pub mod live;
pub mod model;
#[cfg(feature = "ssr")]
pub mod moderation;
pub mod moderation_views;
pub mod people_views;
pub mod photo_views;
#[cfg(feature = "ssr")]
pub mod photos;
#[cfg(feature = "ssr")]
pub mod profiles;
#[cfg(feature = "ssr")]
pub mod reads;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod social;
#[cfg(feature = "ssr")]
pub mod timelines;
pub mod views;
