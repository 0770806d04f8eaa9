//! The SHA-256 digest of an asset file: its storage name, its strong ETag, and
//! what a link names. Lower-case hex, exactly 64 digits, so it is safe as a path.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

use super::ValueError;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, DeriveValueType)]
#[serde(try_from = "String", into = "String")]
#[sea_orm(value_type = "String")]
pub struct Sha256Digest(String);

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Sha256Digest {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::try_from(s.to_owned())
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(hex::encode(sha2::Sha256::digest(data)))
    }

    /// Wraps the lower-case hex a `sha2` hasher produced.
    pub fn from_hasher(hasher: sha2::Sha256) -> Self {
        use sha2::Digest as _;
        Self(hex::encode(hasher.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        if is_sha256_hex(&s) {
            Ok(Self(s))
        } else {
            Err(ValueError::new("sha256 must be 64 lower-case hex digits"))
        }
    }
}

impl From<Sha256Digest> for String {
    fn from(d: Sha256Digest) -> Self {
        d.0
    }
}

impl FromStr for Sha256Digest {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn only_64_lower_case_hex_digits_parse(s in "[0-9a-fA-F./]{60,68}") {
            let ok = s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            prop_assert_eq!(Sha256Digest::parse(&s).is_ok(), ok);
        }
    }

    #[test]
    fn the_digest_of_bytes_is_lower_case_hex() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(Sha256Digest::parse("../../etc/passwd").is_err());
    }
}
