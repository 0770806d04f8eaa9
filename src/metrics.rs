//! Prometheus metrics (SPEC §10) through the `metrics` facade.
//!
//! Recording stays off the hot path's budget: `/access` records into handles
//! registered once (a handle is an atomic counter or a lock-free histogram
//! bucket) — per worker thread for the request series, globally for the
//! access results — so a download takes no lock and allocates nothing here.
//! Labels are route *patterns* (`/access/{token}`, `/webhooks/{webhook_id}`),
//! never a raw path: a link token never becomes a label value.
//!
//! Gauges that describe shared state (revocation store complete, outbox and
//! fulfilment queue depth, history events dropped) are read when scraped.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Seconds: 0.25 ms … 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// The route label of every `/access` request.
pub const ACCESS_ROUTE: &str = "/access/{token}";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same
/// handle) and starts its upkeep. `None` if another recorder was installed.
pub fn install() -> Option<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Some(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE.get().cloned();
    }
    describe();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .ok()?;
    let _ = HANDLE.set(handle.clone());
    HANDLE.get().cloned()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "assetgate_http_requests_total",
        "HTTP requests by route pattern, method and status"
    );
    describe_histogram!(
        "assetgate_http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response head, by route pattern (/access: assetgate_access_duration_seconds)"
    );
    describe_counter!(
        "assetgate_access_total",
        "/access answers by result: served, redirected, not_modified, revoked, expired, invalid, unavailable, rate_limited, error"
    );
    describe_counter!(
        "assetgate_access_bytes_total",
        Unit::Bytes,
        "Body bytes of /access answers that served a file (200 and 206)"
    );
    describe_gauge!(
        "assetgate_revocation_store_complete",
        "1 when the revocation set is confirmed complete, else 0"
    );
    describe_gauge!(
        "assetgate_revocation_outbox_depth",
        "Canceled lines whose revocation the store has not confirmed"
    );
    describe_gauge!(
        "assetgate_fulfilment_queue_depth",
        "Order lines waiting for fulfilment"
    );
    describe_counter!(
        "assetgate_history_dropped_events_total",
        "Access history events dropped (buffer or retry backlog full)"
    );
    describe_counter!(
        "assetgate_failed_logins_total",
        "Presented tokens that matched nothing, by surface: vendor_api, admin_api, console"
    );
    describe_counter!(
        "assetgate_webhook_deliveries_total",
        "Webhook delivery attempts by result: delivered, retried, failed, gone"
    );
}

/// The text of `/metrics` (after the scrape-time gauges were set).
pub fn render() -> Option<String> {
    let mut text = HANDLE.get().map(PrometheusHandle::render)?;
    ACCESS_LATENCY.render(
        &mut text,
        "assetgate_access_duration_seconds",
        "Time to the response head of /access requests",
    );
    REVOCATION_CHECK.render(
        &mut text,
        "assetgate_revocation_check_duration_seconds",
        "One revocation-set lookup on /access",
    );
    Some(text)
}

/// A Prometheus histogram for the download path: fixed buckets of plain
/// counters, one set per worker thread (no contention, no allocation, no
/// lock after a thread's first record), summed when scraped.
pub struct ShardedHistogram {
    shards: std::sync::Mutex<Vec<std::sync::Arc<HistogramShard>>>,
}

#[derive(Default)]
pub struct HistogramShard {
    /// One per bound of [`LATENCY_BUCKETS`], then +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl ShardedHistogram {
    const fn new() -> Self {
        Self {
            shards: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn shard(&self) -> std::sync::Arc<HistogramShard> {
        let shard = std::sync::Arc::new(HistogramShard::default());
        if let Ok(mut shards) = self.shards.lock() {
            shards.push(shard.clone());
        }
        shard
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        use std::fmt::Write as _;
        let Ok(shards) = self.shards.lock() else {
            return;
        };
        let mut counts = [0u64; LATENCY_BUCKETS.len() + 1];
        let mut sum_ns = 0u64;
        for s in shards.iter() {
            for (total, b) in counts.iter_mut().zip(&s.buckets) {
                *total += b.load(Ordering::Relaxed);
            }
            sum_ns += s.sum_ns.load(Ordering::Relaxed);
        }
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += counts[LATENCY_BUCKETS.len()];
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(out, "{name}_sum {}", sum_ns as f64 / 1e9);
        let _ = writeln!(out, "{name}_count {cumulative}\n");
    }
}

impl HistogramShard {
    fn record(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let i = LATENCY_BUCKETS.partition_point(|b| *b < secs);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

static ACCESS_LATENCY: ShardedHistogram = ShardedHistogram::new();
static REVOCATION_CHECK: ShardedHistogram = ShardedHistogram::new();

thread_local! {
    static MY_ACCESS_LATENCY: std::sync::Arc<HistogramShard> = ACCESS_LATENCY.shard();
    static MY_REVOCATION_CHECK: std::sync::Arc<HistogramShard> = REVOCATION_CHECK.shard();
}

/// Records one revocation-set lookup on `/access`.
pub fn record_revocation_check(elapsed: Duration) {
    MY_REVOCATION_CHECK.with(|h| h.record(elapsed));
}

/// The statuses `/access` answers, each with its request series registered
/// once (GET, HEAD); anything else goes through [`record_request`].
const ACCESS_STATUSES: [u16; 13] = [
    200, 206, 303, 304, 400, 403, 404, 405, 410, 416, 429, 500, 503,
];

/// The `/access` series, registered once: requests by method and status,
/// latency, results, bytes, the revocation check.
pub struct AccessSeries {
    get: [Counter; ACCESS_STATUSES.len()],
    head: [Counter; ACCESS_STATUSES.len()],
    served: Counter,
    redirected: Counter,
    not_modified: Counter,
    revoked: Counter,
    expired: Counter,
    invalid: Counter,
    unavailable: Counter,
    rate_limited: Counter,
    error: Counter,
    pub bytes: Counter,
}

/// Handles registered with whatever recorder is installed at first use
/// (install it before serving).
pub static ACCESS: LazyLock<AccessSeries> = LazyLock::new(|| {
    let result = |r: &'static str| metrics::counter!("assetgate_access_total", "result" => r);
    let requests = |method: &'static str| {
        ACCESS_STATUSES.map(|status| {
            metrics::counter!(
                "assetgate_http_requests_total",
                "route" => ACCESS_ROUTE,
                "method" => method,
                "status" => status.to_string()
            )
        })
    };
    AccessSeries {
        get: requests("GET"),
        head: requests("HEAD"),

        served: result("served"),
        redirected: result("redirected"),
        not_modified: result("not_modified"),
        revoked: result("revoked"),
        expired: result("expired"),
        invalid: result("invalid"),
        unavailable: result("unavailable"),
        rate_limited: result("rate_limited"),
        error: result("error"),
        bytes: metrics::counter!("assetgate_access_bytes_total"),
    }
});

impl AccessSeries {
    /// Counts one `/access` request and its time to the response head
    /// (`assetgate_access_duration_seconds`).
    pub fn request(&self, head: bool, status: u16, started: Instant) {
        MY_ACCESS_LATENCY.with(|h| h.record(started.elapsed()));
        match ACCESS_STATUSES.iter().position(|s| *s == status) {
            Some(i) => if head { &self.head[i] } else { &self.get[i] }.increment(1),
            None => {
                let method = if head { "HEAD" } else { "GET" };
                metrics::counter!(
                    "assetgate_http_requests_total",
                    "route" => ACCESS_ROUTE,
                    "method" => method,
                    "status" => status.to_string()
                )
                .increment(1);
            }
        }
    }

    /// Counts one `/access` answer by the name it was recorded under in the
    /// history (`served`, `not_modified` or an error name).
    pub fn count(&self, result: &str) {
        match result {
            "served" => &self.served,
            "redirected" => &self.redirected,
            "not_modified" => &self.not_modified,
            "access_revoked" => &self.revoked,
            "link_expired" => &self.expired,
            "link_invalid" | "route_not_found" => &self.invalid,
            "revocation_unavailable" | "storage_unavailable" => &self.unavailable,
            "rate_limited" => &self.rate_limited,
            _ => &self.error,
        }
        .increment(1);
    }
}

/// A method as a label value, without allocating.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

type SeriesKey = (Cow<'static, str>, &'static str, u16);

thread_local! {
    /// This worker thread's request series, registered at first use.
    static REQUESTS: RefCell<HashMap<SeriesKey, (Counter, Histogram)>> =
        RefCell::new(HashMap::new());
}

/// Records one request: its route pattern, method, status and the time to
/// its response head. A series already seen on this thread costs a map
/// lookup and two atomic operations.
pub fn record_request(
    route: Cow<'static, str>,
    method: &'static str,
    status: u16,
    started: Instant,
) {
    let elapsed = started.elapsed().as_secs_f64();
    REQUESTS.with(|cell| {
        let mut series = cell.borrow_mut();
        let key = (route, method, status);
        if let Some((count, latency)) = series.get(&key) {
            count.increment(1);
            latency.record(elapsed);
            return;
        }
        let route = key.0.clone().into_owned();
        let count = metrics::counter!(
            "assetgate_http_requests_total",
            "route" => route.clone(),
            "method" => method,
            "status" => status.to_string()
        );
        let latency =
            metrics::histogram!("assetgate_http_request_duration_seconds", "route" => route);
        count.increment(1);
        latency.record(elapsed);
        series.insert(key, (count, latency));
    });
}
