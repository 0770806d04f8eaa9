//! assetgate: an access-control gateway for digital assets with links that
//! can be revoked on the next request, on every instance.
//!
//! Request flow: `http` (routes, extractors that authenticate the caller) →
//! `domain` (values, state machine) → `store` (database) and `revocation`
//! (hot-path set) → `links` (JWT) → `storage` (files). `fulfilment` and
//! `history` run in the background inside `serve`.

pub mod cli;
pub mod config;
pub mod domain;
pub mod fulfilment;
pub mod history;
pub mod http;
pub mod links;
pub mod revocation;
pub mod startup;
pub mod state;
pub mod storage;
pub mod store;
pub mod telemetry;
