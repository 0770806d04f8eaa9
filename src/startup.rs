//! Builds the application: opens storage and database, runs migrations,
//! loads the signing keys, picks the revocation store, starts the background
//! workers, and binds its own listener (port 0 picks a free one).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App as ActixApp, HttpServer, web};
use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::app::housekeeping::Housekeeping;
use crate::app::webhooks::{Deliveries, WebhookRules};
use crate::app::worker::{self, Health, Schedule};
use crate::app::{App, Fulfilment, Maintainer, Policy, Retry};
use crate::config::Settings;
use crate::http::state::{AppState, PublicUrl};
use crate::http::{self, middleware};
use crate::links::{LinkSigner, load_or_create_signing_key};
use crate::revocation::{
    ClusterRevocations, MemoryRevocations, RedisRevocations, SetState, SharedRevocations,
};
use crate::storage::Storage;
use crate::store::Store;
use crate::telemetry::AssetgateRootSpan;
use crate::webhooks::Sender;

pub struct Application {
    port: u16,
    public_url: String,
    server: Server,
    state: AppState,
    stop: CancellationToken,
    background: Vec<tokio::task::JoinHandle<()>>,
    history_writer: tokio::task::JoinHandle<()>,
    /// This instance's name in fulfilment claims and webhook leases.
    instance: String,
}

/// Longest instance name: `order_lines.claimed_by` is VARCHAR(64).
const MAX_INSTANCE_NAME: usize = 64;

/// A name for this process in fulfilment claims and rebuild locks:
/// `{host}-{pid}-{random}`, always at most 64 characters. A long host name
/// (Kubernetes pod names reach 63) keeps its end, where pods differ.
pub fn instance_name(host: &str, pid: u32) -> String {
    let suffix = format!("-{pid}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let host: Vec<char> = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    let keep = MAX_INSTANCE_NAME - suffix.len();
    let host: String = host[host.len().saturating_sub(keep)..].iter().collect();
    let host = if host.is_empty() {
        "host".to_owned()
    } else {
        host
    };
    format!("{host}{suffix}")
}

pub fn revocation_store(settings: &Settings, instance: &str) -> anyhow::Result<SharedRevocations> {
    let sentinels = settings
        .redis
        .sentinel_addrs()
        .map_err(|why| anyhow::anyhow!("redis.sentinels: {why}"))?;
    let cluster = settings
        .redis
        .cluster_addrs()
        .map_err(|why| anyhow::anyhow!("redis.cluster_nodes: {why}"))?;
    let acks = settings
        .redis
        .replica_acks()
        .map_err(|why| anyhow::anyhow!("redis.min_replica_acks: {why}"))?;
    let timeout = Duration::from_millis(settings.redis.timeout_ms);
    let tuned = |redis: RedisRevocations| {
        redis
            .coalescing(settings.redis.coalesce_checks)
            .replica_acks(acks)
    };
    if !cluster.is_empty() {
        let password = settings.redis.cluster_password.expose_secret();
        let redis = ClusterRevocations::new(
            &cluster,
            Some(password),
            &settings.redis.key_prefix,
            settings.redis.cluster_buckets,
            timeout,
            instance,
        )?
        .coalescing(settings.redis.coalesce_checks);
        Ok(Arc::new(redis))
    } else if !sentinels.is_empty() {
        let mut server =
            redis::RedisConnectionInfo::default().set_db(settings.redis.sentinel_redis_db);
        let password = settings.redis.sentinel_redis_password.expose_secret();
        if !password.is_empty() {
            server = server.set_password(password);
        }
        let redis = RedisRevocations::with_sentinels(
            &sentinels,
            settings.redis.master_name.trim(),
            server,
            &settings.redis.key_prefix,
            timeout,
            instance,
        )?;
        Ok(Arc::new(tuned(redis)))
    } else if settings.uses_redis() {
        let url = settings.redis.url.expose_secret();
        let redis = RedisRevocations::new(url, &settings.redis.key_prefix, timeout, instance)?;
        Ok(Arc::new(tuned(redis)))
    } else {
        Ok(Arc::new(MemoryRevocations::new()))
    }
}

fn ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 2)
}

fn policy(settings: &Settings) -> Policy {
    let links = &settings.links;
    Policy {
        revocation_window_ms: ms(links.ttl_seconds + links.revocation_margin_seconds + 1),
        validation_ttl_ms: ms(settings.validation.ttl_seconds),
    }
}

fn webhook_policy(settings: &Settings) -> crate::webhooks::target::Policy {
    crate::webhooks::target::Policy {
        allow_http: settings.webhooks.allow_http,
        allow_private_networks: settings.webhooks.allow_private_networks,
    }
}

/// The application layer over an open store: signing keys, revocation store
/// (built, not yet connected), storage, rules. `serve` runs it with its
/// workers; the CLI calls its use cases.
pub fn build_app(
    settings: &Settings,
    store: Store,
    storage: Storage,
    public_url: &str,
    instance: &str,
) -> anyhow::Result<App> {
    let key = load_or_create_signing_key(&settings.links)?;
    let previous = settings.links.previous_keys()?;
    let signer = Arc::new(LinkSigner::new(
        &key,
        &previous,
        settings.links.ttl_seconds,
        public_url,
    ));
    let hooks = &settings.webhooks;
    Ok(App::new(
        store,
        revocation_store(settings, instance)?,
        signer,
        storage,
        policy(settings),
        WebhookRules {
            policy: webhook_policy(settings),
            retry_schedule: hooks.schedule()?,
            disable_after: Duration::from_secs(hooks.disable_after_hours * 3600),
            max_endpoints: hooks.max_endpoints_per_vendor,
        },
        crate::app::stamp::Stamper::new(
            settings.stamping.template.clone(),
            settings.stamping.max_bytes,
            settings.stamping.concurrency,
        ),
    ))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.check_for_serving()?;
        crate::webhooks::install_tls_provider();
        if settings.metrics.enabled && crate::metrics::install().is_none() {
            anyhow::bail!("could not install the metrics recorder (another one is installed)");
        }
        let settings = Arc::new(settings);
        let instance = instance_name(
            &std::env::var("HOSTNAME").unwrap_or_default(),
            std::process::id(),
        );
        let instance_for_shutdown = instance.clone();
        let storage = Storage::open(&settings.storage)?;
        let store = Store::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            let applied = store
                .migrate()
                .await
                .context("running database migrations")?;
            if !applied.is_empty() {
                tracing::info!(?applied, "database migrations applied");
            }
        }
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "binding {}:{} (server.host / server.port); is another process using it?",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let public_url = match settings.server.public_url.trim() {
            "" => format!("http://{}:{port}", settings.server.host),
            url => url.trim_end_matches('/').to_owned(),
        };
        let app = build_app(&settings, store.clone(), storage, &public_url, &instance)?;
        if app.revocation_store_kind() == "in-process" {
            tracing::warn!(
                "revocation set is in-process: valid for a SINGLE instance only; set redis.url (REDIS_URL) to run a fleet"
            );
        }
        let hooks = &settings.webhooks;
        let webhook_policy = webhook_policy(&settings);
        // Before serving: complete the set (in-process) or rebuild it if Redis lost it.
        if app.maintain_revocations().await != SetState::Complete {
            tracing::warn!(
                store = app.revocation_store_kind(),
                "revocation set not confirmed complete yet; /access answers 503 until it is"
            );
        }
        let (access_log, history_writer) =
            crate::history::spawn_writer(store.clone(), settings.history.ip);
        let stop = CancellationToken::new();
        let mut background = vec![
            worker::spawn(
                "revocation maintainer",
                Maintainer(app.clone()),
                Schedule {
                    every: Duration::from_millis(500),
                    min_gap: Duration::from_millis(100),
                },
                app.maintainer_wake(),
                Arc::new(Health::default()),
                stop.clone(),
            ),
            spawn_housekeeping(app.clone(), settings.history.retention_days, stop.clone()),
        ];
        if hooks.deliver {
            let timeout = Duration::from_secs(hooks.timeout_seconds);
            background.push(worker::spawn(
                "webhook deliveries",
                Deliveries::new(
                    app.clone(),
                    Sender::new(webhook_policy, timeout)?,
                    instance.clone(),
                    timeout,
                ),
                Schedule {
                    every: Duration::from_millis(hooks.poll_interval_ms),
                    min_gap: Duration::ZERO,
                },
                app.deliveries_wake(),
                Arc::new(Health::default()),
                stop.clone(),
            ));
        }
        if settings.fulfilment.enabled {
            background.push(worker::spawn(
                "fulfilment",
                Fulfilment {
                    app: app.clone(),
                    instance,
                    lease: Duration::from_secs(settings.fulfilment.lease_seconds),
                    retry: Retry {
                        max_attempts: i32::try_from(settings.fulfilment.max_attempts).unwrap_or(5),
                        base_ms: i64::try_from(settings.fulfilment.retry_base_ms).unwrap_or(1000),
                    },
                },
                Schedule {
                    every: Duration::from_millis(settings.fulfilment.poll_interval_ms),
                    min_gap: Duration::ZERO,
                },
                app.fulfilment_wake(),
                app.fulfilment_health(),
                stop.clone(),
            ));
        }

        let limits = crate::http::limits::Limits::new(&settings)?;
        background.push(limits.spawn_housekeeping(stop.clone()));
        let state = AppState {
            app,
            settings: settings.clone(),
            public_url: PublicUrl(public_url.clone()),
            access_log,
            limits,
        };
        let server = run(listener, state.clone())?;
        tracing::info!(url = %public_url, port, revocation_store = state.app.revocation_store_kind(), storage = %state.app.storage_description(), "assetgate listening");
        Ok(Self {
            port,
            public_url,
            server,
            state,
            stop,
            background,
            history_writer,
            instance: instance_for_shutdown,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Serves until the server stops (SIGTERM or Ctrl-C: it stops accepting
    /// and lets requests in flight finish for `server.shutdown_timeout_seconds`),
    /// then stops the workers, gives up this instance's fulfilment claims and
    /// webhook leases so that another instance takes them over at once, and
    /// flushes the access history.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            state,
            stop,
            background,
            history_writer,
            instance,
            ..
        } = self;
        let result = server.await;
        tracing::info!("stopped accepting; finishing background work");
        stop.cancel();
        for task in background {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        state.app.release_leases(&instance).await;
        let dropped = state.access_log.dropped_counter();
        // The last sender: the writer flushes what it holds and finishes.
        drop(state);
        if tokio::time::timeout(Duration::from_secs(10), history_writer)
            .await
            .is_err()
        {
            tracing::warn!(
                "the access history was still being written after 10 s; the rest is lost"
            );
        }
        tracing::info!(history_dropped = dropped.total(), "assetgate stopped");
        result
    }
}

fn spawn_housekeeping(
    app: App,
    retention_days: u32,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    worker::spawn(
        "housekeeping",
        Housekeeping {
            app,
            retention_days,
        },
        Schedule {
            every: Duration::from_secs(3600),
            min_gap: Duration::ZERO,
        },
        worker::Wake::default(),
        Arc::new(Health::default()),
        stop,
    )
}

fn run(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    let workers = match state.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        n => n,
    };
    let panic_route = state.settings.testing.panic_route;
    let state_shutdown_timeout = state.settings.server.shutdown_timeout_seconds;
    let metrics_enabled = state.settings.metrics.enabled;
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        ActixApp::new()
            .app_data(data.clone())
            .configure(|cfg| http::configure(cfg, panic_route, metrics_enabled))
            .configure(|cfg| crate::console::configure(cfg, metrics_enabled))
            // The Swagger UI at /docs/ (vendored assets) of GET /openapi.json.
            .configure(http::openapi::docs)
            .default_service(web::to(http::not_found))
            .wrap(from_fn(middleware::environment_header))
            .wrap(TracingLogger::<AssetgateRootSpan>::new())
            .wrap(from_fn(middleware::request_id))
    })
    .workers(workers)
    .shutdown_timeout(state_shutdown_timeout)
    // Without TCP_NODELAY a response written as headers + body waits for the
    // client's delayed ACK (~40 ms per small download).
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .listen(listener)?
    .run();
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_name_fits_its_column_however_long_the_host_name() {
        let pod = "assetgate-production-eu-west-1-deployment-7c9f8d6b5d-x2kqz-abcdef";
        for host in [pod, &"h".repeat(253), "", "a b/c", "web-1"] {
            let name = instance_name(host, u32::MAX);
            assert!(
                name.len() <= MAX_INSTANCE_NAME,
                "{name} ({} chars)",
                name.len()
            );
            assert!(name.contains(&format!("-{}-", u32::MAX)), "{name}");
        }
        let name = instance_name(pod, 1);
        let host = name.rsplitn(3, '-').last().unwrap_or_default();
        assert!(
            pod.ends_with(host) && host.len() > 40,
            "the pod's distinctive end is kept: {name}"
        );
        assert!(instance_name("web-1", 7).starts_with("web-1-7-"));
        assert!(instance_name("", 7).starts_with("host-7-"));
    }
}
