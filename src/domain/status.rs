use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

use super::ValueError;

/// Every token belongs to one environment; orders are partitioned by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, DeriveValueType)]
#[serde(rename_all = "UPPERCASE")]
#[sea_orm(value_type = "String")]
pub enum Environment {
    Sandbox,
    Live,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "SANDBOX",
            Self::Live => "LIVE",
        }
    }
}

/// Part of a composite key the database never generates.
impl sea_orm::TryFromU64 for Environment {
    fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
        Err(sea_orm::DbErr::ConvertFromU64("Environment"))
    }
}

impl FromStr for Environment {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SANDBOX" => Ok(Self::Sandbox),
            "LIVE" => Ok(Self::Live),
            _ => Err(ValueError::new("environment must be SANDBOX or LIVE")),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, DeriveValueType)]
#[serde(rename_all = "UPPERCASE")]
#[sea_orm(value_type = "String")]
pub enum VendorStatus {
    Active,
    Suspended,
}

impl VendorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
        }
    }
}

impl fmt::Display for VendorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VendorStatus {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ACTIVE" => Ok(Self::Active),
            "SUSPENDED" => Ok(Self::Suspended),
            _ => Err(ValueError::new("unknown vendor status")),
        }
    }
}

/// Whether an asset is sold (SPEC §11): a `RETIRED` one is absent from
/// `/assets/list` and refused by validate/register, and keeps serving every
/// line already sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, DeriveValueType)]
#[serde(rename_all = "UPPERCASE")]
#[sea_orm(value_type = "String")]
pub enum AssetStatus {
    Active,
    Retired,
}

impl AssetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Retired => "RETIRED",
        }
    }
}

impl fmt::Display for AssetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AssetStatus {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Ok(Self::Active),
            "RETIRED" => Ok(Self::Retired),
            _ => Err(ValueError::new("must be ACTIVE or RETIRED")),
        }
    }
}

/// What the last `storage verify` found of an asset's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, DeriveValueType)]
#[serde(rename_all = "lowercase")]
#[sea_orm(value_type = "String")]
pub enum FileState {
    /// Present, of the recorded size and digest.
    Ok,
    Missing,
    /// Another size or digest than recorded.
    Altered,
    /// Not verified yet (or the store could not be read).
    Unchecked,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Altered => "altered",
            Self::Unchecked => "unchecked",
        }
    }
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileState {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(Self::Ok),
            "missing" => Ok(Self::Missing),
            "altered" => Ok(Self::Altered),
            "unchecked" => Ok(Self::Unchecked),
            _ => Err(ValueError::new("unknown file state")),
        }
    }
}

/// The order-line state machine (SPEC §4):
///
/// ```text
/// register ──► PROCESSING ──► COMPLETED ──► CANCELED (terminal)
///                  │  └──────────────────────► CANCELED
///                  └──► FAILED (terminal)
/// ```
///
/// [`can_become`](Self::can_become) is the guard: every transition the store
/// makes is a conditional `UPDATE … WHERE status IN (sources_of(next))`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    DeriveValueType,
)]
#[serde(rename_all = "UPPERCASE")]
#[sea_orm(value_type = "String")]
pub enum LineStatus {
    Processing,
    Completed,
    Canceled,
    Failed,
}

impl LineStatus {
    pub const ALL: [LineStatus; 4] = [
        LineStatus::Processing,
        LineStatus::Completed,
        LineStatus::Canceled,
        LineStatus::Failed,
    ];
    pub const CANCELABLE: [LineStatus; 2] = [LineStatus::Processing, LineStatus::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Canceled => "CANCELED",
            Self::Failed => "FAILED",
        }
    }

    pub fn is_cancelable(self) -> bool {
        Self::CANCELABLE.contains(&self)
    }

    /// Whether the state machine allows `self → next`.
    pub fn can_become(self, next: LineStatus) -> bool {
        matches!(
            (self, next),
            (Self::Processing, Self::Completed)
                | (Self::Processing, Self::Failed)
                | (Self::Processing, Self::Canceled)
                | (Self::Completed, Self::Canceled)
        )
    }

    /// Every status that may become `next`: the `WHERE status IN (…)` of a transition.
    pub fn sources_of(next: LineStatus) -> Vec<LineStatus> {
        Self::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .collect()
    }
}

impl FromStr for LineStatus {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PROCESSING" => Ok(Self::Processing),
            "COMPLETED" => Ok(Self::Completed),
            "CANCELED" => Ok(Self::Canceled),
            "FAILED" => Ok(Self::Failed),
            _ => Err(ValueError::new("unknown line status")),
        }
    }
}

impl fmt::Display for LineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [LineStatus; 4] = LineStatus::ALL;

    #[test]
    fn terminal_states_have_no_way_out() {
        for next in ALL {
            assert!(!LineStatus::Canceled.can_become(next), "CANCELED -> {next}");
            assert!(!LineStatus::Failed.can_become(next), "FAILED -> {next}");
        }
    }

    #[test]
    fn cancelable_states_are_exactly_those_that_can_become_canceled() {
        for s in ALL {
            assert_eq!(s.is_cancelable(), s.can_become(LineStatus::Canceled), "{s}");
        }
    }

    #[test]
    fn the_sources_of_a_transition_are_exactly_the_statuses_that_can_make_it() {
        assert_eq!(
            LineStatus::sources_of(LineStatus::Canceled),
            LineStatus::CANCELABLE.to_vec()
        );
        assert_eq!(
            LineStatus::sources_of(LineStatus::Completed),
            vec![LineStatus::Processing]
        );
        assert!(LineStatus::sources_of(LineStatus::Processing).is_empty());
    }

    #[test]
    fn statuses_round_trip_through_their_wire_names() {
        for s in ALL {
            assert_eq!(s.as_str().parse::<LineStatus>().ok(), Some(s));
        }
        assert_eq!("live".parse::<Environment>().ok(), Some(Environment::Live));
        assert!("PROD".parse::<Environment>().is_err());
    }
}
