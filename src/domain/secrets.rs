//! API tokens and one-time validation tokens: random secrets with a visible
//! prefix, stored only as SHA-256 hashes.

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use super::Environment;

pub const LIVE_PREFIX: &str = "agt_live_";
pub const TEST_PREFIX: &str = "agt_test_";
pub const VALIDATION_PREFIX: &str = "agv_";
pub const ADMIN_PREFIX: &str = "agt_admin_";
/// Console session cookies.
pub const SESSION_PREFIX: &str = "ags_";
const RANDOM_BYTES: usize = 32;
/// Prefix + 43 characters of unpadded base64url.
const MAX_TOKEN_LEN: usize = 64;

/// A secret the gateway keeps in clear because it must use it (a webhook
/// endpoint's signing secret, a console session's CSRF token): stored as
/// text, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, sea_orm::DeriveValueType)]
pub struct Hidden(String);

impl Hidden {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A freshly generated secret: shown once, stored as `hash`.
pub struct NewSecret {
    pub secret: SecretString,
    pub hash: String,
    pub display_prefix: String,
}

fn random_part() -> String {
    let mut bytes = [0u8; RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn generate(prefix: &str) -> NewSecret {
    let token = format!("{prefix}{}", random_part());
    let hash = sha256_hex(token.as_bytes());
    let display_prefix = token.chars().take(prefix.len() + 4).collect();
    NewSecret {
        secret: SecretString::from(token),
        hash,
        display_prefix,
    }
}

pub fn generate_api_token(environment: Environment) -> NewSecret {
    generate(match environment {
        Environment::Live => LIVE_PREFIX,
        Environment::Sandbox => TEST_PREFIX,
    })
}

pub fn generate_validation_token() -> NewSecret {
    generate(VALIDATION_PREFIX)
}

pub fn generate_admin_token() -> NewSecret {
    generate(ADMIN_PREFIX)
}

/// A console session: the cookie's secret (hashed in the database) and a CSRF token.
pub fn generate_session() -> (NewSecret, String) {
    (generate(SESSION_PREFIX), random_part())
}

fn well_formed(presented: &str, prefix: &str) -> bool {
    presented.len() <= MAX_TOKEN_LEN
        && presented.len() > prefix.len()
        && presented.starts_with(prefix)
        && presented[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Hash of a presented API token, or `None` when it cannot be one of ours
/// (so obviously bad tokens never reach the database).
pub fn hash_presented_api_token(presented: &str) -> Option<String> {
    (well_formed(presented, LIVE_PREFIX) || well_formed(presented, TEST_PREFIX))
        .then(|| sha256_hex(presented.as_bytes()))
}

pub fn hash_presented_validation_token(presented: &str) -> Option<String> {
    well_formed(presented, VALIDATION_PREFIX).then(|| sha256_hex(presented.as_bytes()))
}

/// Hash of a presented admin token; `None` for anything else (a vendor token too).
pub fn hash_presented_admin_token(presented: &str) -> Option<String> {
    well_formed(presented, ADMIN_PREFIX).then(|| sha256_hex(presented.as_bytes()))
}

pub fn hash_presented_session(presented: &str) -> Option<String> {
    well_formed(presented, SESSION_PREFIX).then(|| sha256_hex(presented.as_bytes()))
}

/// Constant-time equality of two hashes.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn generated_tokens_carry_their_environment_prefix_and_hash_back() {
        let live = generate_api_token(Environment::Live);
        let token = live.secret.expose_secret();
        assert!(token.starts_with(LIVE_PREFIX));
        assert_eq!(
            hash_presented_api_token(token).as_deref(),
            Some(live.hash.as_str())
        );
        assert!(
            generate_api_token(Environment::Sandbox)
                .secret
                .expose_secret()
                .starts_with(TEST_PREFIX)
        );
    }

    #[test]
    fn malformed_tokens_are_refused_before_hashing() {
        for bad in [
            "",
            "agt_live_",
            "Bearer x",
            "agt_prod_abc",
            "agt_live_a b",
            &"agt_live_x".repeat(10),
        ] {
            assert!(hash_presented_api_token(bad).is_none(), "{bad:?}");
        }
        assert!(hash_presented_validation_token("agt_live_abc").is_none());
    }

    #[test]
    fn admin_and_vendor_tokens_never_pass_for_each_other() {
        let admin = generate_admin_token();
        let admin = admin.secret.expose_secret();
        let vendor = generate_api_token(Environment::Live);
        let vendor = vendor.secret.expose_secret();
        assert!(admin.starts_with(ADMIN_PREFIX) && admin.len() <= MAX_TOKEN_LEN);
        assert!(hash_presented_admin_token(admin).is_some());
        assert!(hash_presented_api_token(admin).is_none());
        assert!(hash_presented_admin_token(vendor).is_none());
    }

    #[test]
    fn hash_comparison_is_exact() {
        assert!(hashes_equal("abc", "abc"));
        assert!(!hashes_equal("abc", "abd"));
        assert!(!hashes_equal("abc", "abcd"));
    }
}
