//! `ENVIRONMENT:gcp`: an identity token from the Google Cloud metadata server.

use async_trait::async_trait;

use super::file::with_jwt_expiry;
use crate::error::{Endpoint, Error, ErrorKind};
use crate::http::{metadata_client, send};
use crate::jwt::looks_like_jwt;
use crate::{CallbackContext, OidcCallback, ProviderConfig, TokenResponse};

/// The metadata server's name on GCE and GKE (what Google's own libraries use).
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
const IDENTITY_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/identity";

/// Fetches identity tokens for the instance's default service account.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
/// # let emulator_host = kit.gcp().host();
/// use std::time::Duration;
/// use mongodb_oidc::providers::GcpProvider;
/// use mongodb_oidc::{CallbackContext, Env, JwtParts, OidcCallback, ProviderConfig};
///
/// // GCE_METADATA_HOST is how Google's libraries are pointed at another metadata server.
/// let config = ProviderConfig::new().env(Env::from_vars([("GCE_METADATA_HOST", emulator_host)]));
/// let provider = GcpProvider::builder("api://mongodb-oidc-testkit").config(config).build();
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
/// let token = provider.fetch(&CallbackContext::new(deadline)).await?;
/// let claims = JwtParts::decode(token.access_token().secret()).unwrap().claims;
/// assert_eq!(claims["aud"], "api://mongodb-oidc-testkit");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GcpProvider {
    audience: String,
    url: String,
}

/// Builds a [`GcpProvider`].
#[derive(Debug, Clone)]
pub struct GcpProviderBuilder {
    audience: String,
    endpoint: Option<String>,
    config: ProviderConfig,
}

impl GcpProvider {
    /// Starts a builder for tokens whose audience is `audience` (`TOKEN_RESOURCE`).
    pub fn builder(audience: impl Into<String>) -> GcpProviderBuilder {
        GcpProviderBuilder {
            audience: audience.into(),
            endpoint: None,
            config: ProviderConfig::default(),
        }
    }
}

impl GcpProviderBuilder {
    /// Uses this base URL (`http://host:port`) for the metadata server.
    pub fn with_endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.endpoint = Some(base_url.into());
        self
    }

    /// Reads `GCE_METADATA_HOST` and endpoints from this configuration.
    pub fn config(mut self, config: ProviderConfig) -> Self {
        self.config = config;
        self
    }

    /// Picks the metadata server: an explicit URL, the configured host, `GCE_METADATA_HOST`,
    /// else [`DEFAULT_METADATA_HOST`].
    pub fn build(self) -> GcpProvider {
        let base = self.endpoint.unwrap_or_else(|| {
            let host = self
                .config
                .gcp_metadata_host
                .clone()
                .or_else(|| self.config.env.get("GCE_METADATA_HOST"))
                .unwrap_or_else(|| DEFAULT_METADATA_HOST.to_owned());
            format!("http://{host}")
        });
        GcpProvider {
            audience: self.audience,
            url: format!("{}{IDENTITY_PATH}", base.trim_end_matches('/')),
        }
    }
}

#[async_trait]
impl OidcCallback for GcpProvider {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        let endpoint = Endpoint::GcpMetadata;
        let request = metadata_client()
            .get(&self.url)
            .header("Metadata-Flavor", "Google")
            .query(&[("audience", self.audience.as_str())]);
        let body = send(endpoint, request, context.deadline())
            .await?
            .ok_body(endpoint)?;
        let token = body.trim();
        if !looks_like_jwt(token) {
            let problem = format!(
                "the body is not a JWT: {}",
                crate::redact::for_message(token)
            );
            return Err(Error::new(ErrorKind::InvalidResponse { endpoint, problem }));
        }
        Ok(with_jwt_expiry(TokenResponse::new(token), token))
    }

    fn cache_key(&self) -> Option<String> {
        Some(format!("gcp|{}|{}", self.url, self.audience))
    }
}
