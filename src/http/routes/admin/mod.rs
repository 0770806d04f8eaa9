//! `/admin/api/…` (SPEC §7): the operators' API. Every handler takes the
//! `Admin` extractor, so none can forget authentication; vendor tokens get 401.

pub mod audit;
pub mod orders;
pub mod overview;
pub mod vendors;

use base64::Engine as _;

use crate::http::error::ApiError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An opaque cursor: base64url of the numbers it carries, dot-separated.
pub fn encode_cursor(parts: &[i64]) -> String {
    let text: Vec<String> = parts.iter().map(ToString::to_string).collect();
    B64.encode(text.join("."))
}

/// The numbers of a cursor made by [`encode_cursor`]; 422 `cursor` otherwise.
pub fn decode_cursor<const N: usize>(raw: &str) -> Result<[i64; N], ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a cursor this API returned");
    let text = B64.decode(raw.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let numbers: Vec<i64> = text
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    numbers.try_into().map_err(|_| bad())
}

/// `page_size` within 1..=`max`, `default` when absent.
pub fn page_size(raw: Option<i64>, default: u64, max: u64) -> Result<u64, ApiError> {
    raw.map_or(Ok(default), |n| {
        u64::try_from(n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("page_size", format!("must be an integer from 1 to {max}"))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor(&[1_764_000_000_000, 42]);
        assert_eq!(decode_cursor::<2>(&c).ok(), Some([1_764_000_000_000, 42]));
        assert!(decode_cursor::<2>("nope").is_err());
        assert!(decode_cursor::<1>(&c).is_err(), "wrong arity");
        assert!(decode_cursor::<2>(&B64.encode("1.x")).is_err());
    }
}
