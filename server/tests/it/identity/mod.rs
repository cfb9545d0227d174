//! Identity: who belongs where and what they may change, API keys and the
//! public REST API.

mod account;
pub(crate) mod api;
mod audit;
mod contract;
mod isolation;
mod issuer;
mod mail;
mod members;
mod pool;
mod sso;
