#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod auth;
mod connection_string;
mod error;
mod host;
mod oidc;
mod options;
mod percent;
mod render;
mod secret;
mod suggest;
mod warning;

pub use auth::{AuthMechanism, Credential};
pub use connection_string::{ConnectionString, Scheme};
pub use error::Error;
pub use host::{Host, HostAddress};
pub use oidc::{CallbackKind, OidcConfig, OidcEnvironment, OidcSettings, Origin};
pub use options::{OptionValue, Property, canonical_name};
pub use secret::Secret;
pub use warning::Warning;
