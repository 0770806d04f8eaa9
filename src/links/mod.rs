//! Signed, expiring links: `{public_url}/access/{jwt}`.
//!
//! The JWT (HS256, `kid` header so keys can rotate) names the order line and
//! the action, and carries what the access path needs to serve the file
//! without a database query: the asset's digest (which is also its storage
//! name and its ETag), content type and a safe file name. No personal data.

mod key;
mod recent;

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

pub use key::load_or_create_signing_key;

use crate::domain::{AssetId, LineId, Sha256Digest};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Download,
    View,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Download => "download",
            Self::View => "view",
        }
    }
}

/// What a link serves: everything `/access` needs without a database.
#[derive(Clone, Copy, Debug)]
pub struct LinkTarget<'a> {
    pub asset_id: AssetId,
    pub sha256: &'a Sha256Digest,
    pub size_bytes: u64,
    pub content_type: &'a str,
    pub file_name: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// Internal order line id.
    pub sub: String,
    pub act: Action,
    pub ast: i64,
    /// sha256 of the asset file: storage name and ETag (validated as it is decoded).
    pub sha: Sha256Digest,
    pub ct: String,
    #[serde(rename = "fn")]
    pub file_name: String,
    /// The file's size: a stored file of another size is not served. Absent
    /// from links minted before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

impl LinkClaims {
    pub fn line(&self) -> Option<LineId> {
        self.sub
            .parse::<i64>()
            .ok()
            .and_then(|v| LineId::parse(v).ok())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed or its signature is not valid")]
    Invalid,
    /// Authentic, but past its expiry: it says which line it was for (so
    /// the refusal is recorded against that line's history).
    #[error("the link has expired")]
    Expired(ExpiredLink),
}

/// What an authentic expired link was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredLink {
    pub line: LineId,
    pub action: Action,
}

impl ExpiredLink {
    fn of(claims: &LinkClaims) -> Result<Self, LinkError> {
        Ok(Self {
            line: claims.line().ok_or(LinkError::Invalid)?,
            action: claims.act,
        })
    }
}

/// A link as handed out.
#[derive(Clone, Debug)]
pub struct Minted {
    pub url: String,
    pub jti: String,
    pub expires_at: i64,
}

pub struct LinkSigner {
    /// Tells this signer's entries in the verified-link cache from others'.
    id: u64,
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    /// The same rules without the expiry, to read an authentic expired link.
    expired: Validation,
    ttl_seconds: i64,
    access_base: String,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("kid", &self.kid)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// Key id: a short digest of the key, so rotating keys get distinct ids.
pub fn key_id(secret: &[u8]) -> String {
    crate::domain::secrets::sha256_hex(secret)[..16].to_owned()
}

impl LinkSigner {
    /// `secret` signs new links; `previous` are still accepted (key rotation).
    pub fn new(secret: &[u8], previous: &[Vec<u8>], ttl_seconds: u64, public_url: &str) -> Self {
        let kid = key_id(secret);
        let mut decoding = HashMap::new();
        decoding.insert(kid.clone(), DecodingKey::from_secret(secret));
        for old in previous {
            decoding.insert(key_id(old), DecodingKey::from_secret(old));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "jti"]);
        let mut expired = validation.clone();
        expired.validate_exp = false;
        Self {
            id: recent::signer_id(),
            kid,
            encoding: EncodingKey::from_secret(secret),
            decoding,
            validation,
            expired,
            ttl_seconds: i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 2),
            access_base: format!("{}/access/", public_url.trim_end_matches('/')),
        }
    }

    pub fn mint(
        &self,
        line: LineId,
        action: Action,
        target: LinkTarget<'_>,
    ) -> Result<Minted, jsonwebtoken::errors::Error> {
        self.mint_lasting(line, action, target, self.ttl_seconds)
    }

    /// How long links live unless a minting says otherwise.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// A link valid for `ttl_seconds` (support's reissue chooses its lifetime).
    pub fn mint_lasting(
        &self,
        line: LineId,
        action: Action,
        target: LinkTarget<'_>,
        ttl_seconds: i64,
    ) -> Result<Minted, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = LinkClaims {
            sub: line.to_string(),
            act: action,
            ast: target.asset_id.get(),
            sha: target.sha256.clone(),
            ct: target.content_type.to_owned(),
            file_name: target.file_name.to_owned(),
            len: Some(target.size_bytes),
            iat: now,
            exp: now + ttl_seconds,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok(Minted {
            url: format!("{}{}", self.access_base, token),
            jti: claims.jti,
            expires_at: claims.exp,
        })
    }

    /// Signature first, then expiry: an expired link with a bad signature is
    /// invalid. A token this thread verified before is not verified again
    /// (see `recent`): only its expiry is checked, against the same clock
    /// and rule as a full verification.
    pub fn verify(&self, token: &str) -> Result<Arc<LinkClaims>, LinkError> {
        if token.len() > 4096 {
            return Err(LinkError::Invalid);
        }
        if let Some(claims) = recent::get(self.id, token) {
            return if expired(claims.exp) {
                Err(LinkError::Expired(ExpiredLink::of(&claims)?))
            } else {
                Ok(claims)
            };
        }
        let claims = Arc::new(self.verify_in_full(token)?);
        recent::put(self.id, token, claims.clone());
        Ok(claims)
    }

    fn verify_in_full(&self, token: &str) -> Result<LinkClaims, LinkError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| LinkError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(LinkError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or(LinkError::Invalid)?;
        let claims = match jsonwebtoken::decode::<LinkClaims>(token, key, &self.validation) {
            Ok(data) => data.claims,
            // The signature held (it is checked first); read what it was for.
            Err(e) if *e.kind() == ErrorKind::ExpiredSignature => {
                let data = jsonwebtoken::decode::<LinkClaims>(token, key, &self.expired)
                    .map_err(|_| LinkError::Invalid)?;
                return Err(LinkError::Expired(ExpiredLink::of(&data.claims)?));
            }
            Err(_) => return Err(LinkError::Invalid),
        };
        if claims.line().is_none() {
            return Err(LinkError::Invalid);
        }
        Ok(claims)
    }
}

/// jsonwebtoken's rule with no leeway: expired once `exp` is in the past.
fn expired(exp: i64) -> bool {
    u64::try_from(exp).map_or(true, |exp| exp < jsonwebtoken::get_current_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn digest() -> Sha256Digest {
        Sha256Digest::parse(&"a".repeat(64)).unwrap()
    }

    fn target(sha256: &Sha256Digest) -> LinkTarget<'_> {
        LinkTarget {
            asset_id: AssetId::parse(7).unwrap(),
            sha256,
            size_bytes: 3,
            content_type: "application/pdf",
            file_name: "score.pdf",
        }
    }

    fn line(n: i64) -> LineId {
        LineId::parse(n).unwrap()
    }

    fn token_of(url: &str) -> &str {
        url.rsplit('/').next().unwrap_or_default()
    }

    /// The token of a download link `signer` mints for line `n`.
    fn minted(signer: &LinkSigner, n: i64) -> String {
        let url = signer
            .mint(line(n), Action::Download, target(&digest()))
            .map(|m| m.url)
            .unwrap_or_default();
        token_of(&url).to_owned()
    }

    #[test]
    fn a_minted_link_verifies_and_names_its_line_and_action() {
        let signer = LinkSigner::new(&[1u8; 32], &[], 60, "http://x:1/");
        let minted = signer.mint(line(42), Action::View, target(&digest())).ok();
        let minted = minted.as_ref().map(|m| m.url.as_str()).unwrap_or_default();
        assert!(minted.starts_with("http://x:1/access/"));
        let claims = signer.verify(token_of(minted));
        assert_eq!(
            claims.as_deref().ok().and_then(LinkClaims::line),
            Some(line(42))
        );
        assert_eq!(claims.map(|c| c.act), Ok(Action::View));
    }

    #[test]
    fn links_signed_with_another_key_or_tampered_are_invalid() {
        let signer = LinkSigner::new(&[1u8; 32], &[], 60, "http://x");
        let other = LinkSigner::new(&[2u8; 32], &[], 60, "http://x");
        let url = other
            .mint(line(1), Action::Download, target(&digest()))
            .map(|m| m.url)
            .unwrap_or_default();
        assert_eq!(signer.verify(token_of(&url)), Err(LinkError::Invalid));

        let forged = forge_sub(&minted(&signer, 1), "\"sub\":\"2\"");
        assert_eq!(signer.verify(&forged), Err(LinkError::Invalid));
        assert_eq!(signer.verify("garbage"), Err(LinkError::Invalid));
    }

    /// An expired link says which line it was for only when its signature
    /// holds: a forged expired link stays `Invalid` (it names nothing).
    #[test]
    fn an_authentic_expired_link_names_its_line_and_a_forged_one_nothing() {
        let signer = LinkSigner::new(&[1u8; 32], &[], 60, "http://x");
        let now = chrono::Utc::now().timestamp();
        let claims = LinkClaims {
            sub: "7".into(),
            act: Action::View,
            ast: 1,
            sha: digest(),
            ct: "application/pdf".into(),
            file_name: "a.pdf".into(),
            len: Some(1),
            iat: now - 120,
            exp: now - 60,
            jti: "j".into(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(signer.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signer.encoding).unwrap();
        assert_eq!(
            signer.verify(&token),
            Err(LinkError::Expired(ExpiredLink {
                line: line(7),
                action: Action::View,
            }))
        );
        let forged = in_payload(&token, "\"sub\":\"7\"", "\"sub\":\"8\"");
        assert_ne!(forged, token);
        assert_eq!(signer.verify(&forged), Err(LinkError::Invalid));
    }

    #[test]
    fn a_rotated_out_key_still_verifies_old_links() {
        let old = LinkSigner::new(&[1u8; 32], &[], 60, "http://x");
        let url = old
            .mint(line(1), Action::Download, target(&digest()))
            .map(|m| m.url)
            .unwrap_or_default();
        let new = LinkSigner::new(&[3u8; 32], &[vec![1u8; 32]], 60, "http://x");
        assert!(new.verify(token_of(&url)).is_ok());
    }

    fn forge_sub(token: &str, sub: &str) -> String {
        in_payload(token, "\"sub\":\"1\"", sub)
    }

    /// `token` with `from` replaced by `to` in its payload (signature kept).
    fn in_payload(token: &str, from: &str, to: &str) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let payload = engine.decode(&parts[1]).unwrap_or_default();
        let forged = String::from_utf8_lossy(&payload).replace(from, to);
        parts[1] = engine.encode(forged);
        parts.join(".")
    }

    #[test]
    fn a_verified_link_is_answered_again_only_for_the_very_same_token_and_signer() {
        let signer = LinkSigner::new(&[1u8; 32], &[], 60, "http://x");
        let token = &minted(&signer, 1);
        let first = signer.verify(token).unwrap();
        let again = signer.verify(token).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second use is the kept claims"
        );

        // Same signature segment, other payload: found by signature, refused.
        let forged = forge_sub(token, "\"sub\":\"2\"");
        assert_eq!(forged.rsplit('.').next(), token.rsplit('.').next());
        assert_eq!(signer.verify(&forged), Err(LinkError::Invalid));
        // Other header (a `kid` of nobody), same signature: refused.
        let (_, rest) = token.split_once('.').unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"typ":"JWT","alg":"HS256","kid":"0000000000000000"}"#);
        assert_eq!(
            signer.verify(&format!("{header}.{rest}")),
            Err(LinkError::Invalid)
        );
        // A signer with other keys, on the same thread, never gets the entry.
        let other = LinkSigner::new(&[2u8; 32], &[], 60, "http://x");
        assert_eq!(other.verify(token), Err(LinkError::Invalid));
        // And the real token still verifies after all that.
        assert!(Arc::ptr_eq(&signer.verify(token).unwrap(), &first));
    }

    #[test]
    fn a_kept_link_is_still_refused_once_it_expires() {
        let signer = LinkSigner::new(&[1u8; 32], &[], 60, "http://x");
        let token = &minted(&signer, 1);
        let claims = signer.verify(token).unwrap();
        // The kept entry for this very token, now a second past its expiry.
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
        let mut past = (*claims).clone();
        past.exp = now - 1;
        recent::put(signer.id, token, Arc::new(past.clone()));
        assert_eq!(
            signer.verify(token),
            Err(LinkError::Expired(ExpiredLink {
                line: claims.line().unwrap(),
                action: claims.act,
            }))
        );
        // Expiring this second is still valid, as with a full verification.
        past.exp = now + 1;
        recent::put(signer.id, token, Arc::new(past));
        assert!(signer.verify(token).is_ok());
    }

    #[test]
    fn the_cache_of_verified_links_is_bounded_per_thread() {
        let signer = LinkSigner::new(&[1u8; 32], &[], 60, "http://x");
        let one = minted(&signer, 1);
        let room = recent::BUDGET / one.len();
        for n in 1..=i64::try_from(room).unwrap() + 10 {
            assert!(signer.verify(&minted(&signer, n)).is_ok());
            assert!(
                recent::kept_tokens() <= room,
                "more kept than the budget allows"
            );
        }
        assert!(recent::kept_tokens() < room / 2, "a full cache starts over");
    }
}
