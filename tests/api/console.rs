//! The web console in a real headless Chromium: log in, find an order by its
//! customer, read its timeline, cancel a line with a reason, and see the
//! buyer's link refused; hostile customer names stay text; the security
//! headers are there; downloads of active content cannot act on the console.

use assetgate::domain::Environment;
use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use serde_json::json;
use thirtyfour::prelude::*;

use crate::helpers::{
    AssetSpec, Backend, Browser, TestApp, assert_error, register_body, sample_pdf, spawn_app,
};

use crate::receiver::{Answer, Receiver};

const XSS: &str = "<img src=x onerror=alert(1)>";

/// Registers an order of one line for `customer`; returns its order number.
async fn order_for(app: &TestApp, token: &str, number: i64, customer: &str) {
    let asset = app.add_asset(AssetSpec::default()).await;
    let mut body = register_body(number, 1, asset.asset_id, &[]);
    body["customer"] = json!(customer);
    body["parts"] = json!([{"asset_id": asset.asset_id, "order_line_id": 2}]);
    assert_eq!(
        app.register(token, &body).await.status(),
        StatusCode::CREATED
    );
    let (status, _) = app.wait_for_order(token, number).await;
    assert_eq!(status, StatusCode::OK);
}

async fn no_alert(browser: &Browser) {
    assert!(
        browser.driver.get_alert_text().await.is_err(),
        "no alert may fire"
    );
}

/// The page never scrolls sideways: wide tables scroll inside their box.
async fn fits_the_window(browser: &Browser, page: &str) {
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(fits, json!(true), "{page} overflows the window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_an_order_cancels_a_line_and_the_buyers_link_dies() {
    let app = spawn_app(Backend::Sqlite).await;
    let vt = app.vendor(Environment::Live).await;
    order_for(&app, &vt.token, 1001, "Ann Buyer").await;
    order_for(&app, &vt.token, 1002, XSS).await;
    let buyer_link = app.link(&vt.token, 1001, 1).await;
    assert_eq!(
        app.client.get(&buyer_link).send().await.unwrap().status(),
        StatusCode::OK
    );
    let token = app.admin("Ann Support").await;
    let browser = Browser::start().await;
    let d = &browser.driver;

    // Not logged in: the login page.
    d.goto(app.url("/admin/orders")).await.unwrap();
    assert!(
        d.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
    browser.screenshot("01-login").await;
    d.find(By::Id("token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    browser
        .click_to_load(d.find(By::Css("button[type=submit]")).await.unwrap())
        .await;
    // Back where we were going.
    assert_eq!(d.current_url().await.unwrap().path(), "/admin/orders");

    // Search by customer.
    let q = d.find(By::Id("q")).await.unwrap();
    q.send_keys("ann").await.unwrap();
    browser
        .click_to_load(
            d.find(By::Css("form.filters button[type=submit]"))
                .await
                .unwrap(),
        )
        .await;
    let rows = d.find_all(By::Css("#results tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "only Ann's order");
    assert!(rows[0].text().await.unwrap().contains("Ann Buyer"));
    browser.screenshot("02-orders-search").await;

    // The hostile name is text, nothing runs.
    d.goto(app.url("/admin/orders")).await.unwrap();
    let body = d.find(By::Tag("body")).await.unwrap().text().await.unwrap();
    assert!(body.contains(XSS), "shown as text: {body}");
    assert!(d.find_all(By::Css("main img")).await.unwrap().is_empty());
    no_alert(&browser).await;
    browser.screenshot("03-orders-list").await;
    fits_the_window(&browser, "orders").await;

    // The order: lines and timeline.
    d.goto(app.url("/admin/orders?q=1001")).await.unwrap();
    browser
        .click_to_load(d.find(By::Css("#results tbody a")).await.unwrap())
        .await;
    let timeline = d
        .find(By::Id("timeline"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for seen in ["Registered", "Fulfilled", "Link issued", "Download"] {
        assert!(timeline.contains(seen), "{seen} in {timeline}");
    }

    // Cancel line 1 with a reason, confirming.
    browser
        .click_to_load(d.find(By::Css("a.button.small.danger")).await.unwrap())
        .await;
    d.find(By::Id("reason"))
        .await
        .unwrap()
        .send_keys("Refunded after a double charge")
        .await
        .unwrap();
    d.find(By::Css("#reason_code option[value=refund]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let order_page = browser.page().await;
    d.find(By::Css("form button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    d.accept_alert().await.unwrap();
    browser.wait_replaced(order_page).await;
    // Back on the order, which says so.
    let notice = d
        .find(By::Css(".notice.ok"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        notice.contains("refused on every gateway instance"),
        "{notice}"
    );
    let lines = d
        .find(By::Css("table tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        lines.contains("CANCELED")
            && lines.contains("refused")
            && lines.contains("refund")
            && lines.contains("by Ann Support (operator)"),
        "{lines}"
    );
    let timeline = d
        .find(By::Id("timeline"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(timeline.contains("Canceled"), "{timeline}");
    assert!(
        timeline.contains("Refunded after a double charge"),
        "{timeline}"
    );
    assert!(timeline.contains("Ann Support (operator)"), "{timeline}");
    browser.screenshot("04-order-timeline").await;
    fits_the_window(&browser, "order").await;

    // The page polls for changes; while nothing changes, the poll is an empty 204.
    let poll = "var x = new XMLHttpRequest(); \
        x.open('GET', document.getElementById('live').getAttribute('hx-get'), false); \
        x.send(); return [x.status, x.responseText.length];";
    assert_eq!(browser.eval(poll).await, json!([204, 0]));

    // The buyer's link is refused.
    assert_error(
        app.client.get(&buyer_link).send().await.unwrap(),
        StatusCode::FORBIDDEN,
        "access_revoked",
    )
    .await;
    // ...and the open page shows it by itself (no reload).
    crate::helpers::eventually("the refused try appears on the open page", || async {
        let timeline = d.find(By::Id("timeline")).await.ok()?.text().await.ok()?;
        timeline.contains("access_revoked").then_some(())
    })
    .await;

    // Phone width.
    d.set_window_rect(0, 0, 390, 844).await.unwrap();
    d.refresh().await.unwrap();
    browser.screenshot("05-order-phone").await;
    fits_the_window(&browser, "order at phone width").await;
    d.goto(app.url("/admin/orders")).await.unwrap();
    browser.screenshot("06-orders-phone").await;
    fits_the_window(&browser, "orders at phone width").await;
    d.goto(app.url("/admin/")).await.unwrap();
    browser.screenshot("07-overview-phone").await;
    d.set_window_rect(0, 0, 1280, 900).await.unwrap();
    d.goto(app.url("/admin/")).await.unwrap();
    browser.screenshot("08-overview").await;
    d.goto(app.url("/admin/vendors")).await.unwrap();
    browser.screenshot("09-vendors").await;
    d.goto(app.url("/admin/audit")).await.unwrap();
    // In words, with its reason, and a link to the order it changed.
    let audit = d.find(By::Tag("tbody")).await.unwrap();
    let text = audit.text().await.unwrap();
    assert!(
        text.contains("Canceled")
            && text.contains("order #1001 line 1")
            && text.contains("reason: Refunded after a double charge")
            && !text.contains('{'),
        "{text}"
    );
    let target = audit
        .find(By::Css("a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(target.ends_with("/LIVE/1001"), "{target}");
    browser.screenshot("10-audit").await;
    no_alert(&browser).await;
    browser.driver.clone().quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_carry_strict_headers_and_forms_need_their_csrf_token() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.admin("Ann Support").await;
    let res = app
        .client
        .get(app.url("/admin/login"))
        .send()
        .await
        .unwrap();
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(h["x-frame-options"], "DENY");

    // Log in by hand to hold the cookie.
    let res = app
        .client
        .post(app.url("/admin/login"))
        .form(&[("token", token.as_str()), ("next", "/admin/vendors")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag}: {cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let vt = app.vendor(Environment::Live).await;
    // A forged CSRF token changes nothing.
    let res = app
        .client
        .post(app.url(&format!("/admin/vendors/{}/suspend", vt.vendor)))
        .header("cookie", &session)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("nothing was changed"));
    assert_eq!(
        app.get("/assets/list", &vt.token).await.status(),
        StatusCode::OK,
        "still active"
    );
    // An expired or unknown session goes back to the login page.
    let res = app
        .client
        .get(app.url("/admin/vendors"))
        .header("cookie", "agsession=ags_expiredexpiredexpiredexpired")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/admin/login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_page_cannot_act_on_the_console_while_a_pdf_still_renders() {
    let app = spawn_app(Backend::Sqlite).await;
    let vt = app.vendor(Environment::Live).await;
    let token = app.admin("Ann Support").await;
    let page = app
        .add_asset(AssetSpec {
            title: "Evil",
            file_name: "evil.html",
            bytes: b"<!doctype html><title>EVIL</title><script>alert(document.cookie)</script>"
                .to_vec(),
            ..AssetSpec::default()
        })
        .await;
    let pdf = app
        .add_asset(AssetSpec {
            bytes: sample_pdf(2000),
            ..AssetSpec::default()
        })
        .await;
    app.completed_order(&vt.token, 1, &[(1, &page), (2, &pdf)])
        .await;
    let view = |line: i64| {
        let app = &app;
        let token = vt.token.clone();
        async move {
            let res = app
                .view_url(&token, 1, line)
                .await
                .json::<serde_json::Value>()
                .await
                .unwrap();
            res["url"].as_str().unwrap().to_owned()
        }
    };
    let evil = view(1).await;
    let res = app.client.get(&evil).send().await.unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );

    let browser = Browser::start().await;
    let d = &browser.driver;
    d.goto(app.url("/admin/login")).await.unwrap();
    d.find(By::Id("token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    browser
        .click_to_load(d.find(By::Css("button[type=submit]")).await.unwrap())
        .await;
    // Opening the uploaded page in the operator's browser: it is downloaded,
    // never rendered on this origin, so its script never runs.
    d.goto(&evil).await.unwrap();
    no_alert(&browser).await;
    let title = d.title().await.unwrap();
    assert_ne!(title, "EVIL", "the uploaded page must not render");

    // A PDF view link still renders inline in Chromium.
    let pdf_link = view(2).await;
    let res = app.client.get(&pdf_link).send().await.unwrap();
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert!(res.headers().get("content-security-policy").is_none());
    d.goto(&pdf_link).await.unwrap();
    let content_type = browser.eval("return document.contentType").await;
    assert_eq!(content_type, json!("application/pdf"));
    browser.screenshot("11-pdf-view").await;
    browser.driver.clone().quit().await.unwrap();
}

/// Logs `browser` in with an admin token.
async fn log_in(browser: &Browser, app: &TestApp, token: &str) {
    let d = &browser.driver;
    d.goto(app.url("/admin/login")).await.unwrap();
    d.find(By::Id("token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    browser
        .click_to_load(d.find(By::Css("button[type=submit]")).await.unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_a_disabled_webhook_and_redelivers_its_event() {
    fn local_hooks(s: &mut assetgate::config::Settings) {
        s.webhooks.allow_http = true;
        s.webhooks.allow_private_networks = true;
        s.webhooks.poll_interval_ms = 100;
    }
    let app = crate::helpers::spawn_app_with(
        Backend::Sqlite,
        crate::helpers::Options {
            tweak: local_hooks,
            ..crate::helpers::Options::default()
        },
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.script("/shop", &[Answer::Status(410)]);
    let vt = app.vendor(Environment::Live).await;
    let res = app
        .post_json(
            "/webhooks",
            &vt.token,
            &json!({"url": receiver.url("/shop"), "description": "Order e-mails"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let secret: serde_json::Value = res.json().await.unwrap();
    receiver.set_secret("/shop", secret["secret"].as_str().unwrap());
    order_for(&app, &vt.token, 2001, "Ann Buyer").await;
    crate::helpers::eventually("the 410 disables the endpoint", || async {
        let hooks: serde_json::Value = app.get("/webhooks", &vt.token).await.json().await.unwrap();
        (hooks["webhooks"][0]["status"] == "DISABLED").then_some(())
    })
    .await;

    let token = app.admin("Ann Support").await;
    let browser = Browser::start().await;
    let d = &browser.driver;
    log_in(&browser, &app, &token).await;
    let overview = d.find(By::Tag("main")).await.unwrap().text().await.unwrap();
    assert!(
        overview
            .to_lowercase()
            .contains("webhook endpoints failing"),
        "{overview}"
    );
    // The endpoint that needs someone, by vendor, linked to its deliveries.
    let troubled = d
        .find(By::Css("#troubled-webhooks tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        troubled.contains(&receiver.url("/shop")) && troubled.contains("disabled"),
        "{troubled}"
    );
    fits_the_window(&browser, "overview with failing webhooks").await;
    browser.screenshot("11a-overview-troubled-webhooks").await;

    // The order's timeline says where each change's webhook stands.
    let order = app.url(&format!("/admin/orders/{}/LIVE/2001", vt.vendor));
    d.goto(&order).await.unwrap();
    let timeline = d
        .find(By::Id("timeline"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        timeline.contains("webhook failed") && timeline.contains("HTTP 410"),
        "{timeline}"
    );
    browser.screenshot("12a-order-webhook-failed").await;

    d.goto(app.url(&format!("/admin/vendors/{}", vt.vendor)))
        .await
        .unwrap();
    let hooks = d.find(By::Tag("main")).await.unwrap().text().await.unwrap();
    assert!(
        hooks.contains(&receiver.url("/shop"))
            && hooks.contains("DISABLED")
            && hooks.contains("410"),
        "{hooks}"
    );
    browser.screenshot("12-vendor-webhooks").await;
    browser
        .click_to_load(d.find(By::LinkText("Deliveries")).await.unwrap())
        .await;
    let table = d
        .find(By::Css("table tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("order_line.completed")
            && table.contains("failed")
            && table.contains("HTTP 410"),
        "{table}"
    );
    browser.screenshot("13-webhook-deliveries").await;
    fits_the_window(&browser, "webhook deliveries").await;

    // The newest delivery: never sent (queued behind the 410, then stopped).
    let event = d
        .find(By::Css("table tbody tr .mono"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .click_to_load(
            d.find(By::Css("form[action$=redeliver] button"))
                .await
                .unwrap(),
        )
        .await;
    let notice = d
        .find(By::Css(".notice.ok"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notice.contains("queued again"), "{notice}");
    let got = crate::helpers::eventually("the redelivery arrives", || async {
        let got = receiver.received("/shop");
        got.into_iter().find(|r| r.id == event)
    })
    .await;
    assert!(got.verified);
    crate::helpers::eventually("the page shows it delivered", || async {
        d.refresh().await.unwrap();
        let text = d
            .find(By::Css("table tbody"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.contains("delivered").then_some(())
    })
    .await;
    let main = d.find(By::Tag("main")).await.unwrap().text().await.unwrap();
    assert!(
        main.contains("ENABLED"),
        "redelivering enabled it again: {main}"
    );
    browser.screenshot("14-webhook-redelivered").await;
    d.goto(&order).await.unwrap();
    let timeline = d
        .find(By::Id("timeline"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(timeline.contains("webhook delivered"), "{timeline}");
    d.goto(app.url("/admin/audit")).await.unwrap();
    let audit = d
        .find(By::Tag("tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("webhook_redeliver"), "{audit}");
    no_alert(&browser).await;
    browser.driver.clone().quit().await.unwrap();
}

/// The Assets page on a fleet's catalogue (a bucket): upload with a progress
/// bar, a refused upload explained, retire, and the badge `storage verify`
/// leaves on a file that went missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_uploads_retires_and_sees_a_missing_file_on_the_assets_page() {
    let app = crate::helpers::store_app_with(crate::helpers::Catalogue::S3, |s| {
        s.storage.max_upload_bytes = 40 * 1024 * 1024;
    })
    .await;
    let token = app.admin("Cat Alogue").await;
    let browser = Browser::start().await;
    let d = &browser.driver;
    log_in(&browser, &app, &token).await;
    d.goto(app.url("/admin/assets")).await.unwrap();
    assert!(browser.text(".empty").await.contains("No asset yet"));

    // A refused upload (over the limit) says so, and adds nothing.
    let dir = tempfile::tempdir().unwrap();
    let too_big = dir.path().join("too-big.bin");
    std::fs::write(&too_big, vec![7u8; 41 * 1024 * 1024]).unwrap();
    d.find(By::Css("#add-asset summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let fill = async |title: &str, file: &std::path::Path| {
        let input = d.find(By::Id("title")).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(title).await.unwrap();
        d.find(By::Id("file"))
            .await
            .unwrap()
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        d.find(By::Id("upload-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    };
    fill("Too big", &too_big).await;
    let error = d.find(By::Id("upload-error")).await.unwrap();
    error
        .wait_until()
        .wait(
            std::time::Duration::from_secs(30),
            std::time::Duration::from_millis(100),
        )
        .displayed()
        .await
        .unwrap();
    let message = error.text().await.unwrap();
    assert!(message.contains("Nothing was added"), "{message}");
    browser.screenshot("20-assets-upload-refused").await;
    assert!(app.stored_files().iter().all(|f| !f.starts_with("assets/")));

    // A 30 MiB upload: the bar moves to 100 %, then the new asset is listed.
    let score = dir.path().join("score.pdf");
    let bytes = sample_pdf(30 * 1024 * 1024);
    std::fs::write(&score, &bytes).unwrap();
    browser
        .eval(
            "var seen = []; var text = document.getElementById('upload-text');
             new MutationObserver(function () {
               seen.push(document.getElementById('upload-bar').value);
               sessionStorage.setItem('seen', JSON.stringify(seen));
             }).observe(text, {childList: true, characterData: true, subtree: true});
             return true;",
        )
        .await;
    let old = browser.page().await;
    fill("Ballade No. 1 <b>in G minor</b>", &score).await;
    browser.wait_replaced(old).await;
    let seen = browser
        .eval("return JSON.parse(sessionStorage.getItem('seen') || '[]');")
        .await;
    let seen: Vec<f64> = serde_json::from_value(seen).unwrap();
    assert!(
        seen.last() == Some(&100.0),
        "the bar reached 100 %: {seen:?}"
    );
    let notice = browser.text(".notice.ok").await;
    assert!(notice.contains("added"), "{notice}");
    let row = browser.text("tbody tr").await;
    assert!(
        row.contains("Ballade No. 1 <b>in G minor</b>"),
        "escaped: {row}"
    );
    assert!(row.contains("file ok"), "{row}");
    fits_the_window(&browser, "assets").await;
    no_alert(&browser).await;
    browser.screenshot("21-assets-uploaded").await;
    let page: serde_json::Value = app
        .get("/admin/api/assets", &token)
        .await
        .json()
        .await
        .unwrap();
    let sha = page["assets"][0]["sha256"].as_str().unwrap().to_owned();
    assert_eq!(
        sha,
        assetgate::domain::Sha256Digest::of(&bytes).as_str(),
        "the stored file is the uploaded one"
    );

    // Edit → Retire (confirmed): no longer on sale.
    browser
        .click_to_load(d.find(By::LinkText("Edit")).await.unwrap())
        .await;
    let old = browser.page().await;
    d.find(By::Css("button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    d.accept_alert().await.unwrap();
    browser.wait_replaced(old).await;
    let head = browser.text("h1").await;
    assert!(head.contains("retired"), "{head}");
    browser.screenshot("22-asset-retired").await;

    // The file goes missing; `storage verify` finds it; the page says so.
    let server = app.s3.as_ref().unwrap();
    std::fs::remove_file(server.object_path(&sha)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_assetgate"))
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", app.settings.database.url.expose_secret())
        .env("ASSETGATE__STORAGE__BACKEND", "s3")
        .envs(server.env())
        .args(["storage", "verify"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.goto(app.url("/admin/assets")).await.unwrap();
    let alert = browser.text(".notice.error").await;
    assert!(alert.contains("missing or altered"), "{alert}");
    let badge = browser.text("tbody .badge.red").await;
    assert_eq!(badge, "file missing");
    browser.screenshot("23-assets-file-missing").await;

    // Phone width: the list and the asset page fit; the table scrolls in its box.
    d.set_window_rect(0, 0, 390, 844).await.unwrap();
    d.refresh().await.unwrap();
    fits_the_window(&browser, "assets at phone width").await;
    browser.screenshot("24-assets-phone").await;
    browser
        .click_to_load(d.find(By::LinkText("Edit")).await.unwrap())
        .await;
    fits_the_window(&browser, "an asset at phone width").await;
    browser.screenshot("25-asset-phone").await;
}

/// SPEC §7 roles in the console: a viewer sees no button that changes
/// anything; a support agent reissues a link but is offered no cancel, and
/// a cancel forced past the hidden button is refused with a page that says
/// why and keeps the navigation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_no_actions_and_support_reissues_but_cannot_cancel() {
    use assetgate::domain::Role;
    let app = spawn_app(Backend::Sqlite).await;
    let vt = app.vendor(Environment::Live).await;
    order_for(&app, &vt.token, 2001, "Rita Reader").await;
    let viewer = app.operator("Vic Viewer", Role::Viewer).await;
    let support = app.operator("Sue Support", Role::Support).await;
    let order = format!("/admin/orders/{}/LIVE/2001", vt.vendor);
    let browser = Browser::start().await;
    let d = &browser.driver;
    let buttons = |css: &'static str| {
        let browser = &browser;
        async move { browser.driver.find_all(By::Css(css)).await.unwrap().len() }
    };

    log_in(&browser, &app, &viewer).await;
    assert!(browser.text("header .who").await.contains("viewer"));
    d.goto(app.url(&order)).await.unwrap();
    assert!(browser.text("main").await.contains("Rita Reader"));
    assert_eq!(
        buttons("main form button, main a.button.danger").await,
        0,
        "a viewer changes nothing"
    );
    browser.screenshot("30-order-viewer").await;
    d.goto(app.url("/admin/vendors")).await.unwrap();
    assert_eq!(
        buttons("main form button").await,
        0,
        "no suspend for a viewer"
    );
    d.goto(app.url(&format!("/admin/vendors/{}", vt.vendor)))
        .await
        .unwrap();
    assert_eq!(
        buttons("main form button").await,
        0,
        "no token revoke for a viewer"
    );
    d.goto(app.url("/admin/assets")).await.unwrap();
    assert_eq!(buttons("#add-asset").await, 0, "no upload for a viewer");
    d.delete_all_cookies().await.unwrap();

    log_in(&browser, &app, &support).await;
    d.goto(app.url(&order)).await.unwrap();
    assert_eq!(
        buttons("main a.button.danger").await,
        0,
        "support is offered no cancel"
    );
    browser.screenshot("31-order-support").await;
    browser
        .click_to_load(d.find(By::Css("main form button")).await.unwrap())
        .await;
    let link = browser
        .eval("return document.getElementById('link').value")
        .await;
    assert!(
        link.as_str().unwrap_or_default().contains("/access/"),
        "the reissued link is shown: {link}"
    );

    // The cancel form, reached by its address: the use case refuses it.
    d.goto(app.url(&format!("{order}/cancel?line=1")))
        .await
        .unwrap();
    d.find(By::Id("reason"))
        .await
        .unwrap()
        .send_keys("Trying")
        .await
        .unwrap();
    let page = browser.page().await;
    d.find(By::Css("form button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    d.accept_alert().await.unwrap();
    browser.wait_replaced(page).await;
    let refused = browser.text("main").await;
    assert!(
        refused.contains("support") && refused.contains("Ask an admin"),
        "says why: {refused}"
    );
    assert!(
        browser.text("header nav").await.contains("Orders"),
        "keeps the navigation"
    );
    browser.screenshot("32-cancel-refused-support").await;
    let (status, info) = app.wait_for_order(&vt.token, 2001).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !info.to_string().contains("CANCELED"),
        "nothing canceled: {info}"
    );
    browser.driver.clone().quit().await.unwrap();
}

/// What support reads on an order page, line by line: why each line's links
/// work or not (canceled with refused tries since, expired, failed,
/// downloaded), one row for a download manager's Range requests, a link
/// reissued for 7 days; and every console page fits a 390 px phone and a
/// 1400 px desktop without scrolling sideways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_page_says_why_each_lines_links_work_or_not_and_every_page_fits() {
    let app = spawn_app(Backend::Sqlite).await;
    let good = app.add_asset(AssetSpec::default()).await;
    let broken = app
        .add_asset(AssetSpec {
            title: "Lost Etude",
            bytes: b"%PDF-1.4 another file".to_vec(),
            ..AssetSpec::default()
        })
        .await;
    std::fs::remove_file(app.asset_path(&broken)).unwrap();
    let vt = app.vendor(Environment::Live).await;
    let mut body = register_body(3001, 1, good.asset_id, &[]);
    body["customer"] = json!("Dora Downloader");
    body["parts"] = json!([
        {"asset_id": good.asset_id, "order_line_id": 2},
        {"asset_id": broken.asset_id, "order_line_id": 3},
        {"asset_id": good.asset_id, "order_line_id": 4},
    ]);
    assert_eq!(
        app.register(&vt.token, &body).await.status(),
        StatusCode::CREATED
    );
    app.wait_for_order(&vt.token, 3001).await;
    let get = |link: String, range: Option<String>| {
        let req = app.client.get(link);
        let req = match range {
            Some(r) => req.header("Range", r),
            None => req,
        };
        async move { req.send().await.unwrap().status() }
    };
    // Line 1: a download manager's five ranges; canceled; then two tries.
    let one = app.link(&vt.token, 3001, 1).await;
    for i in 0..5 {
        let range = format!("bytes={}-{}", i * 100, i * 100 + 99);
        assert_eq!(
            get(one.clone(), Some(range)).await,
            StatusCode::PARTIAL_CONTENT
        );
    }
    assert_eq!(
        app.cancel(&vt.token, "order_id=3001&order_line_id=1")
            .await
            .status(),
        StatusCode::CREATED
    );
    for _ in 0..2 {
        assert_eq!(get(one.clone(), None).await, StatusCode::FORBIDDEN);
    }
    // Line 2: its link used after it expired. Line 4: one whole download.
    let two = app.expired_copy(&app.link(&vt.token, 3001, 2).await).await;
    assert_eq!(get(two, None).await, StatusCode::GONE);
    assert_eq!(
        get(app.link(&vt.token, 3001, 4).await, None).await,
        StatusCode::OK
    );

    let admin = app.admin("Ann Support").await;
    let browser = Browser::start().await;
    let d = &browser.driver;
    d.set_window_rect(0, 0, 1400, 900).await.unwrap();
    log_in(&browser, &app, &admin).await;
    let order = format!("/admin/orders/{}/LIVE/3001", vt.vendor);
    // The history writer batches: wait until every access shows.
    let mut summaries = Vec::new();
    for _ in 0..100 {
        d.goto(app.url(&order)).await.unwrap();
        summaries = Vec::new();
        for n in 1..=4 {
            summaries.push(
                browser
                    .text(&format!("td.line-summary[data-line='{n}']"))
                    .await,
            );
        }
        if summaries[0].contains("2 refused")
            && summaries[1].contains("expired")
            && summaries[3].contains("1 complete download")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let [canceled, expired, failed, downloaded] = &summaries[..] else {
        unreachable!()
    };
    assert!(
        canceled.contains("Canceled")
            && canceled.contains("Test Shop (API token agt_")
            && canceled.contains("2 refused tries since"),
        "{canceled}"
    );
    assert!(
        expired.contains("Last link expired") && expired.contains("issue a new one"),
        "{expired}"
    );
    assert!(failed.contains("Fulfilment failed"), "{failed}");
    assert!(
        downloaded.contains("1 complete download,"),
        "a whole download counts once: {downloaded}"
    );
    let lines = browser.text("#lines").await;
    assert!(
        lines.contains("Suite No. 1") && lines.contains("Lost Etude"),
        "asset titles: {lines}"
    );
    // Five Range requests of one download are one timeline row, expandable.
    let folded = browser
        .eval(
            "return [...document.querySelectorAll('#timeline li.kind-access')]\
             .filter(e => e.querySelector('.badge.green'))\
             .map(e => e.querySelectorAll('details.folded li').length)",
        )
        .await;
    assert_eq!(
        folded,
        json!([0, 5]),
        "served accesses, newest first: line 4's download, then line 1's five ranges in one row"
    );
    let timeline = browser.text("#timeline").await;
    assert!(timeline.contains("5 requests"), "{timeline}");
    assert!(timeline.contains("Expired link used"), "{timeline}");
    assert!(timeline.contains("by buyer at 127.0.0.1"), "{timeline}");
    browser.screenshot("33-order-summaries").await;

    // Reissue a link of line 4 for 7 days.
    d.find(By::Css("form.reissue select option[value='604800']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .click_to_load(d.find(By::Css("form.reissue button")).await.unwrap())
        .await;
    let week = (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    let shown = browser.text("main").await;
    assert!(shown.contains(&week), "expires in 7 days ({week}): {shown}");
    browser.screenshot("34-link-7-days").await;

    // The evidence a shop pastes into a dispute, from the order page.
    d.goto(app.url(&order)).await.unwrap();
    browser
        .click_to_load(d.find(By::Id("evidence-link")).await.unwrap())
        .await;
    let evidence = browser
        .eval("return document.getElementById('evidence-text').value")
        .await;
    let evidence = evidence.as_str().unwrap();
    assert!(
        evidence.contains("Access log for order 3001")
            && evidence.contains("Line 4: 1 complete download of")
            && evidence.contains("access canceled")
            && evidence.encode_utf16().count() <= 18_000,
        "{evidence}"
    );
    browser.screenshot("38-evidence").await;

    // The overview draws the week: served, expired and refused downloads
    // per hour, and cancels per day; its cards link to the filtered lists.
    d.goto(app.url("/admin/")).await.unwrap();
    // Summed over bars: the run may cross an hour (or a day) boundary.
    for (css, expected) in [
        ("#downloads-chart rect.served", 6), // 5 ranges of line 1, line 4's download
        ("#downloads-chart rect.expired", 1),
        ("#downloads-chart rect.refused", 2),
        ("#cancels-chart rect.canceled", 1),
    ] {
        let titles = browser
            .eval(&format!(
                "return [...document.querySelectorAll('{css} title')].map(t => t.textContent)"
            ))
            .await;
        let total: i64 = titles
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let t = t.as_str().unwrap();
                let after = t.rsplit_once(": ").map_or(t, |(_, n)| n);
                after.split(' ').next().unwrap().parse::<i64>().unwrap()
            })
            .sum();
        assert_eq!(total, expected, "{css}: {titles}");
    }
    assert!(
        !d.find_all(By::Css("a.stat[href='/admin/orders?status=CANCELED']"))
            .await
            .unwrap()
            .is_empty(),
        "the CANCELED card links to the canceled orders"
    );
    browser.screenshot("37-overview-charts").await;

    // Every page fits, on a desktop and on a phone.
    let pages = [
        "/admin/".to_owned(),
        "/admin/orders".to_owned(),
        order.clone(),
        format!("{order}/cancel?line=2"),
        format!("{order}/evidence"),
        "/admin/vendors".to_owned(),
        format!("/admin/vendors/{}", vt.vendor),
        "/admin/assets".to_owned(),
        format!("/admin/assets/{}", good.asset_id),
        "/admin/audit".to_owned(),
        "/admin/orders/not-a-vendor/LIVE/1".to_owned(),
    ];
    for (width, height) in [(1400, 900), (390, 844)] {
        d.set_window_rect(0, 0, width, height).await.unwrap();
        for page in &pages {
            d.goto(app.url(page)).await.unwrap();
            fits_the_window(&browser, &format!("{page} at {width} px")).await;
            let overflowing = browser
                .eval(
                    "return [...document.querySelectorAll('.table-wrap')]\
                     .filter(w => w.scrollWidth > w.clientWidth + 1).length",
                )
                .await;
            if width >= 1400 {
                assert_eq!(
                    overflowing,
                    json!(0),
                    "a table overflows {page} at {width} px"
                );
            }
        }
    }
    d.set_window_rect(0, 0, 390, 844).await.unwrap();
    d.goto(app.url(&order)).await.unwrap();
    browser.screenshot("35-order-summaries-phone").await;
    d.goto(app.url("/admin/orders/not-a-vendor/LIVE/1"))
        .await
        .unwrap();
    assert!(browser.text("header nav").await.contains("Audit log"));
    browser.screenshot("36-error-phone").await;
    browser.driver.clone().quit().await.unwrap();
}

/// A line still being fulfilled says so, and that links come once it
/// completes (not a green "links work").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processing_line_says_its_links_come_once_it_is_fulfilled() {
    use crate::helpers::{Options, spawn_app_with};
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            fulfilment: false,
            ..Options::default()
        },
    )
    .await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    let res = app
        .register(&vt.token, &register_body(4001, 1, asset.asset_id, &[]))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let admin = app.admin("Ann Support").await;
    let browser = Browser::start().await;
    log_in(&browser, &app, &admin).await;
    browser
        .driver
        .goto(app.url(&format!("/admin/orders/{}/LIVE/4001", vt.vendor)))
        .await
        .unwrap();
    let summary = browser.text("td.line-summary[data-line='1']").await;
    assert!(summary.contains("Being fulfilled"), "{summary}");
    let lines = browser.text("#lines").await;
    assert!(
        lines.contains("PROCESSING") && lines.contains("not yet") && !lines.contains("work"),
        "{lines}"
    );
    assert!(
        browser
            .driver
            .find_all(By::Css("form.reissue"))
            .await
            .unwrap()
            .is_empty(),
        "no link to reissue yet"
    );
    browser.driver.clone().quit().await.unwrap();
}
