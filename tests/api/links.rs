//! Forged, tampered and expired links.

use assetgate::domain::Environment;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, spawn_app, start_instance};

both_backends!(
    forged_tampered_and_expired_links_are_refused,
    a_rotated_out_key_verifies_its_links_until_it_is_removed,
);

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

async fn forged_tampered_and_expired_links_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 70, &[(1, &asset)]).await;
    let url = app.link(&vt.token, 70, 1).await;
    let token = url.rsplit('/').next().unwrap().to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].as_str().is_some());
    for field in ["sub", "act", "iat", "exp", "jti"] {
        assert!(claims.get(field).is_some(), "claim {field}");
    }
    assert!(
        !claims.to_string().contains("Ann Buyer"),
        "no personal data in links"
    );
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    let access = |token: String| {
        let req = app.client.get(app.url(&format!("/access/{token}")));
        async move { req.send().await.unwrap() }
    };

    // Tampered payload (another line), original signature.
    let mut forged = claims.clone();
    forged["sub"] = json!("999");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(forged.to_string()),
        parts[2]
    );
    assert_error(
        access(tampered).await,
        StatusCode::FORBIDDEN,
        "link_invalid",
    )
    .await;

    // Signed with another key (same kid, so only the signature is wrong).
    let mut h = Header::new(Algorithm::HS256);
    h.kid = header["kid"].as_str().map(str::to_owned);
    let other = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&[9u8; 32])).unwrap();
    assert_error(access(other).await, StatusCode::FORBIDDEN, "link_invalid").await;

    // alg: none.
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": header["kid"]});
    let unsigned = format!("{}.{}.", B64.encode(none_header.to_string()), parts[1]);
    assert_error(
        access(unsigned).await,
        StatusCode::FORBIDDEN,
        "link_invalid",
    )
    .await;

    // Garbage.
    assert_error(
        access("not-a-jwt".to_owned()).await,
        StatusCode::FORBIDDEN,
        "link_invalid",
    )
    .await;

    // Expired, correctly signed with the gateway's key: 410.
    let key = app.signing_key().await;
    let mut expired = claims.clone();
    let now = chrono::Utc::now().timestamp();
    expired["iat"] = json!(now - 100);
    expired["exp"] = json!(now - 10);
    let expired = jsonwebtoken::encode(&h, &expired, &EncodingKey::from_secret(&key)).unwrap();
    assert_error(access(expired).await, StatusCode::GONE, "link_expired").await;

    // Correctly signed, but naming no stored file (a digest that is not one).
    let mut not_a_digest = claims.clone();
    not_a_digest["sha"] = json!("../../etc/passwd");
    let not_a_digest =
        jsonwebtoken::encode(&h, &not_a_digest, &EncodingKey::from_secret(&key)).unwrap();
    assert_error(
        access(not_a_digest).await,
        StatusCode::FORBIDDEN,
        "link_invalid",
    )
    .await;

    // Expired AND wrongly signed: invalid, not expired (signature first).
    let mut bad = claims.clone();
    bad["exp"] = json!(now - 10);
    let bad = jsonwebtoken::encode(&h, &bad, &EncodingKey::from_secret(&[9u8; 32])).unwrap();
    assert_error(access(bad).await, StatusCode::FORBIDDEN, "link_invalid").await;
}

/// Rotation: instances restarted with a new key and the old one in
/// `links.previous_signing_keys` still serve links signed with the old key;
/// once it is removed from the list, those links are invalid.
async fn a_rotated_out_key_verifies_its_links_until_it_is_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 71, &[(1, &asset)]).await;
    let old_link = app.link(&vt.token, 71, 1).await;
    let path = old_link.split_once("/access/").unwrap().1.to_owned();
    let b64 = base64::engine::general_purpose::STANDARD;
    let old_key = b64.encode(app.signing_key().await);
    let new_key = b64.encode([42u8; 32]);

    let mut rotated = app.settings.clone();
    rotated.links.signing_key = new_key.clone().into();
    rotated.links.previous_signing_keys = old_key.into();
    let rotated = start_instance(&rotated).await;
    let res = app
        .client
        .get(format!("{rotated}/access/{path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "old link on the rotated instance"
    );
    // New links come from the new key.
    let new_link = app
        .client
        .get(format!(
            "{rotated}/purchase/download-url?order_id=71&order_line_id=1"
        ))
        .bearer_auth(&vt.token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let kid = |url: &str| {
        let token = url.rsplit('/').next().unwrap();
        let header: Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    assert_ne!(kid(&new_link), kid(&old_link));

    let mut retired = app.settings.clone();
    retired.links.signing_key = new_key.into();
    let retired = start_instance(&retired).await;
    assert_error(
        app.client
            .get(format!("{retired}/access/{path}"))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "link_invalid",
    )
    .await;
    let new_path = new_link.split_once("/access/").unwrap().1;
    assert_eq!(
        app.client
            .get(format!("{retired}/access/{new_path}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "links of the new key serve wherever it is the key"
    );
}

/// Answers that carry links, buyers' names or tokens are never kept by a cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_with_links_or_personal_data_are_not_cached() {
    let app = spawn_app(Backend::Sqlite).await;
    let asset = app.add_asset(AssetSpec::default()).await;
    let vt = app.vendor(Environment::Live).await;
    app.completed_order(&vt.token, 71, &[(1, &asset)]).await;
    let admin = app.admin("cache").await;
    let vendor = vt.vendor.to_string();
    for (path, token) in [
        (
            "/purchase/download-url?order_id=71&order_line_id=1",
            &vt.token,
        ),
        ("/purchase/info?order_id=71", &vt.token),
        ("/purchase/list", &vt.token),
        ("/webhooks", &vt.token),
        ("/admin/api/orders?q=71", &admin),
        (
            &format!("/admin/api/orders/{vendor}/LIVE/71") as &str,
            &admin,
        ),
        // Errors too: they can name what was asked for.
        ("/purchase/info?order_id=999", &vt.token),
    ] {
        let res = app.get(path, token).await;
        assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
        assert_eq!(
            res.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}
