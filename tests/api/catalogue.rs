//! Catalogue management through the admin API (SPEC §11), on both storage
//! backends: upload, list, edit, retire; bad uploads leave nothing behind;
//! and two instances that share no disk, only the database, Redis and the
//! bucket.

use assetgate::domain::{AssetId, Environment};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{
    Backend, Catalogue, Options, TestApp, assert_error, register_body, sample_pdf, spawn_app_with,
    start_instance, store_app, store_app_with,
};

both_stores!(
    an_uploaded_asset_is_listed_sold_downloaded_and_its_file_stored_once,
    retiring_stops_sales_and_keeps_serving_what_was_sold,
    bad_uploads_are_refused_and_leave_nothing_behind,
);

/// The objects of the catalogue (not temporary ones).
fn objects(app: &TestApp) -> Vec<String> {
    app.stored_files()
        .into_iter()
        .filter(|f| !f.starts_with("tmp/") && !f.contains("/tmp/"))
        .collect()
}

async fn created(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn sell(app: &TestApp, token: &str, order: i64, asset: i64) {
    let asset = app
        .store
        .get_asset(AssetId::parse(asset).unwrap())
        .await
        .unwrap()
        .unwrap();
    app.completed_order(token, order, &[(1, &asset)]).await;
}

async fn an_uploaded_asset_is_listed_sold_downloaded_and_its_file_stored_once(store: Catalogue) {
    let app = store_app(store).await;
    let admin = app.admin("catalogue-keeper").await;
    let bytes = sample_pdf(300_000);
    let item = created(
        app.upload(
            &admin,
            &[
                ("title", "Nocturne in E-flat"),
                ("description", "Op. 9 No. 2"),
                ("min_qty", "1"),
                ("viewable", "true"),
            ],
            Some(("nocturne.pdf", bytes.clone())),
        )
        .await,
    )
    .await;
    let sha = assetgate::domain::Sha256Digest::of(&bytes);
    assert_eq!(item["sha256"], sha.as_str());
    assert_eq!(item["size_bytes"], bytes.len());
    assert_eq!(item["title"], "Nocturne in E-flat");
    assert_eq!(item["content_type"], "application/pdf");
    assert_eq!(item["format"], "PDF");
    assert_eq!(item["world"], true);
    assert_eq!(item["viewable"], true);
    assert_eq!(item["status"], "ACTIVE");
    assert_eq!(item["file"], "ok");
    assert_eq!(item["lines"], 0);
    let id = item["asset_id"].as_i64().unwrap();

    // The vendor API sees it; a sale downloads exactly the uploaded bytes.
    let vt = app.vendor(Environment::Live).await;
    let listed: Value = app
        .get("/assets/list", &vt.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["asset_id"] == id)
    );
    sell(&app, &vt.token, 1, id).await;
    let link = app.link(&vt.token, 1, 1).await;
    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[..]);

    // The same file again: a second asset, one stored object.
    let again = created(
        app.upload(
            &admin,
            &[("title", "Nocturne (again)"), ("countries", "DE, AT")],
            Some(("copy.pdf", bytes.clone())),
        )
        .await,
    )
    .await;
    assert_eq!(again["sha256"], sha.as_str());
    assert_eq!(again["countries"], json!(["DE", "AT"]));
    assert_ne!(again["asset_id"], id);
    assert_eq!(objects(&app).len(), 1, "{:?}", app.stored_files());

    // Operators list it with its sales, filter and page.
    let page: Value = app
        .get("/admin/api/assets?q=nocturne", &admin)
        .await
        .json()
        .await
        .unwrap();
    let assets = page["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 2, "{page}");
    assert_eq!(assets[0]["lines"], 1);
    assert_eq!(assets[1]["lines"], 0);
    let page: Value = app
        .get("/admin/api/assets?q=again&page_size=1", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["assets"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_cursor"], Value::Null);
    let page: Value = app
        .get("/admin/api/assets?page_size=1", &admin)
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next: Value = app
        .get(
            &format!("/admin/api/assets?page_size=1&cursor={cursor}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["assets"][0]["asset_id"], again["asset_id"]);
    let one: Value = app
        .get(&format!("/admin/api/assets/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["lines"], 1);
    assert_eq!(one["file_name"], "Nocturne in E-flat.pdf");
}

async fn retiring_stops_sales_and_keeps_serving_what_was_sold(store: Catalogue) {
    let app = store_app(store).await;
    let admin = app.admin("catalogue-keeper").await;
    let bytes = sample_pdf(5_000);
    let item = created(
        app.upload(
            &admin,
            &[("title", "Etude")],
            Some(("etude.pdf", bytes.clone())),
        )
        .await,
    )
    .await;
    let id = item["asset_id"].as_i64().unwrap();
    let vt = app.vendor(Environment::Live).await;
    sell(&app, &vt.token, 1, id).await;
    let link = app.link(&vt.token, 1, 1).await;
    let validated = app
        .validation_token(&vt.token, AssetId::parse(id).unwrap())
        .await;

    let patch = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            app.client
                .patch(app.url(&format!("/admin/api/assets/{id}")))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = patch(json!({"status": "RETIRED", "title": "Etude (old edition)"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["status"], "RETIRED");
    assert_eq!(changed["title"], "Etude (old edition)");
    assert_eq!(changed["sha256"], item["sha256"], "the file never changes");

    let listed: Value = app
        .get("/assets/list", &vt.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !listed["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["asset_id"] == id),
        "{listed}"
    );
    let body = json!({"asset_id": id, "customer_ip": "198.51.100.7", "quantity": 1});
    assert_error(
        app.validate(&vt.token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "asset_retired",
    )
    .await;
    assert_error(
        app.register(
            &vt.token,
            &register_body(2, 1, AssetId::parse(id).unwrap(), &[]),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "asset_retired",
    )
    .await;
    // A token validated before the retirement does not buy it either.
    let with_token = json!({"token": validated, "order_number": 3, "order_line_id": 1,
        "unit_price": 1.0, "line_item_price": 1.0, "customer": "Bo"});
    assert_error(
        app.register(&vt.token, &with_token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "asset_retired",
    )
    .await;
    // What was sold keeps serving.
    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[..]);

    // Bad changes.
    assert_error(
        patch(json!({"file": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    assert_error(
        patch(json!({"status": "GONE"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    assert_error(
        patch(json!({"min_qty": 0})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    let res = app
        .client
        .patch(app.url("/admin/api/assets/9999"))
        .bearer_auth(&admin)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "asset_not_found").await;

    // Active again: sold again; the audit log has both changes.
    assert_eq!(
        patch(json!({"status": "ACTIVE"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.validate(&vt.token, &body).await.status(),
        StatusCode::OK
    );
    let audit: Value = app
        .get("/admin/api/audit", &admin)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["asset_change", "asset_change", "asset_add"],
        "{audit}"
    );
}

/// An upload whose field `late` comes after the part `file`.
async fn after_the_file(
    app: &TestApp,
    admin: &str,
    bytes: Vec<u8>,
    late: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("title", "Late field")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("late.pdf"),
        )
        .text(late.to_owned(), "2");
    app.client
        .post(app.url("/admin/api/assets"))
        .bearer_auth(admin)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn bad_uploads_are_refused_and_leave_nothing_behind(store: Catalogue) {
    let app = store_app_with(store, |s| s.storage.max_upload_bytes = 1024 * 1024).await;
    let admin = app.admin("catalogue-keeper").await;
    let file = || Some(("score.pdf", sample_pdf(10_000)));
    let invalid = |field: &'static str| {
        async move |res: reqwest::Response| {
            let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request").await;
            assert_eq!(body["details"]["field"], field, "{body}");
        }
    };

    invalid("file")(app.upload(&admin, &[("title", "No file")], None).await).await;
    invalid("title")(app.upload(&admin, &[], file()).await).await;
    invalid("colour")(
        app.upload(&admin, &[("title", "T"), ("colour", "red")], file())
            .await,
    )
    .await;
    invalid("title")(
        app.upload(&admin, &[("title", "T"), ("title", "U")], file())
            .await,
    )
    .await;
    invalid("countries")(
        app.upload(&admin, &[("title", "T"), ("countries", "Germany")], file())
            .await,
    )
    .await;
    invalid("file")(
        app.upload(&admin, &[("title", "Empty")], Some(("e.pdf", Vec::new())))
            .await,
    )
    .await;

    // A part after the file: refused, and the file it carried removed.
    invalid("description")(after_the_file(&app, &admin, sample_pdf(20_000), "description").await)
        .await;

    // Over storage.max_upload_bytes (1 MiB here), announced or not.
    let big = vec![b'x'; 1024 * 1024 + 1];
    assert_error(
        app.upload(&admin, &[("title", "Big")], Some(("big.bin", big.clone())))
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(
        futures_util::stream::iter(chunks),
    ))
    .file_name("big.bin");
    let form = reqwest::multipart::Form::new()
        .text("title", "Big, chunked")
        .part("file", streamed);
    let res = app
        .client
        .post(app.url("/admin/api/assets"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Not a form; a vendor's token; an id already taken.
    let res = app
        .client
        .post(app.url("/admin/api/assets"))
        .bearer_auth(&admin)
        .json(&json!({"title": "JSON"}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let vt = app.vendor(Environment::Live).await;
    assert_error(
        app.upload(&vt.token, &[("title", "Vendor")], file()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        objects(&app),
        Vec::<String>::new(),
        "every refusal left nothing"
    );
    created(
        app.upload(&admin, &[("title", "First"), ("asset_id", "7")], file())
            .await,
    )
    .await;
    assert_error(
        app.upload(
            &admin,
            &[("title", "Second"), ("asset_id", "7")],
            Some(("other.pdf", sample_pdf(30_000))),
        )
        .await,
        StatusCode::CONFLICT,
        "asset_exists",
    )
    .await;
    assert_eq!(objects(&app).len(), 1, "{:?}", app.stored_files());
    // A refused upload of the very file asset 7 uses leaves asset 7's file alone.
    invalid("min_qty")(after_the_file(&app, &admin, sample_pdf(10_000), "min_qty").await).await;
    let seven = app
        .store
        .get_asset(AssetId::parse(7).unwrap())
        .await
        .unwrap()
        .unwrap();
    app.storage
        .verify(&seven.sha256, seven.size_bytes as u64)
        .await
        .expect("asset 7's file is intact");
    assert_eq!(objects(&app).len(), 1, "{:?}", app.stored_files());
    let temporary: Vec<String> = app
        .stored_files()
        .into_iter()
        .filter(|f| f.starts_with("tmp/") || f.contains("/tmp/"))
        .collect();
    assert!(temporary.is_empty(), "{temporary:?}");
}

/// A fleet with no shared disk: two instances sharing only PostgreSQL, Redis
/// and the bucket, each with its own empty `storage.path`. An asset uploaded
/// through one's admin API is sold and downloaded through the other; a
/// cancel through the first refuses the link on the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_without_a_shared_disk_sell_what_one_of_them_received() {
    let options = Options {
        s3: true,
        ..Options::default()
    };
    let app = spawn_app_with(Backend::Postgres, options).await;
    let other_disk = tempfile::tempdir().unwrap();
    let mut settings = app.settings.clone();
    settings.storage.path = other_disk.path().join("assets");
    let other = start_instance(&settings).await;

    let admin = app.admin("catalogue-keeper").await;
    let bytes = sample_pdf(2 * 1024 * 1024);
    let item = created(
        app.upload(
            &admin,
            &[("title", "Sonata")],
            Some(("sonata.pdf", bytes.clone())),
        )
        .await,
    )
    .await;
    let id = AssetId::parse(item["asset_id"].as_i64().unwrap()).unwrap();

    let vt = app.vendor(Environment::Live).await;
    let on_other = |path: &str| format!("{other}{path}");
    let res = app
        .client
        .post(on_other("/purchase/register"))
        .bearer_auth(&vt.token)
        .json(&register_body(1, 1, id, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    app.wait_for_order(&vt.token, 1).await;
    let res = app
        .client
        .get(on_other(
            "/purchase/download-url?order_id=1&order_line_id=1",
        ))
        .bearer_auth(&vt.token)
        .send()
        .await
        .unwrap();
    let link = res.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // The link names the instance that minted it; the path is all that counts.
    let path = &link[link.find("/access/").unwrap()..];
    let res = app.client.get(on_other(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[..]);

    for disk in [&app.settings.storage.path, &settings.storage.path] {
        let files = std::fs::read_dir(disk).map(|d| d.count()).unwrap_or(0);
        assert_eq!(files, 0, "{} holds files", disk.display());
    }

    assert_eq!(
        app.cancel(&vt.token, "order_id=1").await.status(),
        StatusCode::CREATED
    );
    let res = app.client.get(on_other(path)).send().await.unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "access_revoked").await;
}

/// `assetgate storage migrate --to s3` with `env` (the app's database and
/// local folder, the bucket); the JSON report and the exit code.
fn migrate(app: &TestApp, server: &crate::s3_server::S3Server) -> (Value, Option<i32>) {
    use secrecy::ExposeSecret as _;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_assetgate"))
        .current_dir(app.dir.path())
        .env_clear()
        .env("DATABASE_URL", app.settings.database.url.expose_secret())
        .env("ASSETGATE__STORAGE__PATH", &app.settings.storage.path)
        .envs(server.env())
        .args(["storage", "migrate", "--to", "s3"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code())
}

/// A local catalogue with sold lines moves into a bucket: every sha256
/// verified, idempotent, resumable, a damaged local file reported and never
/// stored; then an instance on `s3` with an empty `storage.path` serves the
/// old links with the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_migrate_moves_a_sold_catalogue_into_a_bucket_and_old_links_keep_working() {
    let app = spawn_app_with(Backend::Postgres, Options::default()).await;
    let server = crate::s3_server::S3Server::start();
    let small = sample_pdf(2_000);
    let large = sample_pdf(3 * 1024 * 1024);
    let vt = app.vendor(Environment::Live).await;
    let mut links = Vec::new();
    let mut assets = Vec::new();
    for (order, bytes) in [(1, &small), (2, &large)] {
        let asset = app
            .add_asset(crate::helpers::AssetSpec {
                bytes: bytes.clone(),
                ..crate::helpers::AssetSpec::default()
            })
            .await;
        app.completed_order(&vt.token, order, &[(1, &asset)]).await;
        links.push(app.link(&vt.token, order, 1).await);
        assets.push(asset);
    }
    let in_bucket = || {
        server
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("assets/"))
            .count()
    };

    let (report, code) = migrate(&app, &server);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        (&report["copied"], &report["present"], &report["failed"]),
        (&json!(2), &json!(0), &json!(0)),
        "{report}"
    );
    assert_eq!(in_bucket(), 2);
    for asset in &assets {
        assert_eq!(
            std::fs::read(server.object_path(asset.sha256.as_str())).unwrap(),
            std::fs::read(app.asset_path(asset)).unwrap()
        );
    }

    // Again: nothing to copy. Interrupted (one object gone): it copies that one.
    let (report, _) = migrate(&app, &server);
    assert_eq!(
        (&report["copied"], &report["present"]),
        (&json!(0), &json!(2)),
        "{report}"
    );
    std::fs::remove_file(server.object_path(assets[1].sha256.as_str())).unwrap();
    let (report, _) = migrate(&app, &server);
    assert_eq!(
        (&report["copied"], &report["present"]),
        (&json!(1), &json!(1)),
        "{report}"
    );

    // A damaged local file is reported, exit 1, and nothing lands in the bucket for it.
    std::fs::remove_file(server.object_path(assets[1].sha256.as_str())).unwrap();
    let local = app.asset_path(&assets[1]);
    let mut damaged = large.clone();
    damaged[1_000_000] ^= 1;
    std::fs::write(&local, &damaged).unwrap();
    let (report, code) = migrate(&app, &server);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["failed"], 1, "{report}");
    assert!(
        report["problems"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("altered"),
        "{report}"
    );
    assert_eq!(in_bucket(), 1, "{:?}", server.keys());
    std::fs::write(&local, &large).unwrap();
    let (report, code) = migrate(&app, &server);
    assert_eq!((code, &report["copied"]), (Some(0), &json!(1)), "{report}");

    // An instance on the bucket, with an empty folder of its own, serves the old links.
    let mut settings = app.settings.clone();
    server.configure(&mut settings);
    let empty = tempfile::tempdir().unwrap();
    settings.storage.path = empty.path().join("assets");
    let on_s3 = start_instance(&settings).await;
    for (link, bytes) in links.iter().zip([&small, &large]) {
        let path = &link[link.find("/access/").unwrap()..];
        let res = app
            .client
            .get(format!("{on_s3}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap().as_ref(), &bytes[..]);
    }
}

/// Fulfilment on a bucket checks the object (present, of the recorded size)
/// before COMPLETED: a sale of an asset whose object is gone FAILS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_whose_object_is_gone_fails_instead_of_completing() {
    let app = store_app(Catalogue::S3).await;
    let admin = app.admin("catalogue-keeper").await;
    let item = created(
        app.upload(
            &admin,
            &[("title", "Gone")],
            Some(("gone.pdf", sample_pdf(100_000))),
        )
        .await,
    )
    .await;
    let server = app.s3.as_ref().unwrap();
    std::fs::remove_file(server.object_path(item["sha256"].as_str().unwrap())).unwrap();
    let vt = app.vendor(Environment::Live).await;
    let id = AssetId::parse(item["asset_id"].as_i64().unwrap()).unwrap();
    assert_eq!(
        app.register(&vt.token, &register_body(1, 1, id, &[]))
            .await
            .status(),
        StatusCode::CREATED
    );
    let (status, body) = app.wait_for_order(&vt.token, 1).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
}
