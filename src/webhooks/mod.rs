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
            // Never through a proxy from the environment (HTTP_PROXY…): the
            // proxy would connect, and the address check would never see
            // where to.
            .no_proxy()
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
            // Without the URL: its query may hold the receiver's secrets.
            Err(e) => failed(error_chain(&e.without_url())),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    const OPEN: Policy = Policy {
        allow_http: true,
        allow_private_networks: true,
    };

    /// A listener that answers every connection with `answer` and counts them.
    async fn listener(answer: &'static str) -> (u16, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn a_proxy_in_the_environment_is_never_used() {
        install_tls_provider();
        let (proxy, via_proxy) =
            listener("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n").await;
        let (receiver, received) =
            listener("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let proxy_url = format!("http://127.0.0.1:{proxy}");
        // SAFETY: nextest runs each test in a process of its own; nothing else
        // reads the environment in this one while the test runs.
        unsafe {
            for name in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
                std::env::set_var(name, &proxy_url);
            }
            std::env::remove_var("NO_PROXY");
            std::env::remove_var("no_proxy");
        }
        let sender = Sender::new(OPEN, Duration::from_secs(5)).expect("client");
        let secret = SecretString::from("whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=");
        let outcome = sender
            .send(
                &format!("http://127.0.0.1:{receiver}/hook"),
                "msg_1",
                "{}",
                &secret,
            )
            .await;
        assert_eq!(outcome.status, Some(204), "{outcome:?}");
        assert_eq!(received.load(Ordering::SeqCst), 1);
        assert_eq!(
            via_proxy.load(Ordering::SeqCst),
            0,
            "went through the proxy"
        );
    }

    #[tokio::test]
    async fn a_failed_attempt_does_not_record_the_urls_query() {
        install_tls_provider();
        // A port nothing listens on: bound, then closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let sender = Sender::new(OPEN, Duration::from_secs(5)).expect("client");
        let secret = SecretString::from("whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=");
        let outcome = sender
            .send(
                &format!("http://127.0.0.1:{port}/hook?apikey=s3cr3t-key"),
                "msg_1",
                "{}",
                &secret,
            )
            .await;
        let error = outcome.error.expect("the attempt failed");
        assert!(!error.is_empty());
        assert!(!error.contains("s3cr3t-key"), "{error}");
        assert!(!error.contains("apikey"), "{error}");
    }
}
