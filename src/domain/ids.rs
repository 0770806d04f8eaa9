use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValueError;

macro_rules! uuid_id {
    ($name:ident) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn parse(s: &str) -> Result<Self, ValueError> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| ValueError::new(concat!(stringify!($name), " must be a UUID")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(VendorId);
uuid_id!(TokenId);

/// The operator's asset number (`asset_id` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(i64);

/// assetgate's internal, globally unique id of one order line (claims `sub` of a link).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LineId(i64);

/// The vendor's order number (`order_number` at register, `order_id` elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderNumber(i64);

/// The vendor's line number within one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderLineId(i64);

macro_rules! positive_id {
    ($name:ident, $what:literal) => {
        impl $name {
            pub fn parse(value: i64) -> Result<Self, ValueError> {
                if value >= 1 {
                    Ok(Self(value))
                } else {
                    Err(ValueError::new(concat!($what, " must be an integer >= 1")))
                }
            }
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

positive_id!(AssetId, "asset_id");
positive_id!(LineId, "line id");
positive_id!(OrderNumber, "order number");
positive_id!(OrderLineId, "order_line_id");

impl LineId {
    /// Ids read back from our own database are trusted.
    pub fn from_db(value: i64) -> Self {
        Self(value)
    }
}

impl AssetId {
    pub fn from_db(value: i64) -> Self {
        Self(value)
    }
}

impl OrderNumber {
    pub fn from_db(value: i64) -> Self {
        Self(value)
    }
}

impl OrderLineId {
    pub fn from_db(value: i64) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn positive_ids_accept_exactly_the_positive_integers(v in any::<i64>()) {
            prop_assert_eq!(OrderNumber::parse(v).is_ok(), v >= 1);
            prop_assert_eq!(OrderLineId::parse(v).is_ok(), v >= 1);
            prop_assert_eq!(AssetId::parse(v).map(AssetId::get).ok(), (v >= 1).then_some(v));
        }

        #[test]
        fn vendor_ids_round_trip_through_display(_x in 0u8..8) {
            let id = VendorId::new();
            prop_assert_eq!(VendorId::parse(&id.to_string()).ok(), Some(id));
        }
    }

    #[test]
    fn vendor_id_rejects_non_uuid() {
        assert!(VendorId::parse("not-a-uuid").is_err());
    }
}
