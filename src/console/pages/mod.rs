//! One file per console section; each handler builds a view struct and renders it.

pub mod assets;
pub mod audit;
pub mod login;
pub mod orders;
pub mod overview;
pub mod static_files;
pub mod vendors;
pub mod webhooks;
