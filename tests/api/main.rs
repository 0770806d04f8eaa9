//! Black-box API tests: the real server on a real port, real databases.
//! Most tests run twice: SQLite + in-process revocations, and PostgreSQL + Redis.

// In a test harness a failed expectation is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod admin;
mod assets;
mod auth;
mod catalogue;
mod cli;
mod cluster;
#[path = "../support/cluster_group.rs"]
mod cluster_group;
mod console;
mod errors;
mod evidence;
mod faults;
mod fleet;
mod health;
mod lifecycle;
mod limits;
mod links;
mod metrics;
mod migrations;
mod openapi;
mod outages;
#[path = "../support/pdf.rs"]
mod pdf;
#[path = "../support/ports.rs"]
mod ports;
mod purchase;
mod races;
mod receiver;
mod reconcile;
#[path = "../support/s3_server.rs"]
mod s3_server;
mod sentinel;
#[path = "../support/sentinel_group.rs"]
mod sentinel_group;
mod shutdown;
mod stamping;
mod storage;
mod store_contract;
#[path = "../support/tcp_proxy.rs"]
mod tcp_proxy;
mod webhooks;
mod windows;
