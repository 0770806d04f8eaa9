//! Access policies of an asset (SPEC §12).

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};

use super::ValueError;

string_enum!(
    /// Whether each buyer gets their own stamped copy of the file.
    Stamp, "stamp", {
        None => "none",
        Pdf => "pdf",
    }
);
