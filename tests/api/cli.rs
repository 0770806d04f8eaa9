//! The `assetgate` binary: CLI commands, `order show`, the embedded default,
//! and configuration errors.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use assetgate::domain::Environment;
use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, TestApp, assert_error, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_assetgate");

/// Runs the binary with a clean environment plus `envs`, in `cwd`.
fn run(cwd: &Path, envs: &[(&str, String)], args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(cwd)
        .env_clear()
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .output()
        .expect("run assetgate")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is not JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn app_env(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        (
            "DATABASE_URL",
            app.settings.database.url.expose_secret().to_owned(),
        ),
        (
            "ASSETGATE__STORAGE__PATH",
            app.settings.storage.path.display().to_string(),
        ),
    ]
}

#[test]
fn cli_commands_print_json_and_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "DATABASE_URL",
        format!("sqlite://{}/cli.db?mode=rwc", dir.path().display()),
    )];

    let migrated = json_of(&run(dir.path(), &env, &["migrate"]));
    assert_eq!(
        migrated["applied"],
        serde_json::json!([
            "m20261122_000001_create_catalogue",
            "m20261122_000002_create_orders",
            "m20261124_000003_index_revocations",
            "m20261124_000004_actors",
            "m20261124_000005_operators",
            "m20261124_000006_webhooks",
            "m20261205_000007_audit_actors",
            "m20261205_000008_asset_status",
            "m20261206_000009_admin_roles",
            "m20261206_000010_unordered_deliveries",
            "m20261206_000011_buyer_actor",
            "m20261206_000012_links_until",
            "m20261206_000013_event_reference",
            "m20261206_000014_stamping",
            "m20261206_000015_access_window"
        ]),
        "{migrated}"
    );
    assert_eq!(
        json_of(&run(dir.path(), &env, &["migrate"]))["applied"],
        serde_json::json!([])
    );

    let vendor = json_of(&run(
        dir.path(),
        &env,
        &["vendor", "create", "--name", "Nordic Scores"],
    ));
    assert_eq!(vendor["status"], "ACTIVE");
    assert_eq!(vendor["name"], "Nordic Scores");
    let vid = vendor["vendor_id"].as_str().unwrap().to_owned();
    assert_eq!(
        json_of(&run(dir.path(), &env, &["vendor", "suspend", &vid]))["status"],
        "SUSPENDED"
    );
    assert_eq!(
        json_of(&run(dir.path(), &env, &["vendor", "activate", &vid]))["status"],
        "ACTIVE"
    );

    let token = json_of(&run(
        dir.path(),
        &env,
        &[
            "token",
            "create",
            "--vendor",
            &vid,
            "--environment",
            "SANDBOX",
        ],
    ));
    assert!(token["token"].as_str().unwrap().starts_with("agt_test_"));
    assert_eq!(token["environment"], "SANDBOX");
    let revoked = json_of(&run(
        dir.path(),
        &env,
        &["token", "revoke", token["token_id"].as_str().unwrap()],
    ));
    assert!(revoked["revoked_at"].as_str().is_some());
    assert!(
        revoked.get("token").is_none(),
        "the secret is shown once only"
    );

    let file = dir.path().join("Score.PDF");
    std::fs::write(&file, b"%PDF-1.7 a score").unwrap();
    let asset = json_of(&run(
        dir.path(),
        &env,
        &[
            "asset",
            "add",
            "--file",
            file.to_str().unwrap(),
            "--title",
            "Études, Op. 10",
            "--asset-id",
            "42",
            "--viewable",
            "--countries",
            "se,NO",
            "--min-qty",
            "2",
        ],
    ));
    assert_eq!(asset["asset_id"], 42);
    assert_eq!(asset["content_type"], "application/pdf");
    assert_eq!(asset["format"], "PDF");
    assert_eq!(asset["countries"], serde_json::json!(["SE", "NO"]));
    assert_eq!(asset["world"], false);
    assert_eq!(asset["size_bytes"], 16);
    // Stored under the digest, not the client's name.
    let sha = asset["sha256"].as_str().unwrap();
    assert!(
        dir.path()
            .join("data/assets")
            .join(&sha[..2])
            .join(sha)
            .is_file()
    );

    for (args, needle) in [
        (
            vec![
                "token",
                "create",
                "--vendor",
                vid.as_str(),
                "--environment",
                "PROD",
            ],
            "environment",
        ),
        (
            vec!["vendor", "suspend", "00000000-0000-0000-0000-000000000000"],
            "was not found",
        ),
        (vec!["vendor", "suspend", "nope"], "not a vendor id"),
        (
            vec!["asset", "add", "--file", "/does/not/exist", "--title", "x"],
            "not a readable file",
        ),
        (
            vec![
                "asset",
                "add",
                "--file",
                file.to_str().unwrap(),
                "--title",
                "dup",
                "--asset-id",
                "42",
            ],
            "already exists",
        ),
    ] {
        let out = run(dir.path(), &env, &args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn bad_configuration_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (env, needle) in [
        (
            vec![("ASSETGATE__SERVER__PORT", "abc".to_owned())],
            "server.port",
        ),
        (
            vec![("ASSETGATE__LINKS__SIGNING_KEY", "c2hvcnQ=".to_owned())],
            "links.signing_key",
        ),
        (
            vec![("ASSETGATE__LOG__FORMAT", "xml".to_owned())],
            "log.format",
        ),
        (vec![("REDIS_URL", "http://nope".to_owned())], "redis.url"),
        (
            vec![(
                "ASSETGATE__SERVER__TRUSTED_PROXIES",
                "10.0.0.0/8, proxy.local".to_owned(),
            )],
            "server.trusted_proxies",
        ),
        (
            vec![(
                "ASSETGATE__LINKS__PREVIOUS_SIGNING_KEYS",
                "not base64!".to_owned(),
            )],
            "links.previous_signing_keys",
        ),
        (
            vec![("ASSETGATE__RATE_LIMIT__VENDOR_BURST", "0".to_owned())],
            "rate_limit.vendor_burst",
        ),
        (
            vec![("ASSETGATE_CONFIG", "/no/such/file.toml".to_owned())],
            "--config",
        ),
        (
            vec![("ASSETGATE__STORAGE__BACKEND", "nfs".to_owned())],
            "storage.backend",
        ),
        (
            vec![("ASSETGATE__STORAGE__BACKEND", "s3".to_owned())],
            "storage.s3.bucket",
        ),
        (
            vec![
                ("ASSETGATE__STORAGE__BACKEND", "s3".to_owned()),
                ("ASSETGATE__STORAGE__S3__BUCKET", "b".to_owned()),
                (
                    "ASSETGATE__STORAGE__S3__ENDPOINT",
                    "http://127.0.0.1:9000".to_owned(),
                ),
            ],
            "storage.s3.allow_http",
        ),
        (
            vec![
                ("ASSETGATE__STORAGE__BACKEND", "s3".to_owned()),
                ("ASSETGATE__STORAGE__S3__BUCKET", "b".to_owned()),
                ("ASSETGATE__STORAGE__S3__ACCESS_KEY_ID", "AKIA".to_owned()),
            ],
            "secret_access_key",
        ),
        (
            vec![("ASSETGATE__DELIVERY__MODE", "redirect".to_owned())],
            "delivery.mode",
        ),
    ] {
        let out = run(
            dir.path(),
            &env.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
            &["migrate"],
        );
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{env:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_default_serves_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .env("ASSETGATE__SERVER__PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();

    assetgate::webhooks::install_tls_provider();
    let res = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let data = dir.path().join("data");
    assert!(data.join("assetgate.db").is_file());
    assert!(data.join("assets").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    child.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("SINGLE instance"),
        "start-up must say the revocation set is single-instance: {stderr}"
    );
}

both_backends!(order_show_prints_the_whole_history_accesses_included);

async fn order_show_prints_the_whole_history_accesses_included(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 77, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 77, 1).await;
    assert_eq!(
        app.client
            .get(&link)
            .header("Range", "bytes=10-19")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(
        app.cancel(&vt.token, "order_id=77&reason=Refund")
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_error(
        app.client.get(&link).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;

    // Access events are written in batches off the request path: wait for them.
    let mut shown = Value::Null;
    for _ in 0..40 {
        let vendor = vt.vendor.to_string();
        let out = run(
            app.dir.path(),
            &app_env(&app),
            &[
                "order",
                "show",
                "--vendor",
                &vendor,
                "--environment",
                "LIVE",
                "--order",
                "77",
            ],
        );
        shown = json_of(&out);
        if shown["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "access")
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["lines"][0]["status"], "CANCELED");
    assert_eq!(shown["lines"][0]["cancel_reason"], "Refund");
    let history = shown["history"].as_array().unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "registered",
        "fulfilled",
        "link_issued",
        "access",
        "canceled",
    ] {
        assert!(kinds.contains(&kind), "missing {kind} in {kinds:?}");
    }
    let accesses: Vec<&Value> = history.iter().filter(|e| e["kind"] == "access").collect();
    assert_eq!(accesses[0]["data"]["result"], "served");
    assert_eq!(accesses[0]["data"]["range"], "bytes=10-19");
    assert_eq!(accesses[0]["data"]["status"], 206);
    assert_eq!(accesses[0]["data"]["client_ip"], "127.0.0.1");
    assert_eq!(accesses[1]["data"]["result"], "access_revoked");
    let canceled = history.iter().find(|e| e["kind"] == "canceled").unwrap();
    assert_eq!(canceled["data"]["reason"], "Refund");
    assert!(
        history
            .iter()
            .all(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).is_ok())
    );
}

both_backends!(with_access_recording_off_downloads_leave_no_access_events);

async fn with_access_recording_off_downloads_leave_no_access_events(backend: Backend) {
    let options = crate::helpers::Options {
        record_access: false,
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(backend, options).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 5, &[(1, &asset)]).await;
    let link = app.link(&vt.token, 5, 1).await;
    for _ in 0..3 {
        assert_eq!(
            app.client.get(&link).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    // Longer than the writer's flush interval.
    tokio::time::sleep(Duration::from_millis(600)).await;

    let lines = app
        .order_lines(
            vt.vendor,
            Environment::Live,
            assetgate::domain::OrderNumber::parse(5).unwrap(),
        )
        .await;
    let history = app.store.history(&[lines[0].line_id]).await.unwrap();
    assert!(
        history.iter().any(|e| e.kind == "link_issued"),
        "other history is still kept"
    );
    assert!(!history.iter().any(|e| e.kind == "access"), "{history:?}");
}

/// A query that fails answers a generic 500; the log line (JSON) names the
/// operation, so an operator can tell which query broke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_query_answers_a_generic_500_while_the_log_names_the_operation() {
    use sea_orm::ConnectionTrait as _;

    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/broken.db?mode=rwc", dir.path().display());
    let env = [("DATABASE_URL", db_url.clone())];
    json_of(&run(dir.path(), &env, &["migrate"]));
    let vendor = json_of(&run(
        dir.path(),
        &env,
        &["vendor", "create", "--name", "Broken Shop"],
    ));
    let token = json_of(&run(
        dir.path(),
        &env,
        &[
            "token",
            "create",
            "--vendor",
            vendor["vendor_id"].as_str().unwrap(),
            "--environment",
            "LIVE",
        ],
    ))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut child = tokio::process::Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", &db_url)
        .env("ASSETGATE__SERVER__PORT", "0")
        .env("ASSETGATE__LOG__FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();

    // The table behind /purchase/info disappears under the running server.
    sea_orm::Database::connect(&db_url)
        .await
        .unwrap()
        .execute_unprepared("DROP TABLE order_lines")
        .await
        .unwrap();
    assetgate::webhooks::install_tls_provider();
    let res = reqwest::Client::new()
        .get(format!("{url}/purchase/info?order_id=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body = assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "internal_error").await;
    assert_eq!(
        body["message"],
        "An internal error occurred; it has been logged."
    );
    let text = body.to_string();
    assert!(
        !text.contains("order_lines") && !text.contains("table"),
        "the body reveals nothing: {text}"
    );

    child.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    let logged = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("an error line is logged: {stderr}"));
    assert_eq!(logged["op"], "loading order lines", "{logged}");
    assert!(
        logged["error"]
            .as_str()
            .unwrap_or("")
            .contains("order_lines"),
        "the log keeps the cause: {logged}"
    );
    assert_eq!(logged["span"]["request_id"], body["request_id"], "{logged}");
}

/// Kubernetes pod names reach 63 characters; the instance name (in
/// `order_lines.claimed_by`, VARCHAR(64)) must still fit, or fulfilment fails
/// every pass and no line ever completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfilment_works_on_postgres_under_a_63_character_host_name() {
    let db = crate::helpers::EmptyDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("DATABASE_URL", db.url.clone()),
        ("REDIS_URL", crate::helpers::redis_url()),
        (
            "ASSETGATE__REDIS__KEY_PREFIX",
            format!("agtest-{}", uuid::Uuid::new_v4().simple()),
        ),
        ("HOSTNAME", format!("assetgate-{}", "x".repeat(53))),
    ];
    assert_eq!(env[3].1.len(), 63);
    json_of(&run(dir.path(), &env, &["migrate"]));
    let vendor = json_of(&run(
        dir.path(),
        &env,
        &["vendor", "create", "--name", "Pod Shop"],
    ));
    let token = json_of(&run(
        dir.path(),
        &env,
        &[
            "token",
            "create",
            "--vendor",
            vendor["vendor_id"].as_str().unwrap(),
            "--environment",
            "LIVE",
        ],
    ))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = dir.path().join("score.pdf");
    std::fs::write(&file, b"%PDF-1.4 pod").unwrap();
    let asset = json_of(&run(
        dir.path(),
        &env,
        &[
            "asset",
            "add",
            "--file",
            file.to_str().unwrap(),
            "--title",
            "Score",
        ],
    ));
    let mut child = tokio::process::Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("ASSETGATE__SERVER__PORT", "0")
        .env("ASSETGATE__FULFILMENT__POLL_INTERVAL_MS", "100")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    assetgate::webhooks::install_tls_provider();
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{url}/purchase/register"))
        .bearer_auth(&token)
        .json(&crate::helpers::register_body(
            1,
            1,
            assetgate::domain::AssetId::parse(asset["asset_id"].as_i64().unwrap()).unwrap(),
            &[],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let status = crate::helpers::eventually("the line completes", || async {
        let res = http
            .get(format!("{url}/purchase/info?order_id=1"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?;
        (res.status() != StatusCode::ACCEPTED).then_some(res.status())
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = http
        .get(format!("{url}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        health
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["health"] == true),
        "{health}"
    );
}

#[test]
fn storage_verify_reports_missing_and_altered_files_and_exits_1() {
    asset_add_list_and_verify(None);
}

/// `asset add`, `asset list` and `storage verify` on a bucket, with the
/// credentials from the AWS chain (environment variables): nothing is
/// written to the local folder, and damage to the objects is found.
#[test]
fn asset_commands_and_storage_verify_work_on_s3() {
    let server = crate::s3_server::S3Server::start();
    asset_add_list_and_verify(Some(&server));
}

fn asset_add_list_and_verify(s3: Option<&crate::s3_server::S3Server>) {
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![(
        "DATABASE_URL",
        format!("sqlite://{}/verify.db?mode=rwc", dir.path().display()),
    )];
    if let Some(server) = s3 {
        use crate::s3_server::{ACCESS_KEY, SECRET_KEY};
        env.push(("ASSETGATE__STORAGE__BACKEND", "s3".to_owned()));
        // No keys in the settings: the standard AWS chain finds them in the
        // environment (as it would a role's on AWS).
        env.extend(
            server.env().into_iter().filter(|(k, _)| {
                !k.ends_with("ACCESS_KEY_ID") && !k.ends_with("SECRET_ACCESS_KEY")
            }),
        );
        env.extend([
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ]);
    }
    json_of(&run(dir.path(), &env, &["migrate"]));
    let mut digests = Vec::new();
    for (name, bytes) in [
        ("a.pdf", b"%PDF-1.4 first".to_vec()),
        ("b.pdf", b"%PDF-1.4 second".to_vec()),
        ("c.bin", vec![7u8; 200_000]),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let asset = json_of(&run(
            dir.path(),
            &env,
            &[
                "asset",
                "add",
                "--file",
                file.to_str().unwrap(),
                "--title",
                name,
            ],
        ));
        digests.push(asset["sha256"].as_str().unwrap().to_owned());
    }
    let listed = json_of(&run(dir.path(), &env, &["asset", "list"]));
    let listed: Vec<&str> = listed["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(listed, digests);
    let report = json_of(&run(dir.path(), &env, &["storage", "verify"]));
    assert_eq!(report["checked"], 3);
    assert_eq!(report["ok"], 3);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["bytes"], 14 + 15 + 200_000);

    let stored = |sha: &str| match s3 {
        Some(server) => server.object_path(sha),
        None => dir.path().join("data/assets").join(&sha[..2]).join(sha),
    };
    if s3.is_some() {
        let local = dir.path().join("data/assets").join(&digests[0][..2]);
        assert!(!local.exists(), "an s3 catalogue writes nothing locally");
    }
    std::fs::remove_file(stored(&digests[0])).unwrap();
    let mut altered = std::fs::read(stored(&digests[2])).unwrap();
    altered[100_000] = 8;
    std::fs::write(stored(&digests[2]), altered).unwrap();

    let out = run(dir.path(), &env, &["storage", "verify"]);
    assert_eq!(out.status.code(), Some(1), "damage found: exit 1");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is still printed");
    assert_eq!(report["failed"], 2);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems[0]["sha256"], digests[0]);
    assert!(problems[0]["problem"].as_str().unwrap().contains("missing"));
    assert_eq!(problems[1]["asset_id"], 3);
    assert!(problems[1]["problem"].as_str().unwrap().contains("sha256"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 3 asset files"));
}

#[test]
fn a_misspelt_key_or_a_fleet_without_redis_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("assetgate.toml");
    std::fs::write(&config, "[server]\nprot = 9000\n").unwrap();
    for (env, needle) in [
        (
            vec![("ASSETGATE__REDIS__ULR", "redis://127.0.0.1:6379".to_owned())],
            "unknown field `ulr`",
        ),
        (
            vec![("ASSETGATE__REVOCATON__SINGLE_INSTANCE", "true".to_owned())],
            "unknown field `revocaton`",
        ),
        (
            vec![("ASSETGATE_CONFIG", config.display().to_string())],
            "unknown field `prot`",
        ),
        (
            vec![(
                "DATABASE_URL",
                format!("{}/db", crate::helpers::postgres_base()),
            )],
            "revocation.single_instance",
        ),
        (
            vec![(
                "ASSETGATE__REDIS__SENTINELS",
                "10.0.0.1:26379,nohost".to_owned(),
            )],
            "redis.sentinels",
        ),
        (
            vec![("ASSETGATE__REDIS__SENTINELS", "10.0.0.1:26379".to_owned())],
            "redis.master_name",
        ),
        (
            vec![
                ("ASSETGATE__REDIS__SENTINELS", "10.0.0.1:26379".to_owned()),
                ("ASSETGATE__REDIS__MASTER_NAME", "mymaster".to_owned()),
                ("REDIS_URL", "redis://127.0.0.1:6379".to_owned()),
            ],
            "use one",
        ),
    ] {
        let out = run(dir.path(), &env, &["serve"]);
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{env:?}: {stderr}");
    }
    // Declared on purpose, a single PostgreSQL instance with an in-process set is fine
    // (here `migrate` stands for start-up: configuration is all that is checked).
    let out = run(
        dir.path(),
        &[
            ("DATABASE_URL", "postgres://127.0.0.1:1/nowhere".to_owned()),
            ("ASSETGATE__REVOCATION__SINGLE_INSTANCE", "true".to_owned()),
            ("ASSETGATE__DATABASE__TIMEOUT_MS", "200".to_owned()),
        ],
        &["migrate"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("connecting to the database"),
        "past configuration, to the (absent) database: {stderr}"
    );
}

#[test]
fn key_generate_prints_a_fresh_key_and_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let first = json_of(&run(dir.path(), &[], &["key", "generate"]));
    let second = json_of(&run(dir.path(), &[], &["key", "generate"]));
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = base64::Engine::decode(&b64, first["key"].as_str().unwrap()).unwrap();
    assert_eq!(key.len(), 32, "{first}");
    let kid = first["kid"].as_str().unwrap();
    assert_eq!(kid.len(), 16);
    assert!(kid.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    assert_ne!(first["key"], second["key"], "fresh every time");
    // It is accepted as a signing key.
    let out = run(
        dir.path(),
        &[(
            "ASSETGATE__LINKS__SIGNING_KEY",
            first["key"].as_str().unwrap().to_owned(),
        )],
        &["migrate"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

both_backends!(cli_changes_are_audited_as_the_os_user_and_lists_print_json);

/// Every change the CLI makes is in the audit log as `cli:<os user>`, like
/// an operator's; the list and search commands print what they find.
async fn cli_changes_are_audited_as_the_os_user_and_lists_print_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let env = app_env(&app);
    let dir = app.dir.path();
    let cli = |args: &[&str]| json_of(&run(dir, &env, args));

    let vendor = cli(&["vendor", "create", "--name", "Audited Shop"]);
    let vid = vendor["vendor_id"].as_str().unwrap().to_owned();
    let token = cli(&["token", "create", "--vendor", &vid, "--environment", "LIVE"]);
    let tid = token["token_id"].as_str().unwrap().to_owned();
    cli(&["vendor", "suspend", &vid]);
    cli(&["vendor", "activate", &vid]);
    let file = dir.join("cli-asset.pdf");
    std::fs::write(&file, assetgate_pdf()).unwrap();
    let asset = cli(&[
        "asset",
        "add",
        "--file",
        file.to_str().unwrap(),
        "--title",
        "CLI asset",
    ]);
    let admin = cli(&["admin", "create", "--name", "Cli Made", "--role", "support"]);
    let admin_id = admin["admin_id"].as_str().unwrap().to_owned();
    assert_eq!(admin["role"], "support", "{admin}");
    let bad = run(
        dir,
        &env,
        &["admin", "create", "--name", "X", "--role", "root"],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("viewer"),
        "the error lists the roles: {}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // Lists.
    let vendors = cli(&["vendor", "list"]);
    let listed = vendors["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vendor_id"] == vid.as_str())
        .expect("the new vendor is listed");
    assert_eq!(listed["name"], "Audited Shop");
    let tokens = cli(&["token", "list", "--vendor", &vid]);
    assert_eq!(tokens["tokens"][0]["token_id"], tid.as_str());
    let secret = token["token"].as_str().unwrap();
    assert!(!tokens.to_string().contains(secret), "no secrets: {tokens}");
    let assets = cli(&["asset", "list"]);
    assert!(
        assets["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["asset_id"] == asset["asset_id"]),
        "{assets}"
    );
    let one = cli(&["asset", "list", "--limit", "1"]);
    assert_eq!(one["assets"].as_array().unwrap().len(), 1);
    assert_eq!(one["next_after"], Value::Null, "the only asset: {one}");
    // An order found by number and by customer.
    let catalogue = app.add_asset(AssetSpec::default()).await;
    let one = cli(&["asset", "list", "--limit", "1"]);
    assert_eq!(one["next_after"], one["assets"][0]["asset_id"], "{one}");
    let rest = cli(&["asset", "list", "--after", &one["next_after"].to_string()]);
    assert_eq!(rest["assets"].as_array().unwrap().len(), 1, "{rest}");
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 4242, &[(1, &catalogue)])
        .await;
    let found = cli(&["order", "search", "--q", "4242"]);
    assert_eq!(found["orders"][0]["order_id"], 4242, "{found}");
    let none = cli(&["order", "search", "--q", "4243"]);
    assert_eq!(none["orders"], serde_json::json!([]));
    let bad = run(dir, &env, &["order", "search", "--status", "LOST"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("status"));

    // Roles: changed by `admin set-role`, listed, and what `/admin/api/me` says.
    let changed = cli(&["admin", "set-role", &admin_id, "viewer"]);
    assert_eq!(changed["role"], "viewer", "{changed}");
    let listed = cli(&["admin", "list"]);
    let me = listed["admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["admin_id"] == admin_id.as_str())
        .expect("listed");
    assert_eq!(me["role"], "viewer", "{listed}");
    let secret = admin["token"].as_str().unwrap();
    let me: Value = app.get("/admin/api/me", secret).await.json().await.unwrap();
    assert_eq!(me["role"], "viewer", "{me}");
    assert_eq!(me["name"], "Cli Made", "{me}");
    assert_eq!(me["admin_id"], admin_id.as_str(), "{me}");

    cli(&["token", "revoke", &tid]);
    cli(&["admin", "revoke", &admin_id]);

    // The audit log names the person at the CLI for each change.
    let reader = app.admin("Auditor").await;
    let audit: Value = app
        .get("/admin/api/audit", &reader)
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    let who = format!("cli:{}", whoami::username());
    let mut actions: Vec<&str> = entries
        .iter()
        .filter(|e| e["actor"] == who.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.reverse();
    assert_eq!(
        actions,
        [
            "vendor_create",
            "token_create",
            "vendor_suspend",
            "vendor_activate",
            "asset_add",
            "admin_create",
            "admin_set_role",
            "token_revoke",
            "admin_revoke"
        ],
        "{audit}"
    );
    assert!(
        entries.iter().all(|e| e["admin"] == who.as_str()),
        "{audit}"
    );
}

fn assetgate_pdf() -> Vec<u8> {
    crate::helpers::sample_pdf(2048)
}

/// Run from the wrong folder, a command does not make a new, empty database
/// (which the server would never see): it says which one it looked for.
#[test]
fn commands_other_than_serve_and_migrate_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["vendor", "list"],
        vec!["vendor", "create", "--name", "Lost"],
        vec!["order", "search"],
        vec!["storage", "verify"],
    ] {
        let out = run(dir.path(), &[], &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no database at data/assetgate.db") && stderr.contains("migrate"),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing was created in the wrong folder"
    );
    // `migrate` creates it; then the same commands work.
    json_of(&run(dir.path(), &[], &["migrate"]));
    assert_eq!(
        json_of(&run(dir.path(), &[], &["vendor", "list"]))["vendors"],
        serde_json::json!([])
    );
}

/// A PostgreSQL database without assetgate's tables is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_without_tables_is_refused() {
    let name = format!("agtest_empty_{}", uuid::Uuid::new_v4().simple());
    crate::helpers::create_database(&name).await;
    let url = format!("{}/{name}", crate::helpers::postgres_base());
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[("DATABASE_URL", url)], &["vendor", "list"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no assetgate tables") && stderr.contains(&name),
        "{stderr}"
    );
}

/// A variable that looks like a setting but is not one is named, with the
/// setting that was probably meant.
#[test]
fn an_unknown_assetgate_variable_gets_a_warning_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("ASSETGATE_SERVER_PORT", "9999".to_owned())],
        &["key", "generate"],
    );
    json_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ASSETGATE_SERVER_PORT is not a setting")
            && stderr.contains("ASSETGATE__SERVER__PORT"),
        "{stderr}"
    );
    let out = run(
        dir.path(),
        &[("ASSETGATE__SERVER__PORT", "9999".to_owned())],
        &["key", "generate"],
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// sea-orm traces its connect with the options, URL and password included:
/// even at `RUST_LOG=trace` the password is not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_password_never_reaches_the_log() {
    let db = crate::helpers::EmptyDatabase::create(Backend::Postgres).await;
    let with_password = db.url.replacen(
        "postgres://postgres@",
        "postgres://postgres:Pw-n0t-in-l0gs@",
        1,
    );
    assert_ne!(with_password, db.url, "the URL has a password: {}", db.url);
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("DATABASE_URL", with_password),
        ("RUST_LOG", "trace".to_owned()),
    ];
    let out = run(dir.path(), &env, &["migrate"]);
    json_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TRACE"),
        "traced: {}",
        &stderr[..stderr.len().min(500)]
    );
    assert!(
        !stderr.contains("Pw-n0t-in-l0gs"),
        "the password was logged"
    );
    let out = run(dir.path(), &env, &["vendor", "list"]);
    json_of(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Pw-n0t-in-l0gs"));
}
