//! Accounts and access: local sign-in, sessions, first-start setup, roles on
//! organizations, campuses and pantries, and invitations.

#[cfg(feature = "ssr")]
pub mod account;
pub mod account_views;
pub mod api;
#[cfg(feature = "ssr")]
pub mod audit;
pub mod audit_views;
#[cfg(feature = "ssr")]
pub mod callers;
#[cfg(feature = "ssr")]
pub mod invitations;
#[cfg(feature = "ssr")]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod members;
pub mod model;
#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod pool;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod sessions;
pub mod views;
