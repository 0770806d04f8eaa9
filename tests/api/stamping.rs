//! Per-buyer PDF stamping (SPEC §12), checked with real tools: `pdftotext`
//! reads the footer on every page, `qpdf --check` the structure.

use assetgate::domain::{Environment, Stamp};
use assetgate::stamping::{Licence, StampError, stamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_stores;
use crate::helpers::{AssetSpec, Catalogue, TestApp, assert_error, register_body, store_app};
use crate::pdf::{encrypted, info_entry, make_pdf, page_texts, qpdf_check};

both_stores!(
    each_buyer_downloads_their_own_copy_with_ranges_heads_and_etags,
    an_unstampable_pdf_fails_its_line_and_the_original_is_never_served,
    operators_set_stamping_only_on_files_that_take_it_and_before_the_first_sale,
    a_canceled_lines_copy_is_removed_once_none_of_its_links_can_work,
);

const TEMPLATE: &str = "Licensed to {customer} · order {order_id} · {date}";

fn licence(customer: &str) -> Licence<'_> {
    Licence {
        customer,
        vendor: "Nordic Scores",
        order_id: 1001,
        order_line_id: 2,
        date: "2026-12-06",
    }
}

fn stamped(original: &[u8], customer: &str) -> Vec<u8> {
    let l = licence(customer);
    stamp(original, &l.footer(TEMPLATE), &l).expect("stamps")
}

#[test]
fn every_page_carries_the_footer_and_keeps_its_own_text() {
    let original = make_pdf(12, "Suite");
    assert_eq!(qpdf_check(&original), Ok(()), "the fixture itself is sound");
    let copy = stamped(&original, "Ann Buyer");
    assert!(
        copy.starts_with(&original),
        "an incremental update: the original bytes are untouched"
    );
    assert_eq!(qpdf_check(&copy), Ok(()));
    let pages = page_texts(&copy);
    assert_eq!(pages.len(), 12);
    for (n, text) in (1..).zip(&pages) {
        assert!(
            text.contains(&format!("Suite original page {n}")),
            "page {n}: {text}"
        );
        assert!(
            text.contains("Licensed to Ann Buyer · order 1001 · 2026-12-06"),
            "page {n}: {text}"
        );
    }
    assert_eq!(
        info_entry(&copy, "AssetgateLicensee").as_deref(),
        Some("Ann Buyer")
    );
    assert_eq!(
        info_entry(&copy, "AssetgateVendor").as_deref(),
        Some("Nordic Scores")
    );
    assert_eq!(info_entry(&copy, "AssetgateOrder").as_deref(), Some("1001"));
    assert_eq!(
        info_entry(&copy, "AssetgateOrderLine").as_deref(),
        Some("2")
    );
    assert_eq!(
        info_entry(&copy, "Title").as_deref(),
        Some("Suite No. 1"),
        "the original information is kept"
    );
}

#[test]
fn two_buyers_get_different_copies_each_with_their_own_name() {
    let original = make_pdf(3, "Etude");
    let ann = stamped(&original, "Ann Buyer");
    let bob = stamped(&original, "Bob Other");
    assert_ne!(ann, bob);
    assert!(
        page_texts(&ann)
            .iter()
            .all(|p| p.contains("Ann Buyer") && !p.contains("Bob"))
    );
    assert!(
        page_texts(&bob)
            .iter()
            .all(|p| p.contains("Bob Other") && !p.contains("Ann"))
    );
}

#[test]
fn hostile_and_foreign_names_cannot_break_the_pdf_or_vanish() {
    let original = make_pdf(2, "Etude");
    let long = "x".repeat(10_000);
    let cases: [(&str, &str); 7] = [
        ("Ann) Tj ET BT (pwned", "Ann) Tj ET BT (pwned"),
        ("back\\slash \\) (", "back\\slash \\) ("),
        ("two\nlines\r\there", "two lines"),
        ("\u{202E}Ørsted\u{200F}", "Ørsted"),
        ("Zoë", "Zoë"),
        ("王芳", "U+738B U+82B3"),
        (&long, "xxxxxxxxxx"),
    ];
    for (name, shown) in cases {
        let copy = stamped(&original, name);
        assert_eq!(qpdf_check(&copy), Ok(()), "{name:.40}");
        let pages = page_texts(&copy);
        assert_eq!(pages.len(), 2, "{name:.40}");
        for text in &pages {
            assert!(text.contains("Etude original page"), "{name:.40}: {text}");
            assert!(
                text.contains(&format!("Licensed to {shown}")),
                "{name:.40}: {text:.400}"
            );
        }
        assert_eq!(
            info_entry(&copy, "AssetgateLicensee").as_deref(),
            Some(name),
            "the exact name is in the document information"
        );
    }
}

#[test]
fn encrypted_damaged_and_non_pdf_files_are_refused() {
    let original = make_pdf(2, "Etude");
    let l = licence("Ann");
    assert_eq!(
        stamp(&encrypted(&original), "x", &l),
        Err(StampError::Encrypted)
    );
    assert_eq!(stamp(b"PK\x03\x04 a zip", "x", &l), Err(StampError::NotPdf));
    let mut cut = original.clone();
    cut.truncate(original.len() / 3);
    assert!(
        matches!(stamp(&cut, "x", &l), Err(StampError::Damaged(_))),
        "a truncated PDF"
    );
}

/// A stamped page as a person sees it (`pdftoppm`), kept with the console's
/// screenshots to look at.
#[test]
fn a_stamped_page_renders() {
    let copy = stamped(&make_pdf(2, "Suite"), "Zoë Ørsted (王芳)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("stamped.pdf");
    std::fs::write(&input, &copy).unwrap();
    let status = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&input)
        .arg(dir.join("40-stamped-page"))
        .status()
        .expect("pdftoppm (poppler-utils) runs");
    assert!(status.success());
    let png = std::fs::read(dir.join("40-stamped-page.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a picture came out");
}

/// Registers order `number` of one line of `asset` for `customer`; waits
/// until fulfilment has finished with it; returns `/purchase/info`'s answer.
async fn bought(
    app: &TestApp,
    token: &str,
    number: i64,
    asset: i64,
    customer: &str,
) -> (StatusCode, Value) {
    let mut body = register_body(
        number,
        1,
        assetgate::domain::AssetId::parse(asset).unwrap(),
        &[],
    );
    body["customer"] = json!(customer);
    assert_eq!(
        app.register(token, &body).await.status(),
        StatusCode::CREATED
    );
    app.wait_for_order(token, number).await
}

async fn stamped_asset(
    app: &TestApp,
    pages: usize,
    bytes: Option<Vec<u8>>,
) -> assetgate::store::assets::Asset {
    app.add_asset(AssetSpec {
        title: "Suite for Strings",
        file_name: "suite.pdf",
        bytes: bytes.unwrap_or_else(|| make_pdf(pages, "Suite")),
        stamp: Stamp::Pdf,
        ..AssetSpec::default()
    })
    .await
}

async fn each_buyer_downloads_their_own_copy_with_ranges_heads_and_etags(store: Catalogue) {
    let app = store_app(store).await;
    let original = make_pdf(8, "Suite");
    let asset = stamped_asset(&app, 8, Some(original.clone())).await;
    let vt = app.vendor(Environment::Live).await;
    let mut copies = Vec::new();
    for (number, customer) in [(101, "Ann Buyer"), (102, "Zoë Ørsted")] {
        let (status, info) = bought(&app, &vt.token, number, asset.asset_id.get(), customer).await;
        assert_eq!(status, StatusCode::OK, "{info}");
        assert_eq!(info[0]["status"], "COMPLETED", "{info}");
        let link = app.link(&vt.token, number, 1).await;
        let res = app.client.get(&link).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let body = res.bytes().await.unwrap().to_vec();
        assert!(
            body.starts_with(&original),
            "the original content is intact"
        );
        assert_ne!(body, original, "never the original itself");
        assert_eq!(
            etag,
            format!("\"{}\"", assetgate::domain::Sha256Digest::of(&body)),
            "the ETag is the copy's own sha256"
        );
        assert_eq!(qpdf_check(&body), Ok(()));
        let pages = page_texts(&body);
        assert_eq!(pages.len(), 8);
        for (n, text) in (1..).zip(&pages) {
            assert!(text.contains(&format!("Suite original page {n}")), "{text}");
            assert!(
                text.contains(&format!("Licensed to {customer} · order {number} · ")),
                "page {n}: {text}"
            );
        }
        assert_eq!(
            info_entry(&body, "AssetgateVendor").as_deref(),
            Some("Test Shop")
        );

        // Another link of the same line: the same copy, the same ETag.
        let again = app.link(&vt.token, number, 1).await;
        let head = app.client.head(&again).send().await.unwrap();
        assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);
        assert_eq!(
            head.headers()["content-length"].to_str().unwrap(),
            body.len().to_string()
        );
        let cached = app
            .client
            .get(&again)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        // Range slices put together are the whole copy.
        let mut joined = Vec::new();
        let step = body.len() / 3 + 1;
        for start in (0..body.len()).step_by(step) {
            let end = (start + step).min(body.len()) - 1;
            let part = app
                .client
                .get(&again)
                .header("Range", format!("bytes={start}-{end}"))
                .send()
                .await
                .unwrap();
            assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
            joined.extend_from_slice(&part.bytes().await.unwrap());
        }
        assert_eq!(joined, body);
        copies.push(body);
    }
    assert_ne!(copies[0], copies[1], "two buyers, two copies");
}

async fn an_unstampable_pdf_fails_its_line_and_the_original_is_never_served(store: Catalogue) {
    let app = store_app(store).await;
    // Put in the catalogue behind the upload's check (as a file changed
    // policy elsewhere would be): fulfilment must still refuse it.
    let locked = stamped_asset(&app, 2, Some(encrypted(&make_pdf(2, "Etude")))).await;
    let vt = app.vendor(Environment::Live).await;
    let (status, info) = bought(&app, &vt.token, 201, locked.asset_id.get(), "Ann Buyer").await;
    assert_ne!(status, StatusCode::OK, "{info}");
    let listed: Value = app
        .get("/purchase/list?status=FAILED", &vt.token)
        .await
        .json()
        .await
        .unwrap();
    let line = &listed["items"][0];
    assert_eq!(line["order_id"], 201, "{listed}");
    assert_eq!(line["failure_reason"], "stamping_failed", "{listed}");
    assert!(
        line["failure_message"]
            .as_str()
            .unwrap()
            .contains("encrypted"),
        "{listed}"
    );
    assert_error(
        app.download_url(&vt.token, 201, 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order_not_accessible",
    )
    .await;
}

async fn operators_set_stamping_only_on_files_that_take_it_and_before_the_first_sale(
    store: Catalogue,
) {
    let app = store_app(store).await;
    let admin = app.admin("Ann Admin").await;
    let upload = |bytes: Vec<u8>, stamp: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("title", "Score")
            .text("stamp", stamp)
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name("score.pdf"),
            );
        app.client
            .post(app.url("/admin/api/assets"))
            .bearer_auth(&admin)
            .multipart(form)
    };
    // A file that cannot be stamped is refused at upload, saying why.
    let refused = assert_error(
        upload(encrypted(&make_pdf(1, "X")), "pdf")
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "stamping_unsupported",
    )
    .await;
    assert!(
        refused["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("encrypted"),
        "{refused}"
    );
    // A good one is stamped, and says so.
    let res = upload(make_pdf(2, "Y"), "pdf").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["policies"]["stamp"], "pdf", "{created}");
    let id = created["asset_id"].as_i64().unwrap();
    let path = format!("/admin/api/assets/{id}");
    // Before any sale it may change; a non-PDF cannot become stamped.
    let off = app
        .patch_json(&path, &admin, &json!({"policies": {"stamp": "none"}}))
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let plain = app
        .add_asset(AssetSpec {
            bytes: b"just text, not a PDF".to_vec(),
            file_name: "notes.txt",
            ..AssetSpec::default()
        })
        .await;
    assert_error(
        app.patch_json(
            &format!("/admin/api/assets/{}", plain.asset_id),
            &admin,
            &json!({"policies": {"stamp": "pdf"}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "stamping_unsupported",
    )
    .await;
    // Once sold, the policy is fixed: every buyer gets what the first got.
    let on = app
        .patch_json(&path, &admin, &json!({"policies": {"stamp": "pdf"}}))
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    let vt = app.vendor(Environment::Live).await;
    let (status, _) = bought(&app, &vt.token, 301, id, "Ann Buyer").await;
    assert_eq!(status, StatusCode::OK);
    let locked = assert_error(
        app.patch_json(&path, &admin, &json!({"policies": {"stamp": "none"}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    )
    .await;
    assert_eq!(locked["details"]["field"], "policies.stamp", "{locked}");
    // Vendors see the policy in the catalogue too.
    let listed: Value = app
        .get("/assets/list", &vt.token)
        .await
        .json()
        .await
        .unwrap();
    let mine = listed
        .as_array()
        .or_else(|| listed["assets"].as_array())
        .unwrap()
        .iter()
        .find(|a| a["asset_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(mine["policies"]["stamp"], "pdf");
}

/// Housekeeping removes a canceled line's copy once its revocation window
/// has passed (every link minted before the cancel has expired), not
/// before; a live line's copy and the original stay.
async fn a_canceled_lines_copy_is_removed_once_none_of_its_links_can_work(store: Catalogue) {
    let app = store_app(store).await;
    let asset = stamped_asset(&app, 2, None).await;
    let vt = app.vendor(Environment::Live).await;
    for (number, customer) in [(401, "Ann Buyer"), (402, "Bob Other")] {
        let (status, _) = bought(&app, &vt.token, number, asset.asset_id.get(), customer).await;
        assert_eq!(status, StatusCode::OK);
    }
    let copy_of = |number: i64| {
        let app = &app;
        async move {
            app.query_strings(&format!(
                "SELECT copy_sha256 FROM order_lines WHERE order_number = {number}"
            ))
            .await
            .remove(0)
            .parse::<assetgate::domain::Sha256Digest>()
            .unwrap()
        }
    };
    let (canceled, kept) = (copy_of(401).await, copy_of(402).await);
    let res = app.cancel(&vt.token, "order_id=401&reason=Refunded").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let housekeeper = assetgate::startup::build_app(
        &app.settings,
        app.store.clone(),
        app.storage.clone(),
        &app.address,
        "housekeeping-test",
    )
    .unwrap();
    let present = |sha| {
        let storage = app.storage.clone();
        async move { storage.size_of(&sha).await.unwrap().is_some() }
    };

    // Links minted before the cancel may still be unexpired: kept.
    assert_eq!(housekeeper.housekeep(0).await.unwrap().copies, 0);
    assert!(present(canceled.clone()).await);

    // Past the window (aged here, as a day would): removed, once.
    app.execute_sql(
        "UPDATE order_lines SET revoke_until_ms = revoke_until_ms - 86400000 WHERE order_number = 401",
    )
    .await;
    assert_eq!(housekeeper.housekeep(0).await.unwrap().copies, 1);
    assert!(!present(canceled).await, "the canceled line's copy is gone");
    assert!(present(kept.clone()).await, "the live line's copy stays");
    assert!(present(asset.sha256.clone()).await, "the original stays");
    assert_eq!(housekeeper.housekeep(0).await.unwrap().copies, 0);
    let removed = app
        .query_strings(
            "SELECT CAST(copy_removed_at_ms AS TEXT) FROM order_lines WHERE order_number = 401",
        )
        .await;
    assert!(removed[0].parse::<i64>().is_ok(), "{removed:?}");

    // A live line whose access window closed (two days ago, aged here) and
    // whose links have all expired since: its copy goes too.
    app.execute_sql(&format!(
        "UPDATE order_lines SET access_until_ms = {} WHERE order_number = 402",
        assetgate::domain::now_ms() - 2 * 86_400_000
    ))
    .await;
    assert_eq!(housekeeper.housekeep(0).await.unwrap().copies, 1);
    assert!(!present(kept).await, "past its window, the copy is gone");
    assert!(present(asset.sha256.clone()).await, "the original stays");
}
