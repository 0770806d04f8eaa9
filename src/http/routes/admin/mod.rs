//! `/admin/api/…` (SPEC §7): the operators' API. Every handler takes the
//! `Admin` extractor, so none can forget authentication; vendor tokens get 401.

pub mod assets;
pub mod audit;
pub mod orders;
pub mod overview;
pub mod vendors;
