//! Typed ids. Each crosses the database boundary as itself (`DeriveValueType`):
//! the store reads and writes `LineId`, not `i64`; a row that does not parse is
//! a corrupt row, reported as such by the store.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValueError;

macro_rules! uuid_id {
    ($name:ident) => {
        /// Stored as its hyphenated text.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, DeriveValueType,
        )]
        #[serde(transparent)]
        #[sea_orm(value_type = "String")]
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

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }

        /// A primary key the database never generates (we make the UUID).
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

uuid_id!(VendorId);
uuid_id!(TokenId);
uuid_id!(AdminId);
uuid_id!(WebhookId);

macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

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

positive_id!(
    /// The operator's asset number (`asset_id` on the wire).
    AssetId,
    "asset_id"
);
positive_id!(
    /// assetgate's internal, globally unique id of one order line (claims `sub` of a link).
    LineId,
    "line id"
);
positive_id!(
    /// The vendor's order number (`order_number` at register, `order_id` elsewhere).
    OrderNumber,
    "order number"
);
positive_id!(
    /// The vendor's line number within one order.
    OrderLineId,
    "order_line_id"
);

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
            prop_assert_eq!(id.to_string().parse::<VendorId>().ok(), Some(id));
        }
    }

    #[test]
    fn vendor_id_rejects_non_uuid() {
        assert!(VendorId::parse("not-a-uuid").is_err());
    }
}
