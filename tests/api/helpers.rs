//! Test harness: the real server on a real port against a fresh database
//! (a temp SQLite file, or a uniquely named PostgreSQL database dropped
//! afterwards) and a unique Redis key prefix.

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "../support/private_postgres.rs"]
mod private_postgres;

use assetgate::config::Settings;
use assetgate::domain::{
    AssetId, CountryCode, Environment, OrderNumber, Tenant, VendorId, VendorStatus,
};
use assetgate::startup::Application;
use assetgate::storage::Storage;
use assetgate::store::Store;
use assetgate::store::assets::{Asset, NewAsset};
use assetgate::store::orders::OrderLine;
use reqwest::{Method, Response, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

/// Runs each named `async fn name(backend)` once on SQLite + in-process
/// revocations and once on PostgreSQL + Redis.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// Runs each named `async fn name(store)` with the catalogue in a local
/// folder (SQLite, in-process revocations: the embedded default) and in a
/// bucket of a private S3 server (PostgreSQL, Redis: a fleet).
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                super::$name($crate::helpers::Catalogue::Local).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                super::$name($crate::helpers::Catalogue::S3).await
            }
        }
    )*};
}

/// Where a test's catalogue lives (see [`both_stores!`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catalogue {
    Local,
    S3,
}

/// The app for `store`, with `tweak` as the last word on its settings.
pub async fn store_app_with(store: Catalogue, tweak: fn(&mut Settings)) -> TestApp {
    match store {
        Catalogue::Local => {
            let options = Options {
                tweak,
                ..Options::default()
            };
            spawn_app_with(Backend::Sqlite, options).await
        }
        Catalogue::S3 => {
            let options = Options {
                s3: true,
                tweak,
                ..Options::default()
            };
            spawn_app_with(Backend::Postgres, options).await
        }
    }
}

pub async fn store_app(store: Catalogue) -> TestApp {
    store_app_with(store, |_| {}).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_base() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub store: Store,
    pub storage: Storage,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The private S3 server holding the catalogue (`Options::s3`).
    pub s3: Option<crate::s3_server::S3Server>,
    /// The relay between the gateway and the S3 server (`Options::s3_proxy`).
    pub s3_proxy: Option<crate::tcp_proxy::TcpProxy>,
    pg_database: Option<String>,
}

/// Options for one test's app.
#[derive(Clone, Debug)]
pub struct Options {
    pub fulfilment: bool,
    pub redis_url: Option<String>,
    /// Redis through Sentinel: (`host:port,…` of the sentinels, master name).
    pub redis_sentinels: Option<(String, String)>,
    /// Redis Cluster seed nodes (`host:port,…`).
    pub redis_cluster: Option<String>,
    /// A PostgreSQL database to use instead of a fresh one (e.g. on a private server).
    pub database_url: Option<String>,
    /// Short link lifetimes (margin 0) for expiry tests.
    pub link_ttl_seconds: Option<u64>,
    pub record_access: bool,
    /// The catalogue in a bucket of a private S3 server, not in a folder.
    pub s3: bool,
    /// With `s3`: the gateway reaches the bucket through a [`TcpProxy`]
    /// that counts (and can cut) what the store sends.
    pub s3_proxy: bool,
    /// Last word on the settings.
    pub tweak: fn(&mut Settings),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fulfilment: true,
            redis_url: None,
            redis_sentinels: None,
            redis_cluster: None,
            database_url: None,
            link_ttl_seconds: None,
            record_access: true,
            s3: false,
            s3_proxy: false,
            tweak: |_| {},
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    assetgate::webhooks::install_tls_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::load(None).expect("default settings");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.public_url = String::new();
    settings.server.workers = 2;
    settings.storage.path = dir.path().join("assets");
    settings.links.signing_key = SecretString::from("");
    settings.links.signing_key_file = dir.path().join("signing.key");
    settings.fulfilment.enabled = options.fulfilment;
    settings.fulfilment.poll_interval_ms = 100;
    settings.testing.panic_route = true;
    settings.history.record_access = options.record_access;
    if let Some(ttl) = options.link_ttl_seconds {
        settings.links.ttl_seconds = ttl;
        settings.links.revocation_margin_seconds = 0;
    }
    settings.log.level = "warn".into();
    // Tests drive the API faster than a shop would; the limits have their own tests.
    settings.rate_limit.vendor_per_second = 0;
    let pg_database = match backend {
        Backend::Sqlite => {
            settings.database.url = SecretString::from(format!(
                "sqlite://{}/test.db?mode=rwc",
                dir.path().display()
            ));
            settings.redis.url = SecretString::from(options.redis_url.unwrap_or_default());
            None
        }
        Backend::Postgres => {
            settings.redis.url = SecretString::from(options.redis_url.unwrap_or_else(redis_url));
            if let Some(url) = options.database_url {
                settings.database.url = SecretString::from(url);
                None
            } else {
                let name = format!("agtest_{}", uuid::Uuid::new_v4().simple());
                create_database(&name).await;
                settings.database.url = SecretString::from(format!("{}/{name}", postgres_base()));
                Some(name)
            }
        }
    };
    if let Some((sentinels, master)) = options.redis_sentinels {
        settings.redis.url = SecretString::from("");
        settings.redis.sentinels = sentinels;
        settings.redis.master_name = master;
    }
    if let Some(nodes) = options.redis_cluster {
        settings.redis.url = SecretString::from("");
        settings.redis.cluster_nodes = nodes;
    }
    settings.redis.key_prefix = format!("agtest-{}", uuid::Uuid::new_v4().simple());
    let s3 = options.s3.then(crate::s3_server::S3Server::start);
    let mut s3_proxy = None;
    if let Some(server) = &s3 {
        server.configure(&mut settings);
        if options.s3_proxy {
            let proxy = crate::tcp_proxy::TcpProxy::start(server.port()).await;
            settings.storage.s3.endpoint = proxy.endpoint();
            s3_proxy = Some(proxy);
        }
    }
    (options.tweak)(&mut settings);
    assetgate::telemetry::init(settings.log.format, &settings.log.level);

    let address = start_instance(&settings).await;
    let store = Store::connect(&settings.database)
        .await
        .expect("test store");
    let storage = Storage::open(&settings.storage).expect("storage");
    TestApp {
        address,
        settings,
        store,
        storage,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        dir,
        s3,
        s3_proxy,
        pg_database,
    }
}

/// Starts one more gateway instance with these settings; returns its address.
pub async fn start_instance(settings: &Settings) -> String {
    let app = Application::build(settings.clone())
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// A database with no tables yet (a temp SQLite file, or a fresh PostgreSQL
/// database dropped afterwards), for migration tests.
pub struct EmptyDatabase {
    pub url: String,
    _dir: tempfile::TempDir,
    pg_database: Option<String>,
}

impl EmptyDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_database) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/empty.db?mode=rwc", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                let name = format!("agtest_{}", uuid::Uuid::new_v4().simple());
                create_database(&name).await;
                (format!("{}/{name}", postgres_base()), Some(name))
            }
        };
        Self {
            url,
            _dir: dir,
            pg_database,
        }
    }
}

impl Drop for EmptyDatabase {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            drop_database_in_background(name);
        }
    }
}

/// Drops a test database from a thread of its own (Drop runs inside a runtime).
fn drop_database_in_background(name: String) {
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            use sea_orm::ConnectionTrait as _;
            let _ = admin_connection()
                .await
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        });
    })
    .join();
}

async fn admin_connection() -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(format!("{}/postgres", postgres_base()))
        .await
        .expect("PostgreSQL must be reachable for the postgres tests (see README: scripts/test.sh starts it)")
}

pub async fn create_database(name: &str) {
    use sea_orm::ConnectionTrait as _;
    admin_connection()
        .await
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let pg = self.pg_database.take();
        let prefix = self.settings.redis.key_prefix.clone();
        let uses_redis = self.settings.uses_redis();
        let redis = self.settings.redis.url.expose_secret().to_owned();
        // Drop runs inside the test's runtime; clean up from a thread of our own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sea_orm::ConnectionTrait as _;
                if let Some(name) = pg {
                    let conn = admin_connection().await;
                    let _ = conn
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
                if let Some(client) = uses_redis
                    .then(|| redis::Client::open(redis).ok())
                    .flatten()
                    && let Ok(mut c) = client.get_multiplexed_async_connection().await
                {
                    let keys: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{{{prefix}}}*"))
                        .query_async(&mut c)
                        .await
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        let _: Result<(), _> =
                            redis::cmd("DEL").arg(keys).query_async(&mut c).await;
                    }
                }
            });
        })
        .join();
    }
}

/// A vendor and one API token.
#[derive(Clone, Debug)]
pub struct VendorToken {
    pub vendor: VendorId,
    pub token: String,
}

pub struct AssetSpec<'a> {
    pub title: &'a str,
    pub file_name: &'a str,
    pub bytes: Vec<u8>,
    pub viewable: bool,
    pub countries: &'a [&'a str],
    pub min_qty: i32,
    pub stamp: assetgate::domain::Stamp,
    pub access_days: Option<i32>,
}

impl Default for AssetSpec<'_> {
    fn default() -> Self {
        Self {
            title: "Suite No. 1",
            file_name: "suite.pdf",
            bytes: sample_pdf(1000),
            viewable: true,
            countries: &[],
            min_qty: 1,
            stamp: assetgate::domain::Stamp::None,
            access_days: None,
        }
    }
}

/// A PDF-looking file of `len` bytes with varying content (so ranges are checkable).
pub fn sample_pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..len.saturating_sub(9)).map(|i| b'a' + (i % 26) as u8));
    bytes
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn vendor(&self, environment: Environment) -> VendorToken {
        let vendor = self.store.create_vendor("Test Shop").await.expect("vendor");
        let token = self.token_for(vendor.vendor_id, environment).await;
        VendorToken {
            vendor: vendor.vendor_id,
            token,
        }
    }

    /// Every stored file (local: below the storage folder, `tmp/` included;
    /// S3: every key of the bucket), as relative names.
    pub fn stored_files(&self) -> Vec<String> {
        if let Some(server) = &self.s3 {
            return server.keys();
        }
        let root = &self.settings.storage.path;
        let mut files = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    files.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        files.sort();
        files
    }

    /// `POST /admin/api/assets` with these text fields, then `file` (when given).
    pub async fn upload(
        &self,
        admin: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, Vec<u8>)>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        if let Some((name, bytes)) = file {
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
            );
        }
        self.client
            .post(self.url("/admin/api/assets"))
            .bearer_auth(admin)
            .multipart(form)
            .send()
            .await
            .expect("upload")
    }

    /// A new operator with the `admin` role; returns its admin token.
    pub async fn admin(&self, name: &str) -> String {
        self.operator(name, assetgate::domain::Role::Admin).await
    }

    /// A new operator with `role`; returns its admin token.
    pub async fn operator(&self, name: &str, role: assetgate::domain::Role) -> String {
        let name = assetgate::domain::AdminName::parse(name).expect("admin name");
        let (_, token) = self.store.create_admin(name, role).await.expect("admin");
        token.expose_secret().to_owned()
    }

    pub async fn token_for(&self, vendor: VendorId, environment: Environment) -> String {
        let (_, secret) = self
            .store
            .create_token(vendor, environment)
            .await
            .expect("token")
            .expect("vendor exists");
        secret.expose_secret().to_owned()
    }

    pub async fn set_vendor_status(&self, vendor: VendorId, status: VendorStatus) {
        self.store
            .set_vendor_status(vendor, status)
            .await
            .expect("status")
            .expect("vendor");
    }

    pub async fn add_asset(&self, spec: AssetSpec<'_>) -> Asset {
        let src = self
            .dir
            .path()
            .join(format!("src-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&src).expect("src dir");
        let path = src.join(spec.file_name);
        std::fs::write(&path, &spec.bytes).expect("write asset");
        let stored = self
            .storage
            .import_file(&path, |_, _| {})
            .await
            .expect("import");
        self.store
            .add_asset(NewAsset {
                asset_id: None,
                title: spec.title.to_owned(),
                description: None,
                format: assetgate::storage::format_label(spec.file_name, "application/pdf"),
                content_type: assetgate::storage::sniff_content_type(&stored.head, spec.file_name),
                size_bytes: stored.size_bytes as i64,
                sha256: stored.sha256,
                viewable: spec.viewable,
                countries: spec
                    .countries
                    .iter()
                    .map(|c| CountryCode::parse(c).expect("country"))
                    .collect(),
                min_qty: spec.min_qty,
                file_name: spec.file_name.to_owned(),
                stamp: spec.stamp,
                access_days: spec.access_days,
            })
            .await
            .expect("asset")
    }

    pub fn asset_path(&self, asset: &Asset) -> PathBuf {
        match &self.s3 {
            Some(server) => server.object_path(asset.sha256.as_str()),
            None => self
                .storage
                .local_path(&asset.sha256)
                .expect("a local file"),
        }
    }

    /// The stored lines of one order, read straight from the store.
    pub async fn order_lines(
        &self,
        vendor: VendorId,
        environment: Environment,
        order: OrderNumber,
    ) -> Vec<OrderLine> {
        self.store
            .order_lines(
                Tenant {
                    vendor,
                    environment,
                }
                .order(order),
            )
            .await
            .expect("order lines")
    }

    /// Runs raw SQL on the test's database (to age rows, break things, …).
    pub async fn execute_sql(&self, sql: &str) {
        use sea_orm::ConnectionTrait as _;
        sea_orm::Database::connect(self.settings.database.url.expose_secret())
            .await
            .expect("test database")
            .execute_unprepared(sql)
            .await
            .expect("SQL runs");
    }

    /// The first column of every row `sql` returns, as text.
    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        use sea_orm::ConnectionTrait as _;
        let db = sea_orm::Database::connect(self.settings.database.url.expose_secret())
            .await
            .expect("test database");
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .expect("SQL runs");
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("a text column"))
            .collect()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .await
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .await
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .await
            .json(body)
            .send()
            .await
            .expect("PATCH")
    }

    pub async fn validate(&self, token: &str, body: &Value) -> Response {
        self.post_json("/purchase/validate-purchase-before-payment", token, body)
            .await
    }

    pub async fn register(&self, token: &str, body: &Value) -> Response {
        self.post_json("/purchase/register", token, body).await
    }

    pub async fn info(&self, token: &str, order: i64) -> Response {
        self.get(&format!("/purchase/info?order_id={order}"), token)
            .await
    }

    pub async fn download_url(&self, token: &str, order: i64, line: i64) -> Response {
        self.get(
            &format!("/purchase/download-url?order_id={order}&order_line_id={line}"),
            token,
        )
        .await
    }

    pub async fn view_url(&self, token: &str, order: i64, line: i64) -> Response {
        self.get(
            &format!("/purchase/view-url?order_id={order}&order_line_id={line}"),
            token,
        )
        .await
    }

    pub async fn cancel(&self, token: &str, query: &str) -> Response {
        self.request(
            Method::DELETE,
            &format!("/purchase/cancel?{query}"),
            Some(token),
        )
        .await
        .send()
        .await
        .expect("DELETE")
    }

    /// A registered order (by `asset_id`), fulfilled; returns its order number.
    pub async fn completed_order(&self, token: &str, order: i64, lines: &[(i64, &Asset)]) -> i64 {
        let (first_line, first_asset) = lines[0];
        let parts: Vec<Value> = lines[1..]
            .iter()
            .map(|(line, asset)| json!({"asset_id": asset.asset_id, "order_line_id": line}))
            .collect();
        let res = self
            .register(
                token,
                &register_body(order, first_line, first_asset.asset_id, &parts),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "register: {}",
            res.text().await.unwrap_or_default()
        );
        let info = self.wait_for_order(token, order).await;
        assert_eq!(
            info.0,
            StatusCode::OK,
            "order {order} should complete: {}",
            info.1
        );
        order
    }

    /// Polls info until it stops answering 202 (10 s at most).
    pub async fn wait_for_order(&self, token: &str, order: i64) -> (StatusCode, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let res = self.info(token, order).await;
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            if status != StatusCode::ACCEPTED || Instant::now() > deadline {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn link(&self, token: &str, order: i64, line: i64) -> String {
        let res = self.download_url(token, order, line).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.expect("json")["url"]
            .as_str()
            .expect("url")
            .to_owned()
    }

    /// Starts another instance on the same database and storage with the
    /// fulfilment worker on (for apps spawned with `fulfilment: false`).
    pub async fn start_fulfilment_worker(&self) {
        let mut worker = self.settings.clone();
        worker.fulfilment.enabled = true;
        start_instance(&worker).await;
    }

    /// A fresh validate-before-payment token for one unit of `asset`.
    pub async fn validation_token(&self, token: &str, asset: AssetId) -> String {
        let body = json!({"asset_id": asset, "customer_ip": "198.51.100.7", "quantity": 1});
        let res = self.validate(token, &body).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// `link` re-signed with the gateway's key as if it had expired a
    /// minute ago: an authentic expired link of the same line.
    pub async fn expired_copy(&self, link: &str) -> String {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (base, token) = link.rsplit_once('/').expect("a link");
        let mut parts = token.split('.');
        let header: jsonwebtoken::Header =
            serde_json::from_slice(&engine.decode(parts.next().unwrap()).unwrap()).unwrap();
        let mut claims: Value =
            serde_json::from_slice(&engine.decode(parts.next().unwrap()).unwrap()).unwrap();
        let now = chrono::Utc::now().timestamp();
        claims["iat"] = json!(now - 3600);
        claims["exp"] = json!(now - 60);
        let key = jsonwebtoken::EncodingKey::from_secret(&self.signing_key().await);
        format!(
            "{base}/{}",
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        )
    }

    pub async fn signing_key(&self) -> Vec<u8> {
        assetgate::links::load_or_create_signing_key(&self.settings.links).expect("key")
    }
}

pub fn register_body(order: i64, line: i64, asset: AssetId, parts: &[Value]) -> Value {
    json!({
        "asset_id": asset,
        "order_number": order,
        "order_line_id": line,
        "unit_price": 10.0,
        "line_item_price": 10.0,
        "customer": "Ann Buyer",
        "parts": parts,
    })
}

/// Asserts an `ErrorResponse` with this status and name; returns the body.
pub async fn assert_error(res: Response, status: StatusCode, name: &str) -> Value {
    let got = res.status();
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(got, status, "expected {status} {name}, got {got}: {text}");
    assert!(
        ct.starts_with("application/json"),
        "error must be JSON, got {ct}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(body["name"], name, "{text}");
    assert_eq!(body["status"], status.as_u16(), "{text}");
    assert!(
        body["code"]
            .as_u64()
            .is_some_and(|c| c / 100 == u64::from(status.as_u16())),
        "{text}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{text}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        request_id.as_deref(),
        "request_id must match the header"
    );
    body
}

/// A `redis-server` child of this test, on a free port, that the test may
/// flush, pause, kill and restart without touching the shared one.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
    /// Held while it lives: it starts again on its own port (see `ports`).
    _port: crate::ports::Reserved,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let reserved = crate::ports::reserve();
        let mut redis = Self {
            port: reserved.port,
            child: None,
            _port: reserved,
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port, with empty memory.
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                // `DEBUG CHANGE-REPL-ID` (a promotion in place, for the fault tests).
                "--enable-debug-command",
                "local",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if self.connection().await.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis-server did not start on port {}", self.port);
    }

    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut c).await.ok()?;
        (pong == "PONG").then_some(c)
    }

    /// Runs one command on a fresh connection.
    pub async fn cmd(&self, args: &[&str]) -> redis::Value {
        let mut c = self.connection().await.expect("private redis reachable");
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut c).await.expect("redis command")
    }

    /// FLUSHALL and take the rebuild lock in one transaction, so the loss is
    /// certainly seen before any instance can rebuild (the lock expires by itself).
    pub async fn flush_and_hold_rebuild(&self, prefix: &str, hold_ms: u64) {
        let mut c = self.connection().await.expect("private redis reachable");
        let _: () = redis::pipe()
            .atomic()
            .cmd("FLUSHALL")
            .ignore()
            .cmd("SET")
            .arg(format!("{{{prefix}}}:rev:lock"))
            .arg("test")
            .arg("PX")
            .arg(hold_ms)
            .ignore()
            .query_async(&mut c)
            .await
            .expect("flush");
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

pub use private_postgres::PrivatePostgres;

/// Polls `probe` until it returns `Some`, for up to 15 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A headless Chromium driven over WebDriver by a chromedriver child of this
/// test (Debian's `chromium` and `chromium-driver`; scripts/test.sh installs them).
pub struct Browser {
    pub driver: thirtyfour::WebDriver,
    _chromedriver: tokio::process::Child,
    _profile: tempfile::TempDir,
    _port: crate::ports::Reserved,
}

impl Browser {
    pub async fn start() -> Self {
        use thirtyfour::prelude::*;
        let reserved = crate::ports::reserve();
        let port = reserved.port;
        let chromedriver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver must be installed (scripts/test.sh installs chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").expect("binary");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ] {
            caps.add_arg(arg).expect("arg");
        }
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
            .await
            .expect("a Chromium session");
        Self {
            driver,
            _chromedriver: chromedriver,
            _profile: profile,
            _port: reserved,
        }
    }

    /// Saves a screenshot under `target/screenshots/` (ignored by git).
    pub async fn screenshot(&self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        self.driver
            .screenshot(&dir.join(format!("{name}.png")))
            .await
            .expect("screenshot");
    }

    /// The current document's root, to wait for its replacement with
    /// [`Browser::wait_replaced`] after something that navigates.
    pub async fn page(&self) -> thirtyfour::WebElement {
        use thirtyfour::prelude::*;
        self.driver.find(By::Tag("html")).await.expect("a page")
    }

    /// Waits until `old` (from [`Browser::page`]) is gone: the next page is
    /// there. A click that submits a form can return before the browser has
    /// left the page; looking for the answer then finds the old page.
    pub async fn wait_replaced(&self, old: thirtyfour::WebElement) {
        use thirtyfour::prelude::*;
        old.wait_until()
            .wait(Duration::from_secs(15), Duration::from_millis(50))
            .stale()
            .await
            .expect("the next page loads");
    }

    /// Clicks `elem`, which navigates, and waits for the next page.
    pub async fn click_to_load(&self, elem: thirtyfour::WebElement) {
        let old = self.page().await;
        elem.click().await.expect("click");
        self.wait_replaced(old).await;
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        use thirtyfour::prelude::*;
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    /// Runs a script in the page and returns its JSON result.
    pub async fn eval(&self, script: &str) -> Value {
        self.driver
            .execute(script, vec![])
            .await
            .expect("script")
            .json()
            .clone()
    }
}
