//! Where providers get their environment variables and endpoints from: injected, never read
//! from test-only branches, so the same code runs in production and against the test kit.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Environment variables, from the process or from a fixed map.
#[derive(Clone, Default)]
pub struct Env {
    fixed: Option<Arc<HashMap<String, String>>>,
}

impl Env {
    /// The process environment (the default).
    pub fn process() -> Self {
        Self::default()
    }

    /// Exactly these variables; the process environment is not consulted.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            fixed: Some(Arc::new(map)),
        }
    }

    /// A variable's value; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Env {
    /// Names only: values such as `IDENTITY_HEADER` are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fixed {
            None => f.write_str("Env(process)"),
            Some(map) => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                f.debug_tuple("Env").field(&names).finish()
            }
        }
    }
}

/// What built-in providers read from their surroundings.
///
/// ```
/// use mongodb_oidc::{Env, ProviderConfig};
///
/// let config = ProviderConfig::new()
///     .env(Env::from_vars([("OIDC_TOKEN_FILE", "/run/token")]))
///     .azure_imds_endpoint("http://127.0.0.1:8080/metadata/identity/oauth2/token");
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    pub(crate) env: Env,
    pub(crate) azure_imds_endpoint: Option<String>,
    pub(crate) gcp_metadata_host: Option<String>,
    pub(crate) azure_identity: Option<crate::providers::AzureIdentity>,
}

impl ProviderConfig {
    /// The process environment and the real cloud endpoints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads environment variables from `env`.
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Sends Azure IMDS requests to this URL instead of `http://169.254.169.254/...`.
    pub fn azure_imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.azure_imds_endpoint = Some(url.into());
        self
    }

    /// Chooses the Azure managed identity by object id or resource id (or client id, which is
    /// otherwise the connection string's user name).
    pub fn azure_identity(mut self, identity: crate::providers::AzureIdentity) -> Self {
        self.azure_identity = Some(identity);
        self
    }

    /// Sends GCP metadata requests to this `host[:port]` (like `GCE_METADATA_HOST`).
    pub fn gcp_metadata_host(mut self, host: impl Into<String>) -> Self {
        self.gcp_metadata_host = Some(host.into());
        self
    }
}
