//! What an operator may do (SPEC §7): each role includes the ones below it.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

use super::ValueError;

/// `viewer` reads everything; `support` also reissues links (and resets
/// download counts); `admin` also cancels, edits the catalogue and manages
/// vendors, tokens, webhooks and other operators.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    DeriveValueType,
)]
#[serde(rename_all = "lowercase")]
#[sea_orm(value_type = "String")]
pub enum Role {
    Viewer,
    Support,
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Viewer, Self::Support, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Support => "support",
            Self::Admin => "admin",
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Self) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Self::Viewer),
            "support" => Ok(Self::Support),
            "admin" => Ok(Self::Admin),
            _ => Err(ValueError::new("role must be viewer, support or admin")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_below_it_and_no_more() {
        use Role::*;
        assert!(Admin.allows(Support) && Admin.allows(Viewer) && Admin.allows(Admin));
        assert!(Support.allows(Viewer) && Support.allows(Support));
        assert!(!Support.allows(Admin));
        assert!(!Viewer.allows(Support) && !Viewer.allows(Admin));
    }

    #[test]
    fn parses_what_it_prints_and_refuses_the_rest() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!(" Support ".parse::<Role>().unwrap(), Role::Support);
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }
}
