//! MONGODB-OIDC for the official MongoDB Rust driver.
#![warn(missing_docs)]

pub use mongodb_connection_string::{ConnectionString, Error as ConnectionStringError, Secret};
