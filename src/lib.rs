//! assetgate: an access-control gateway for digital assets with links that
//! can be revoked on the next request, on every instance.
//!
//! Request flow: `http` (routes parse, call and render; extractors
//! authenticate the caller) and `cli` → `app` (one module per use case, the
//! only place that orchestrates) → `domain` (values, state machine) →
//! `store` (database) and `revocation` (hot-path set) → `links` (JWT) →
//! `storage` (files). Workers (fulfilment, revocation maintainer, history
//! writer) run inside `serve`.

pub mod app;
pub mod cli;
pub mod config;
pub mod console;
pub mod domain;
#[doc(hidden)]
pub mod fuzz;
pub mod history;
pub mod http;
pub mod links;
pub mod metrics;
pub mod revocation;
pub mod stamping;
pub mod startup;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod webhooks;
