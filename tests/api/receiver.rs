//! A real webhook receiver for tests: an actix server on a local port that
//! verifies Standard Webhooks signatures with its own implementation (not the
//! gateway's), records every request, and answers as each path is scripted:
//! a status, or hanging.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// Holds the request open this long (then answers 200, if anyone listens).
    Hang(Duration),
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: i64,
    /// The signature verified with the path's secret, exactly (no truncation).
    pub verified: bool,
    pub body: Value,
    pub at: Instant,
    /// Requests to any path that were still open when this one arrived.
    pub open_elsewhere: usize,
}

#[derive(Default)]
struct Inner {
    secrets: HashMap<String, String>,
    scripts: HashMap<String, VecDeque<Answer>>,
    received: Vec<Received>,
    open: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    inner: Shared,
    handle: actix_web::dev::ServerHandle,
}

/// Verifies a `webhook-signature` header the way a receiver must: the key is
/// the base64 after `whsec_`; any of the space-separated `v1,` signatures
/// must equal HMAC-SHA256 over `id.timestamp.body` in full.
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| b64.decode(k).ok())
    else {
        return false;
    };
    header.split(' ').any(|candidate| {
        let Some(sig) = candidate
            .strip_prefix("v1,")
            .and_then(|s| b64.decode(s).ok())
        else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        // verify_slice: constant time, and the length must match.
        mac.verify_slice(&sig).is_ok()
    })
}

struct OpenGuard(Shared, String);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.0.lock()
            && let Some(n) = inner.open.get_mut(&self.1)
        {
            *n = n.saturating_sub(1);
        }
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, inner: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path = req.path().to_owned();
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let answer = {
        let mut state = inner.lock().unwrap();
        let verified = state
            .secrets
            .get(&path)
            .is_some_and(|s| verify(s, &id, &timestamp, &body, &signature))
            && header("content-type") == "application/json";
        let open_elsewhere = state
            .open
            .iter()
            .filter(|(p, _)| **p != path)
            .map(|(_, n)| *n)
            .sum();
        state.received.push(Received {
            path: path.clone(),
            id,
            timestamp: timestamp.parse().unwrap_or(0),
            verified,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
            open_elsewhere,
        });
        *state.open.entry(path.clone()).or_default() += 1;
        state
            .scripts
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Answer::Status(200))
    };
    let _open = OpenGuard(inner.get_ref().clone(), path);
    match answer {
        Answer::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
                .finish()
        }
        Answer::Hang(d) => {
            tokio::time::sleep(d).await;
            HttpResponse::Ok().finish()
        }
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let data = web::Data::new(inner.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::post().to(receive))
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            inner,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The secret `path`'s signatures are checked with.
    pub fn set_secret(&self, path: &str, secret: &str) {
        self.inner
            .lock()
            .unwrap()
            .secrets
            .insert(path.to_owned(), secret.to_owned());
    }

    /// The next answers of `path`, in order (then 200).
    pub fn script(&self, path: &str, answers: &[Answer]) {
        self.inner
            .lock()
            .unwrap()
            .scripts
            .entry(path.to_owned())
            .or_default()
            .extend(answers.iter().copied());
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.inner
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Requests to `path` that carry an event of this type.
    pub fn events(&self, path: &str, kind: &str) -> Vec<Received> {
        self.received(path)
            .into_iter()
            .filter(|r| r.body["type"] == kind)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

#[test]
fn the_receivers_verifier_accepts_the_published_vector_and_nothing_less() {
    let (secret, id, ts, body) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
    );
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verify(secret, id, ts, body, good));
    assert!(verify(secret, id, ts, body, &format!("v1,bm9wZQ== {good}")));
    // Truncated, altered body, other timestamp, other id: all refused.
    assert!(!verify(
        secret,
        id,
        ts,
        body,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE"
    ));
    assert!(!verify(secret, id, ts, br#"{"test": 2432232315}"#, good));
    assert!(!verify(secret, id, "1614265331", body, good));
    assert!(!verify(secret, "msg_other", ts, body, good));
}
