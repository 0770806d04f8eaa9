pub mod access;
pub mod assets;
pub mod cancel;
pub mod health;
pub mod info;
pub mod links;
pub mod register;
pub mod validate;
