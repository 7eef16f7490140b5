//! `ENVIRONMENT:azure`: Azure managed identity, from the VM's Instance Metadata Service or, when
//! `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set, from App Service / Functions.

use async_trait::async_trait;
use serde_json::Value;

use super::file::{seconds_until, with_jwt_expiry};
use crate::error::{Endpoint, Error, ErrorKind};
use crate::http::{metadata_client, send};
use crate::{CallbackContext, OidcCallback, ProviderConfig, Secret, TokenResponse};

/// The VM metadata token endpoint (link-local; never proxied).
pub const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// The IMDS API version the auth spec uses.
const IMDS_API_VERSION: &str = "2018-02-01";
/// The App Service / Functions identity API version whose contract this provider follows.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// Which managed identity to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AzureIdentity {
    /// The system-assigned identity (or the only user-assigned one).
    #[default]
    Default,
    /// A user-assigned identity by client (application) id: the connection string's user name.
    ClientId(String),
    /// A user-assigned identity by its service principal's object id.
    ObjectId(String),
    /// A user-assigned identity by its ARM resource id.
    ResourceId(String),
}

#[derive(Debug, Clone)]
enum Source {
    Imds { url: String },
    AppService { url: String, header: Secret },
}

/// Fetches tokens for a managed identity.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
/// # let imds_emulator = kit.azure().endpoint();
/// use std::time::Duration;
/// use mongodb_oidc::providers::{AzureIdentity, AzureProvider};
/// use mongodb_oidc::{CallbackContext, OidcCallback};
///
/// let provider = AzureProvider::builder("api://mongodb-oidc-testkit")
///     .identity(AzureIdentity::Default) // or ClientId / ObjectId / ResourceId
///     .with_endpoint(imds_emulator) // on a VM, leave this out: IMDS is at 169.254.169.254
///     .build();
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
/// let token = provider.fetch(&CallbackContext::new(deadline)).await?;
/// assert!(token.lifetime().unwrap().is_some(), "IMDS says when the token expires");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AzureProvider {
    resource: String,
    identity: AzureIdentity,
    source: Source,
}

/// Builds an [`AzureProvider`].
#[derive(Debug, Clone)]
pub struct AzureProviderBuilder {
    resource: String,
    identity: AzureIdentity,
    endpoint: Option<String>,
    app_service: Option<(String, Secret)>,
    config: ProviderConfig,
}

impl AzureProvider {
    /// Starts a builder for tokens whose audience is `resource` (`TOKEN_RESOURCE`).
    pub fn builder(resource: impl Into<String>) -> AzureProviderBuilder {
        AzureProviderBuilder {
            resource: resource.into(),
            identity: AzureIdentity::Default,
            endpoint: None,
            app_service: None,
            config: ProviderConfig::default(),
        }
    }

    /// Whether tokens come from the App Service / Functions endpoint rather than IMDS.
    pub fn uses_app_service(&self) -> bool {
        matches!(self.source, Source::AppService { .. })
    }
}

impl AzureProviderBuilder {
    /// Chooses the managed identity.
    pub fn identity(mut self, identity: AzureIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// Sends IMDS requests to this URL (for example the test kit's emulator).
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Uses the App Service / Functions endpoint with this `X-IDENTITY-HEADER` secret.
    pub fn app_service(mut self, endpoint: impl Into<String>, header: impl Into<Secret>) -> Self {
        self.app_service = Some((endpoint.into(), header.into()));
        self
    }

    /// Reads environment variables and endpoints from this configuration.
    pub fn config(mut self, config: ProviderConfig) -> Self {
        self.config = config;
        self
    }

    /// Picks the endpoint: an explicit one, else App Service when `IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER` are set, else IMDS.
    pub fn build(self) -> AzureProvider {
        let env = &self.config.env;
        let app_service = self.app_service.clone().or_else(|| {
            if self.endpoint.is_some() {
                return None;
            }
            Some((
                env.get("IDENTITY_ENDPOINT")?,
                Secret::new(env.get("IDENTITY_HEADER")?),
            ))
        });
        let source = match app_service {
            Some((url, header)) => Source::AppService { url, header },
            None => Source::Imds {
                url: self
                    .endpoint
                    .or(self.config.azure_imds_endpoint.clone())
                    .unwrap_or_else(|| IMDS_TOKEN_URL.to_owned()),
            },
        };
        AzureProvider {
            resource: self.resource,
            identity: self.identity,
            source,
        }
    }
}

impl AzureProvider {
    fn request(&self) -> (Endpoint, reqwest::RequestBuilder) {
        let client = metadata_client();
        let (endpoint, request, version) = match &self.source {
            Source::Imds { url } => (
                Endpoint::AzureImds,
                client
                    .get(url)
                    .header("Metadata", "true")
                    .header("Accept", "application/json"),
                IMDS_API_VERSION,
            ),
            Source::AppService { url, header } => (
                Endpoint::AzureAppService,
                client.get(url).header("X-IDENTITY-HEADER", header.secret()),
                APP_SERVICE_API_VERSION,
            ),
        };
        let mut query = vec![
            ("api-version", version),
            ("resource", self.resource.as_str()),
        ];
        let app = endpoint == Endpoint::AzureAppService;
        match &self.identity {
            AzureIdentity::Default => {}
            AzureIdentity::ClientId(id) => query.push(("client_id", id)),
            AzureIdentity::ObjectId(id) => {
                query.push((if app { "principal_id" } else { "object_id" }, id))
            }
            AzureIdentity::ResourceId(id) => {
                query.push((if app { "mi_res_id" } else { "msi_res_id" }, id))
            }
        }
        (endpoint, request.query(&query))
    }
}

#[async_trait]
impl OidcCallback for AzureProvider {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        let (endpoint, request) = self.request();
        let body = send(endpoint, request, context.deadline())
            .await?
            .ok_body(endpoint)?;
        parse_token_response(endpoint, &body)
    }

    fn cache_key(&self) -> Option<String> {
        Some(match &self.source {
            Source::Imds { url } => {
                format!("azure|imds|{url}|{}|{:?}", self.resource, self.identity)
            }
            Source::AppService { url, .. } => format!(
                "azure|app-service|{url}|{}|{:?}",
                self.resource, self.identity
            ),
        })
    }
}

/// Reads `access_token` and the expiry (`expires_in`, else `expires_on`, else the JWT's
/// `exp`). Azure sends the numbers as strings; both forms are accepted.
pub(crate) fn parse_token_response(endpoint: Endpoint, body: &str) -> Result<TokenResponse, Error> {
    let invalid = |problem: String| Error::new(ErrorKind::InvalidResponse { endpoint, problem });
    let json: Value = serde_json::from_str(body).map_err(|e| {
        invalid(format!(
            "the body is not JSON ({e}): {}",
            crate::redact::for_message(body)
        ))
    })?;
    let token = match json.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => t.as_str(),
        Some(_) => return Err(invalid("'access_token' is empty or not a string".into())),
        None => return Err(invalid("it has no 'access_token' field".into())),
    };
    let number = |name: &str| match json.get(name) {
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    let response = TokenResponse::new(token);
    Ok(match (number("expires_in"), number("expires_on")) {
        (Some(seconds), _) => response.expires_in_secs(seconds),
        (None, Some(unix)) => response.expires_in_secs(seconds_until(unix)),
        (None, None) => with_jwt_expiry(response, token),
    })
}
