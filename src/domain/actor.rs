//! Who did something: every recorded change names its actor.

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Serialize, Serializer};

use super::{Environment, OrderNumber, TokenId, ValueError, VendorId};

/// `vendor:<token id>`, `operator:<admin name>`, `cli:<os user>` or `system` (SPEC §7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, DeriveValueType)]
#[sea_orm(value_type = "String")]
pub enum Actor {
    /// A vendor's backend, through one of its API tokens.
    Vendor(TokenId),
    /// A person with an admin token, by the admin's name.
    Operator(String),
    /// A person at the operator CLI, by their operating-system user name.
    Cli(String),
    /// A buyer, following a link (access events).
    Buyer,
    /// The gateway itself: fulfilment, housekeeping.
    System,
}

impl Actor {
    /// A person's name as the audit log shows it: an operator's name, else the label.
    pub fn who(&self) -> String {
        match self {
            Self::Operator(name) => name.clone(),
            other => other.to_string(),
        }
    }

    /// The kind without the identity: `vendor`, `operator`, `cli`, `buyer` or `system`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Vendor(_) => "vendor",
            Self::Operator(_) => "operator",
            Self::Cli(_) => "cli",
            Self::Buyer => "buyer",
            Self::System => "system",
        }
    }
}

/// Who canceled a line, as every API says it (SPEC §7): the shop (through
/// its API), or the gateway's operators (console, admin API or CLI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CanceledBy {
    Vendor,
    Operator,
}

impl From<&Actor> for CanceledBy {
    fn from(actor: &Actor) -> Self {
        match actor {
            Actor::Vendor(_) => Self::Vendor,
            Actor::Operator(_) | Actor::Cli(_) | Actor::Buyer | Actor::System => Self::Operator,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vendor(token) => write!(f, "vendor:{token}"),
            Self::Operator(name) => write!(f, "operator:{name}"),
            Self::Cli(user) => write!(f, "cli:{user}"),
            Self::Buyer => f.write_str("buyer"),
            Self::System => f.write_str("system"),
        }
    }
}

impl FromStr for Actor {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        match s.split_once(':') {
            Some(("vendor", token)) => TokenId::parse(token).map(Self::Vendor),
            Some(("operator", name)) if !name.is_empty() => Ok(Self::Operator(name.to_owned())),
            Some(("cli", user)) if !user.is_empty() => Ok(Self::Cli(user.to_owned())),
            None if s == "system" => Ok(Self::System),
            None if s == "buyer" => Ok(Self::Buyer),
            _ => Err(ValueError::new(
                "actor must be vendor:<token id>, operator:<name>, cli:<user>, buyer or system",
            )),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One vendor in one environment: the partition every order lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub vendor: VendorId,
    pub environment: Environment,
}

/// One order: a tenant's order number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderRef {
    pub tenant: Tenant,
    pub order: OrderNumber,
}

impl Tenant {
    pub fn order(self, order: OrderNumber) -> OrderRef {
        OrderRef {
            tenant: self,
            order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_their_labels() {
        for actor in [
            Actor::Vendor(TokenId::new()),
            Actor::Operator("Ann Support".into()),
            Actor::Cli("root".into()),
            Actor::Buyer,
            Actor::System,
        ] {
            assert_eq!(actor.to_string().parse::<Actor>().ok(), Some(actor));
        }
        assert!("vendor:nope".parse::<Actor>().is_err());
        assert!("operator:".parse::<Actor>().is_err());
        assert!("buyers".parse::<Actor>().is_err());
    }
}
