#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod cache;
mod callback;
mod config;
mod driver;
mod error;
mod http;
mod jwt;
mod options;
pub mod providers;
mod redact;
mod retry;
mod stats;

pub use callback::{
    CALLBACK_VERSION, CallbackContext, HumanFn, IdpInfo, OidcCallback, OidcHumanCallback,
    TokenResponse,
};
pub use config::{Env, ProviderConfig};
pub use error::{Endpoint, Error};
pub use jwt::JwtParts;
pub use mongodb_connection_string::{self as connection_string, ConnectionString, Secret};
pub use options::{Checked, ClientExt, OidcOptions, OidcOptionsBuilder};
pub use retry::RetryPolicy;
pub use stats::FetchStats;
