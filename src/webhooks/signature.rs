//! Standard Webhooks v1 signatures: `v1,` + base64(HMAC-SHA256(key,
//! "{id}.{timestamp}.{body}")), where the key is the base64 part of the
//! `whsec_…` secret.

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// A new endpoint secret: `whsec_` + base64 of 24 random bytes.
pub fn generate_secret() -> SecretString {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    SecretString::from(format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret is whsec_ followed by base64")]
pub struct BadSecret;

/// The `webhook-signature` header value for this message.
pub fn sign(
    secret: &SecretString,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let encoded = secret
        .expose_secret()
        .strip_prefix(SECRET_PREFIX)
        .ok_or(BadSecret)?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| BadSecret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own example.
    #[test]
    fn the_specifications_test_vector_signs_as_published() {
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_secret_without_its_prefix_or_not_base64_is_refused() {
        assert_eq!(
            sign(&SecretString::from("MfKQ9r8G"), "a", 1, b""),
            Err(BadSecret)
        );
        assert_eq!(
            sign(&SecretString::from("whsec_!!!"), "a", 1, b""),
            Err(BadSecret)
        );
        let fresh = generate_secret();
        assert!(sign(&fresh, "msg_1", 1, b"{}").is_ok());
    }
}
