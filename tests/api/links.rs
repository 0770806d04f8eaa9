//! Forged, tampered and expired links.

use assetgate::domain::Environment;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{AssetSpec, Backend, assert_error, spawn_app};

both_backends!(forged_tampered_and_expired_links_are_refused);

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

    // Expired AND wrongly signed: invalid, not expired (signature first).
    let mut bad = claims.clone();
    bad["exp"] = json!(now - 10);
    let bad = jsonwebtoken::encode(&h, &bad, &EncodingKey::from_secret(&[9u8; 32])).unwrap();
    assert_error(access(bad).await, StatusCode::FORBIDDEN, "link_invalid").await;
}
