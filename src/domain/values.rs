//! Parsed request values. Each has a private field and a `parse` returning
//! `Result`, so a value that exists is a valid one.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::Serialize;

/// Why a value was refused; the message is safe to show to the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Buyer's name as it may be printed on the asset: 1–200 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, DeriveValueType)]
#[serde(transparent)]
pub struct CustomerName(String);

impl CustomerName {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if len == 0 {
            return Err(ValueError::new("customer must not be empty"));
        }
        if len > 200 {
            return Err(ValueError::new("customer must be at most 200 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValueError::new(
                "customer must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An operator's name, as the audit log and history show it: 1–100
/// characters, no control characters, no `:` at the ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, DeriveValueType)]
#[serde(transparent)]
pub struct AdminName(String);

impl AdminName {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if !(1..=100).contains(&len) {
            return Err(ValueError::new("an admin name must be 1 to 100 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValueError::new(
                "an admin name must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 3166-1 alpha-2 country code, upper case (`^[A-Z]{2}$`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, DeriveValueType)]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::new(
                "country_code must be two upper-case letters (e.g. SE)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The countries an asset may be sold to; empty means the whole world.
/// Stored as comma-separated codes (`SE,NO`).
#[derive(Clone, Debug, Default, PartialEq, Eq, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub struct Countries(Vec<CountryCode>);

impl Countries {
    pub fn new(codes: Vec<CountryCode>) -> Self {
        Self(codes)
    }

    pub fn codes(&self) -> &[CountryCode] {
        &self.0
    }

    /// Sellable everywhere (no restriction).
    pub fn is_world(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a buyer in `country` may buy; an unknown country only passes for the world.
    pub fn allows(&self, country: Option<&CountryCode>) -> bool {
        self.is_world() || country.is_some_and(|c| self.0.contains(c))
    }
}

impl FromIterator<CountryCode> for Countries {
    fn from_iter<I: IntoIterator<Item = CountryCode>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for Countries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(c.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Countries {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        s.split(',')
            .filter(|c| !c.is_empty())
            .map(CountryCode::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// A purchased quantity, at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, DeriveValueType)]
#[serde(transparent)]
pub struct Quantity(i32);

impl Quantity {
    pub const ONE: Quantity = Quantity(1);

    pub fn parse(value: i64) -> Result<Self, ValueError> {
        i32::try_from(value)
            .ok()
            .filter(|v| *v >= 1)
            .map(Self)
            .ok_or_else(|| ValueError::new("quantity must be an integer from 1 to 2147483647"))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A non-negative, finite amount as the vendor sent it (assetgate never computes with money).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, DeriveValueType)]
#[serde(transparent)]
pub struct Price(f64);

impl Price {
    pub fn parse(value: f64, field: &str) -> Result<Self, ValueError> {
        if value.is_finite() && value >= 0.0 {
            Ok(Self(value))
        } else {
            Err(ValueError::new(format!("{field} must be a number >= 0")))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }

    /// The price of a part: it belongs to the main line.
    pub const ZERO: Price = Price(0.0);
}

/// `Idempotency-Key` header: 1–255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if !raw.is_empty() && raw.len() <= 255 && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::new(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a line was canceled: up to 500 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, DeriveValueType)]
#[serde(transparent)]
pub struct CancelReason(String);

impl CancelReason {
    pub const DEFAULT: &'static str = "Order canceled via API";

    pub fn parse(raw: Option<&str>) -> Result<Self, ValueError> {
        let text = raw
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(Self::DEFAULT);
        if text.chars().count() > 500 {
            return Err(ValueError::new("reason must be at most 500 characters"));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ValueError::new(
                "reason must not contain control characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Vendor metadata: a JSON object of at most 4 KiB when serialized; stored as its JSON text.
#[derive(Clone, Debug, PartialEq, Serialize, DeriveValueType)]
#[serde(transparent)]
#[sea_orm(value_type = "String")]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    pub const MAX_BYTES: usize = 4096;

    pub fn parse(value: serde_json::Value) -> Result<Self, ValueError> {
        let serde_json::Value::Object(map) = value else {
            return Err(ValueError::new("metadata must be a JSON object"));
        };
        let size = serde_json::to_string(&map)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(ValueError::new(
                "metadata must be at most 4096 bytes as JSON",
            ));
        }
        Ok(Self(map))
    }
}

impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(&self.0).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl FromStr for Metadata {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let value = serde_json::from_str(s)
            .map_err(|_| ValueError::new("metadata must be a JSON object"))?;
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn customer_name_accepts_1_to_200_printable_chars(s in "[a-zA-Z0-9 åäöéÅ'.-]{1,250}") {
            let trimmed = s.trim();
            let expected = !trimmed.is_empty() && trimmed.chars().count() <= 200;
            prop_assert_eq!(CustomerName::parse(&s).is_ok(), expected);
        }

        #[test]
        fn customer_name_refuses_control_characters(a in "[a-z]{1,10}", b in "[a-z]{1,10}") {
            let with_control = format!("{a}\u{0007}{b}");
            prop_assert!(CustomerName::parse(&with_control).is_err());
        }

        #[test]
        fn country_code_is_exactly_two_upper_case_letters(s in "\\PC{0,4}") {
            let expected = s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase());
            prop_assert_eq!(CountryCode::parse(&s).is_ok(), expected);
        }

        #[test]
        fn quantity_is_between_1_and_i32_max(v in any::<i64>()) {
            prop_assert_eq!(Quantity::parse(v).is_ok(), (1..=i64::from(i32::MAX)).contains(&v));
        }

        #[test]
        fn price_refuses_negative_and_non_finite(v in any::<f64>()) {
            prop_assert_eq!(Price::parse(v, "unit_price").is_ok(), v.is_finite() && v >= 0.0);
        }

        #[test]
        fn idempotency_key_length_is_bounded(n in 0usize..300) {
            let key = "k".repeat(n);
            prop_assert_eq!(IdempotencyKey::parse(&key).is_ok(), (1..=255).contains(&n));
        }
    }

    #[test]
    fn admin_names_are_short_printable_text() {
        assert!(AdminName::parse("Ann Support").is_ok());
        assert!(AdminName::parse("  ").is_err());
        assert!(AdminName::parse(&"a".repeat(101)).is_err());
        assert!(AdminName::parse("a\nb").is_err());
    }

    #[test]
    fn cancel_reason_defaults_when_absent_or_blank() {
        assert_eq!(
            CancelReason::parse(None).map(|r| r.0).ok().as_deref(),
            Some(CancelReason::DEFAULT)
        );
        assert_eq!(
            CancelReason::parse(Some("  ")).map(|r| r.0).ok().as_deref(),
            Some(CancelReason::DEFAULT)
        );
        assert!(CancelReason::parse(Some(&"x".repeat(501))).is_err());
    }

    #[test]
    fn countries_round_trip_and_an_empty_list_is_the_world() {
        let nordic: Countries = "SE,NO".parse().unwrap_or_default();
        assert_eq!(nordic.to_string(), "SE,NO");
        let se = CountryCode::parse("SE").ok();
        let de = CountryCode::parse("DE").ok();
        assert!(nordic.allows(se.as_ref()));
        assert!(!nordic.allows(de.as_ref()));
        assert!(!nordic.allows(None));
        let world: Countries = "".parse().unwrap_or_else(|_| nordic.clone());
        assert!(world.is_world() && world.allows(None));
        assert!("SE,xx".parse::<Countries>().is_err());
    }

    #[test]
    fn metadata_round_trips_through_its_stored_text() {
        let m = Metadata::parse(serde_json::json!({"sku": "A-1", "n": 2})).ok();
        let text = m.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(text.parse::<Metadata>().ok(), m);
        assert!("[1]".parse::<Metadata>().is_err());
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        assert!(Metadata::parse(serde_json::json!({"a": 1})).is_ok());
        assert!(Metadata::parse(serde_json::json!([1, 2])).is_err());
        assert!(Metadata::parse(serde_json::json!({"a": "x".repeat(5000)})).is_err());
    }
}
