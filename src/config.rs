//! Layered configuration (SPEC §3): compiled-in defaults → `--config` file or
//! `ASSETGATE_CONFIG` → `ASSETGATE__SECTION__KEY` → `DATABASE_URL` / `REDIS_URL`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("configuration: {0}")]
    Unknown(String),
}

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub revocation: RevocationSettings,
    pub storage: StorageSettings,
    pub delivery: DeliverySettings,
    pub links: LinkSettings,
    pub validation: ValidationSettings,
    pub fulfilment: FulfilmentSettings,
    pub stamping: StampingSettings,
    pub history: HistorySettings,
    pub console: ConsoleSettings,
    pub webhooks: WebhookSettings,
    pub metrics: MetricsSettings,
    pub rate_limit: RateLimitSettings,
    pub log: LogSettings,
    pub testing: TestingSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub public_url: String,
    pub max_body_bytes: usize,
    /// Longest a request body may take to arrive; past it: 408.
    pub body_timeout_ms: u64,
    pub workers: usize,
    /// On SIGTERM, how long requests in flight may take to finish.
    pub shutdown_timeout_seconds: u64,
    /// Proxies whose `X-Forwarded-For` is believed (comma-separated CIDRs or addresses).
    pub trusted_proxies: String,
}

impl ServerSettings {
    /// `trusted_proxies`, parsed (a bare address is a /32 or /128).
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "server.trusted_proxies",
                            format!("{p:?} is not an IP address or CIDR (such as 10.0.0.0/8)"),
                        )
                    })
            })
            .collect()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password, hence secret.
    pub url: SecretString,
    pub migrate_on_start: bool,
    pub max_connections: u32,
    /// Bound on connecting and on waiting for a pooled connection; past it
    /// the API answers 503 `database_unavailable`.
    pub timeout_ms: u64,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("migrate_on_start", &self.migrate_on_start)
            .field("max_connections", &self.max_connections)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: SecretString,
    pub key_prefix: String,
    pub timeout_ms: u64,
    /// Sentinel addresses (`host:port`, comma-separated); empty = `url`.
    pub sentinels: String,
    pub master_name: String,
    pub sentinel_redis_password: SecretString,
    pub sentinel_redis_db: i64,
    /// Redis Cluster seed nodes (`host:port`, comma-separated); empty = not a cluster.
    pub cluster_nodes: String,
    /// How many buckets (hash tags) the revocation keys spread over.
    pub cluster_buckets: usize,
    pub cluster_password: SecretString,
    /// Concurrent `/access` checks on one worker thread share one round trip.
    pub coalesce_checks: bool,
    /// `all` or a number: replicas that must hold a revocation before a 201.
    pub min_replica_acks: String,
}

/// How many replicas must acknowledge a revocation (`redis.min_replica_acks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaAcks {
    /// Every replica the sentinels know of (or, with `redis.url`, the primary reports).
    All,
    /// Exactly this many (0: do not wait).
    Count(u32),
}

impl RedisSettings {
    /// The sentinels' addresses, parsed.
    pub fn sentinel_addrs(&self) -> Result<Vec<(String, u16)>, String> {
        host_ports(&self.sentinels)
    }

    /// The cluster's seed nodes, parsed.
    pub fn cluster_addrs(&self) -> Result<Vec<(String, u16)>, String> {
        host_ports(&self.cluster_nodes)
    }

    /// `redis.min_replica_acks`, parsed.
    pub fn replica_acks(&self) -> Result<ReplicaAcks, String> {
        let v = self.min_replica_acks.trim();
        if v.eq_ignore_ascii_case("all") {
            return Ok(ReplicaAcks::All);
        }
        v.parse::<u32>().map(ReplicaAcks::Count).map_err(|_| {
            format!("`{v}` is neither `all` nor a number of replicas (0 = do not wait)")
        })
    }
}

/// `host:port, host:port, …` (IPv6 hosts in brackets).
fn host_ports(list: &str) -> Result<Vec<(String, u16)>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| format!("`{s}` is not host:port"))?;
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("`{s}` has no valid port"))?;
            if host.is_empty() {
                return Err(format!("`{s}` has no host"));
            }
            Ok((host.trim_matches(['[', ']']).to_owned(), port))
        })
        .collect()
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("key_prefix", &self.key_prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("sentinel_redis_db", &self.sentinel_redis_db)
            .field("cluster_nodes", &self.cluster_nodes)
            .field("cluster_buckets", &self.cluster_buckets)
            .field("coalesce_checks", &self.coalesce_checks)
            .field("min_replica_acks", &self.min_replica_acks)
            .finish_non_exhaustive()
    }
}

/// Scheme and host only: `postgres://user:pw@db/x` → `postgres://…@db/x`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationSettings {
    /// Declares that this gateway runs as one instance, so an in-process
    /// revocation set with a PostgreSQL database is intended, not a fleet
    /// missing its Redis.
    pub single_instance: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub path: PathBuf,
    pub backend: StorageBackend,
    pub s3: S3Settings,
    /// Largest accepted upload (413 beyond).
    pub max_upload_bytes: u64,
}

/// Where the catalogue's files live (SPEC §11).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Files under `storage.path` on this machine.
    Local,
    /// Objects in an S3-compatible bucket (`storage.s3.*`).
    S3,
}

/// How `/access` hands over the bytes once every check passed (SPEC §11).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    pub mode: DeliveryMode,
    /// A presigned URL lives max(60 s, size ÷ 50 KiB/s), capped here.
    pub redirect_max_ttl_seconds: u64,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// The gateway sends the bytes.
    Stream,
    /// 303 to a presigned GET URL of the object (`s3` only); weaker: a URL
    /// handed out before a cancel works until it expires.
    Redirect,
}

/// An S3-compatible bucket (SPEC §11).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    /// Empty: AWS.
    pub endpoint: String,
    pub region: String,
    /// Objects live at `{prefix}{sha[0..2]}/{sha256}`.
    pub prefix: String,
    /// Empty (with the secret): the standard AWS credential chain.
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub force_path_style: bool,
    pub allow_http: bool,
}

impl Settings {
    /// The storage settings' checks alone (after changing the backend).
    pub fn validate_storage(&self) -> Result<(), ConfigError> {
        self.storage.validate()
    }
}

impl StorageSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_upload_bytes == 0 {
            return Err(invalid("storage.max_upload_bytes", "must be at least 1"));
        }
        if self.backend != StorageBackend::S3 {
            return Ok(());
        }
        let s3 = &self.s3;
        if s3.bucket.trim().is_empty() {
            return Err(invalid(
                "storage.s3.bucket",
                "is required with storage.backend = \"s3\"",
            ));
        }
        let endpoint = s3.endpoint.trim();
        if endpoint.starts_with("http://") && !s3.allow_http {
            return Err(invalid(
                "storage.s3.endpoint",
                "is plain http: set storage.s3.allow_http = true to permit it",
            ));
        }
        if !(endpoint.is_empty()
            || endpoint.starts_with("http://")
            || endpoint.starts_with("https://"))
        {
            return Err(invalid(
                "storage.s3.endpoint",
                "must start with http:// or https:// (or be empty for AWS)",
            ));
        }
        if s3.access_key_id.is_empty() != s3.secret_access_key.expose_secret().is_empty() {
            return Err(invalid(
                "storage.s3.access_key_id",
                "set both access_key_id and secret_access_key, or neither (the AWS credential chain)",
            ));
        }
        if !(s3.prefix.is_empty() || s3.prefix.ends_with('/')) || s3.prefix.starts_with('/') {
            return Err(invalid(
                "storage.s3.prefix",
                "must end with / and not start with one (e.g. assets/), or be empty",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    pub ttl_seconds: u64,
    pub signing_key: SecretString,
    pub signing_key_file: PathBuf,
    /// Comma-separated base64 keys that still verify the links they signed (rotation).
    pub previous_signing_keys: SecretString,
    pub revocation_margin_seconds: u64,
}

impl LinkSettings {
    /// The decoded `previous_signing_keys`.
    pub fn previous_keys(&self) -> Result<Vec<Vec<u8>>, ConfigError> {
        self.previous_signing_keys
            .expose_secret()
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(|k| {
                decode_signing_key(k).map_err(|e| match e {
                    ConfigError::Invalid { problem, .. } => {
                        invalid("links.previous_signing_keys", problem)
                    }
                    other => other,
                })
            })
            .collect()
    }
}

impl std::fmt::Debug for LinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSettings")
            .field("ttl_seconds", &self.ttl_seconds)
            .field("signing_key", &"[redacted]")
            .field("signing_key_file", &self.signing_key_file)
            .field("previous_signing_keys", &"[redacted]")
            .field("revocation_margin_seconds", &self.revocation_margin_seconds)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSettings {
    pub ttl_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfilmentSettings {
    pub enabled: bool,
    pub poll_interval_ms: u64,
    pub lease_seconds: u64,
    /// Claims of a line whose file cannot be read before it is FAILED.
    pub max_attempts: u32,
    /// First retry delay after such a failure, doubled each time.
    pub retry_base_ms: u64,
}

/// Per-buyer PDF stamping (SPEC §12).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StampingSettings {
    /// The footer: `{customer}`, `{order_id}`, `{order_line_id}`, `{vendor}`, `{date}`.
    pub template: String,
    /// Copies made at once by one instance (each holds one original in memory).
    pub concurrency: usize,
    /// The largest original stamped; a larger stamped asset fails its lines.
    pub max_bytes: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    pub record_access: bool,
    /// How much of the client IP an access event keeps.
    pub ip: crate::domain::IpPolicy,
    /// Access events older than this many days are purged; 0 = keep forever.
    pub retention_days: u32,
    /// Record the client's `User-Agent` (first 256 characters) with each access.
    pub user_agent: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Run the delivery worker in this instance.
    pub deliver: bool,
    pub poll_interval_ms: u64,
    /// A receiver that has not answered 2xx by then has failed this attempt.
    pub timeout_seconds: u64,
    /// Delays before each retry (`5s,5m,30m,2h`); after the last, the delivery fails.
    pub retry_schedule: String,
    /// An endpoint failing continuously this long is disabled.
    pub disable_after_hours: u64,
    pub allow_http: bool,
    pub allow_private_networks: bool,
    /// Endpoints one vendor may have (not counting deleted ones).
    pub max_endpoints_per_vendor: u32,
}

impl WebhookSettings {
    /// `retry_schedule`, parsed: `ms`, `s`, `m` or `h` after each number.
    pub fn schedule(&self) -> Result<Vec<std::time::Duration>, ConfigError> {
        use std::time::Duration;
        self.retry_schedule
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|step| {
                let split = step
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(step.len());
                let (n, unit) = step.split_at(split);
                let n: u64 = n.parse().map_err(|_| {
                    invalid(
                        "webhooks.retry_schedule",
                        format!("{step:?} is not a number and unit"),
                    )
                })?;
                match unit {
                    "ms" => Ok(Duration::from_millis(n)),
                    "s" => Ok(Duration::from_secs(n)),
                    "m" => Ok(Duration::from_secs(n * 60)),
                    "h" => Ok(Duration::from_secs(n * 3600)),
                    _ => Err(invalid(
                        "webhooks.retry_schedule",
                        format!("{step:?}: the unit must be ms, s, m or h (e.g. 5s,5m,30m,2h)"),
                    )),
                }
            })
            .collect()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Record metrics and serve `/metrics`.
    pub enabled: bool,
    /// Serve `/metrics` without an admin token.
    pub public: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests per second per vendor token (0 = no limit).
    pub vendor_per_second: u32,
    pub vendor_burst: u32,
    /// `/access` requests per second per client IP (0 = no limit).
    pub access_per_ip_per_second: u32,
    /// 0 = twice the rate.
    pub access_per_ip_burst: u32,
    /// Failed logins per client IP per minute (0 = no limit).
    pub failed_logins_per_minute: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// How long a console login lasts.
    pub session_hours: u32,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingSettings {
    pub panic_route: bool,
}

impl Settings {
    /// Loads every layer. `file` is `--config`; when absent `ASSETGATE_CONFIG` is used.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("ASSETGATE_CONFIG").map(PathBuf::from);
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            if !path.is_file() {
                return Err(invalid(
                    "--config",
                    format!("{} does not exist or is not a file", path.display()),
                ));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        builder = builder.add_source(
            Environment::with_prefix("ASSETGATE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        if let Ok(url) = std::env::var("DATABASE_URL") {
            builder = builder.set_override("database.url", url)?;
        }
        if let Ok(url) = std::env::var("REDIS_URL") {
            builder = builder.set_override("redis.url", url)?;
        }
        let settings: Settings = builder.build()?.try_deserialize().map_err(unknown_key)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The `ASSETGATE_*` variables among `names` that set nothing, each with
    /// what was probably meant (settings are `ASSETGATE__SECTION__KEY`).
    pub fn unknown_env_vars(
        names: impl IntoIterator<Item = String>,
    ) -> Vec<(String, Option<String>)> {
        let Ok(defaults) = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
        else {
            return Vec::new();
        };
        let known = |path: &str| defaults.get::<config::Value>(path).is_ok();
        let mut unknown = Vec::new();
        for name in names {
            let Some(rest) = name.strip_prefix("ASSETGATE_") else {
                continue;
            };
            if rest == "CONFIG" {
                continue;
            }
            if let Some(path) = rest.strip_prefix('_') {
                let path = path.to_ascii_lowercase().replace("__", ".");
                if path.contains('.') && known(&path) {
                    continue;
                }
            }
            // `ASSETGATE_SERVER_PORT`: the section/key split that names a setting.
            let words = rest.trim_start_matches('_').to_ascii_lowercase();
            let meant = words
                .match_indices('_')
                .map(|(i, _)| (&words[..i], &words[i + 1..]))
                .find(|(section, key)| known(&format!("{section}.{key}")))
                .map(|(section, key)| {
                    format!(
                        "ASSETGATE__{}__{}",
                        section.to_ascii_uppercase(),
                        key.to_ascii_uppercase()
                    )
                });
            unknown.push((name, meant));
        }
        unknown
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.host.trim().is_empty() {
            return Err(invalid("server.host", "must not be empty"));
        }
        let public = self.server.public_url.trim();
        if !(public.is_empty() || public.starts_with("http://") || public.starts_with("https://")) {
            return Err(invalid(
                "server.public_url",
                "must start with http:// or https:// (or be empty)",
            ));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        let db = self.database.url.expose_secret();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                "must start with sqlite: or postgres:// (e.g. sqlite://data/assetgate.db?mode=rwc)",
            ));
        }
        self.storage.validate()?;
        if self.delivery.mode == DeliveryMode::Redirect
            && self.storage.backend != StorageBackend::S3
        {
            return Err(invalid(
                "delivery.mode",
                "\"redirect\" needs storage.backend = \"s3\" (it redirects to the bucket)",
            ));
        }
        if !(60..=7 * 24 * 3600).contains(&self.delivery.redirect_max_ttl_seconds) {
            return Err(invalid(
                "delivery.redirect_max_ttl_seconds",
                "must be from 60 to 604800 (S3's limit for a presigned URL)",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.database.timeout_ms == 0 {
            return Err(invalid("database.timeout_ms", "must be at least 1"));
        }
        self.server.proxies()?;
        if self.rate_limit.vendor_per_second > 0 && self.rate_limit.vendor_burst == 0 {
            return Err(invalid(
                "rate_limit.vendor_burst",
                "must be at least 1 when rate_limit.vendor_per_second is set",
            ));
        }
        if !(1..=3600).contains(&self.server.shutdown_timeout_seconds) {
            return Err(invalid(
                "server.shutdown_timeout_seconds",
                "must be from 1 to 3600",
            ));
        }
        if self.server.body_timeout_ms == 0 {
            return Err(invalid("server.body_timeout_ms", "must be at least 1"));
        }
        let redis = self.redis.url.expose_secret();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(invalid(
                "redis.url",
                "must be empty (in-process revocation set) or start with redis:// or rediss://",
            ));
        }
        match self.redis.sentinel_addrs() {
            Err(why) => return Err(invalid("redis.sentinels", why)),
            Ok(addrs) if !addrs.is_empty() => {
                if !redis.is_empty() {
                    return Err(invalid(
                        "redis.sentinels",
                        "and redis.url are both set: use one (the sentinels find the primary)",
                    ));
                }
                if self.redis.master_name.trim().is_empty() {
                    return Err(invalid(
                        "redis.master_name",
                        "must name the primary the sentinels monitor (`sentinel monitor <name> …`)",
                    ));
                }
            }
            Ok(_) => {}
        }
        match self.redis.cluster_addrs() {
            Err(why) => return Err(invalid("redis.cluster_nodes", why)),
            Ok(addrs) if !addrs.is_empty() => {
                if !redis.is_empty() || !self.redis.sentinels.trim().is_empty() {
                    return Err(invalid(
                        "redis.cluster_nodes",
                        "is set together with redis.url or redis.sentinels: use one",
                    ));
                }
            }
            Ok(_) => {}
        }
        if !(1..=16384).contains(&self.redis.cluster_buckets) {
            return Err(invalid(
                "redis.cluster_buckets",
                "must be from 1 to 16384 (a bucket is one hash slot)",
            ));
        }
        if self.redis.key_prefix.is_empty()
            || !self
                .redis
                .key_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        {
            return Err(invalid(
                "redis.key_prefix",
                "must be non-empty and use only letters, digits, '-', '_', ':' and '.'",
            ));
        }
        if let Err(why) = self.redis.replica_acks() {
            return Err(invalid("redis.min_replica_acks", why));
        }
        if self.redis.timeout_ms == 0 {
            return Err(invalid("redis.timeout_ms", "must be at least 1"));
        }
        if self.links.ttl_seconds == 0 {
            return Err(invalid("links.ttl_seconds", "must be at least 1"));
        }
        if !self.links.signing_key.expose_secret().is_empty() {
            decode_signing_key(self.links.signing_key.expose_secret())?;
        }
        self.links.previous_keys()?;
        if self.validation.ttl_seconds == 0 {
            return Err(invalid("validation.ttl_seconds", "must be at least 1"));
        }
        if self.fulfilment.poll_interval_ms == 0 {
            return Err(invalid("fulfilment.poll_interval_ms", "must be at least 1"));
        }
        if !(1..=64).contains(&self.stamping.concurrency) {
            return Err(invalid("stamping.concurrency", "must be from 1 to 64"));
        }
        if self.stamping.max_bytes == 0 {
            return Err(invalid("stamping.max_bytes", "must be at least 1"));
        }
        if self.stamping.template.trim().is_empty() || self.stamping.template.chars().count() > 500
        {
            return Err(invalid("stamping.template", "must be 1 to 500 characters"));
        }
        if self.fulfilment.lease_seconds == 0 {
            return Err(invalid("fulfilment.lease_seconds", "must be at least 1"));
        }
        self.webhooks.schedule()?;
        if !(1..=300).contains(&self.webhooks.timeout_seconds) {
            return Err(invalid("webhooks.timeout_seconds", "must be from 1 to 300"));
        }
        if self.webhooks.poll_interval_ms == 0 {
            return Err(invalid("webhooks.poll_interval_ms", "must be at least 1"));
        }
        if !(1..=720).contains(&self.console.session_hours) {
            return Err(invalid("console.session_hours", "must be from 1 to 720"));
        }
        if !(1..=100).contains(&self.fulfilment.max_attempts) {
            return Err(invalid("fulfilment.max_attempts", "must be from 1 to 100"));
        }
        Ok(())
    }

    /// What `serve` needs beyond a valid configuration: a PostgreSQL database
    /// without Redis is the shape of a fleet missing its shared revocation set.
    /// (CLI commands never use the revocation set, so they do not ask.)
    pub fn check_for_serving(&self) -> Result<(), ConfigError> {
        let db = self.database.url.expose_secret();
        let postgres = !db.starts_with("sqlite:");
        if postgres && !self.uses_redis() && !self.revocation.single_instance {
            return Err(invalid(
                "redis.url",
                "is empty while database.url is PostgreSQL: that is the shape of a fleet, and \
                 a fleet needs a shared Redis revocation set (each instance's in-process set \
                 would miss the others' cancels). Set redis.url (REDIS_URL), or set \
                 revocation.single_instance = true if this gateway really runs as one instance",
            ));
        }
        Ok(())
    }

    pub fn uses_redis(&self) -> bool {
        !self.redis.url.expose_secret().is_empty()
            || !self.redis.sentinels.trim().is_empty()
            || !self.redis.cluster_nodes.trim().is_empty()
    }
}

/// An unknown key (a typo such as `redis.ulr`) stops start-up naming it, with
/// where keys come from, instead of being silently ignored.
fn unknown_key(e: config::ConfigError) -> ConfigError {
    let text = e.to_string();
    if text.contains("unknown field") {
        ConfigError::Unknown(format!(
            "{text}. Check the spelling in the --config file and in ASSETGATE__SECTION__KEY \
             environment variables (section and key separated by a double underscore)"
        ))
    } else {
        ConfigError::Load(e)
    }
}

/// A signing key is base64 (standard or URL-safe) of at least 32 bytes.
pub fn decode_signing_key(encoded: &str) -> Result<Vec<u8>, ConfigError> {
    let trimmed = encoded.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .map_err(|_| invalid("links.signing_key", "is not valid base64"))?;
    if bytes.len() < 32 {
        return Err(invalid(
            "links.signing_key",
            format!("decodes to {} bytes; at least 32 are required", bytes.len()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_assetgate_variables_are_named_with_what_was_meant() {
        let names = [
            "ASSETGATE_SERVER_PORT",
            "ASSETGATE__SERVER__PORT",
            "ASSETGATE_CONFIG",
            "ASSETGATE__SERVER__PROT",
            "ASSETGATE_RATE_LIMIT_VENDOR_BURST",
            "ASSETGATE_NONSENSE",
            "PATH",
        ]
        .map(str::to_owned);
        assert_eq!(
            super::Settings::unknown_env_vars(names),
            vec![
                (
                    "ASSETGATE_SERVER_PORT".to_owned(),
                    Some("ASSETGATE__SERVER__PORT".to_owned())
                ),
                ("ASSETGATE__SERVER__PROT".to_owned(), None),
                (
                    "ASSETGATE_RATE_LIMIT_VENDOR_BURST".to_owned(),
                    Some("ASSETGATE__RATE_LIMIT__VENDOR_BURST".to_owned())
                ),
                ("ASSETGATE_NONSENSE".to_owned(), None),
            ]
        );
    }

    use super::*;

    #[test]
    fn redact_url_hides_credentials() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://…@db:5432/x"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn signing_key_shorter_than_32_bytes_is_refused_with_the_key_name() {
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let err = decode_signing_key(&short).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "configuration key `links.signing_key`: decodes to 16 bytes; at least 32 are required"
            )
        );
        let ok = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(decode_signing_key(&ok).ok().map(|k| k.len()), Some(32));
    }

    #[test]
    fn previous_signing_keys_are_decoded_and_garbage_names_the_key() {
        let key = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
        let links = |previous: String| LinkSettings {
            ttl_seconds: 60,
            signing_key: SecretString::from(""),
            signing_key_file: PathBuf::from("k"),
            previous_signing_keys: SecretString::from(previous),
            revocation_margin_seconds: 0,
        };
        let two = links(format!("{}, {}", key(1), key(2))).previous_keys();
        assert_eq!(two.ok().map(|k| k.len()), Some(2));
        assert_eq!(links(String::new()).previous_keys().ok(), Some(vec![]));
        let err = links(format!("{},not-base64!", key(1)))
            .previous_keys()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("links.previous_signing_keys"), "{err}");
    }

    #[test]
    fn retry_schedules_read_their_units_and_name_the_key_when_wrong() {
        use std::time::Duration;
        let with = |schedule: &str| WebhookSettings {
            deliver: true,
            poll_interval_ms: 1000,
            timeout_seconds: 15,
            retry_schedule: schedule.to_owned(),
            disable_after_hours: 120,
            allow_http: false,
            allow_private_networks: false,
            max_endpoints_per_vendor: 10,
        };
        assert_eq!(
            with("5s, 5m,30m,2h,250ms").schedule().ok(),
            Some(vec![
                Duration::from_secs(5),
                Duration::from_secs(300),
                Duration::from_secs(1800),
                Duration::from_secs(7200),
                Duration::from_millis(250)
            ])
        );
        for bad in ["5", "5d", "x5s"] {
            let err = with(bad)
                .schedule()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("webhooks.retry_schedule"), "{bad}: {err}");
        }
    }

    #[test]
    fn compiled_in_defaults_parse_and_validate() {
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap_or_else(|e| panic!("defaults must parse: {e}"));
        assert!(settings.validate().is_ok());
        assert_eq!(settings.server.port, 8080);
        assert!(!settings.uses_redis());
        assert_eq!(settings.redis.replica_acks(), Ok(ReplicaAcks::All));
    }

    #[test]
    fn min_replica_acks_is_all_or_a_number_and_names_the_key_when_wrong() {
        let mut settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .unwrap_or_else(|e| panic!("defaults must parse: {e}"));
        for (given, parsed) in [
            ("ALL", ReplicaAcks::All),
            ("0", ReplicaAcks::Count(0)),
            (" 2 ", ReplicaAcks::Count(2)),
        ] {
            given.clone_into(&mut settings.redis.min_replica_acks);
            assert_eq!(settings.redis.replica_acks(), Ok(parsed), "{given}");
        }
        for bad in ["", "-1", "most", "2.5"] {
            bad.clone_into(&mut settings.redis.min_replica_acks);
            let err = settings
                .validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("redis.min_replica_acks"), "{bad}: {err}");
        }
    }
}
