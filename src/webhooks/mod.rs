//! Sending webhooks (Standard Webhooks v1): signatures, where a webhook may
//! go, and the HTTP client that takes it there. What to send and when is the
//! application's (`app::webhooks`).

pub mod signature;
pub mod target;

use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::store::webhooks::AttemptOutcome;
use target::{Policy, PolicyResolver};

/// Installs the process's TLS provider (ring) for HTTPS clients, once; later
/// calls do nothing. Any program that builds a `reqwest::Client` with this
/// crate linked calls it first (the server does at start-up).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of deliveries: resolves through the policy (so an internal
/// address is never connected to), follows no redirects, gives up after `timeout`.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    policy: Policy,
}

impl Sender {
    pub fn new(policy: Policy, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(PolicyResolver(policy)))
            .user_agent(concat!("assetgate-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, policy })
    }

    /// POSTs one message; never fails, the outcome says what happened.
    pub async fn send(
        &self,
        url: &str,
        id: &str,
        body: &str,
        secret: &SecretString,
    ) -> AttemptOutcome {
        let started = Instant::now();
        let elapsed = || i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let failed = |error: String| AttemptOutcome {
            status: None,
            error: Some(error),
            duration_ms: elapsed(),
        };
        // Checked again at every delivery: the URL's form (an IP literal
        // never goes through the resolver) and, through it, its name.
        if let Err(e) = self.policy.parse(url) {
            return failed(format!("refused: {e}"));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match signature::sign(secret, id, timestamp, body.as_bytes()) {
            Ok(s) => s,
            Err(e) => return failed(e.to_string()),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(res) => {
                // The status says it all; `error` is for attempts without one.
                AttemptOutcome {
                    status: Some(res.status().as_u16()),
                    error: None,
                    duration_ms: elapsed(),
                }
            }
            Err(e) if e.is_timeout() => failed("timed out".to_owned()),
            Err(e) => failed(error_chain(&e)),
        }
    }
}

/// An error and its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text.chars().take(500).collect()
}
