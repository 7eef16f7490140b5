//! Azure workload identity (AKS): exchange the pod's projected service-account token for a
//! Microsoft Entra ID token, for clusters where MongoDB trusts Entra ID rather than the AKS
//! OIDC issuer. A ready-made `OIDC_CALLBACK`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::azure::parse_token_response;
use super::file::read_token;
use crate::error::{Endpoint, ErrorKind};
use crate::http::{public_client, send};
use crate::{CallbackContext, Error, OidcCallback, ProviderConfig, TokenResponse};

/// Entra ID's public cloud authority, used when `AZURE_AUTHORITY_HOST` is not set.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Exchanges the federated token in `AZURE_FEDERATED_TOKEN_FILE` for an Entra ID access token
/// of the app `AZURE_CLIENT_ID` in tenant `AZURE_TENANT_ID` (the variables the AKS workload
/// identity webhook injects), for the resource `TOKEN_RESOURCE` (scope `<resource>/.default`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use mongodb_oidc_testkit::{ENTRA_TENANT, TestKit, WORKLOAD_CLIENT_ID};
/// # let kit = TestKit::start().await?;
/// # let file = std::env::temp_dir().join(format!("wi-doc-{}", std::process::id()));
/// # TestKit::write_token_file(&file, &kit.service_account_token())?;
/// # let webhook = mongodb_oidc::Env::from_vars([
/// #     ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
/// #     ("AZURE_CLIENT_ID", WORKLOAD_CLIENT_ID.to_owned()),
/// #     ("AZURE_TENANT_ID", ENTRA_TENANT.to_owned()),
/// #     ("AZURE_AUTHORITY_HOST", kit.entra().authority_host()),
/// # ]);
/// # let uri = kit.uri();
/// use mongodb_oidc::providers::AzureWorkloadIdentity;
/// use mongodb_oidc::{OidcOptions, ProviderConfig};
///
/// // In a pod, the webhook's variables come from the environment: ProviderConfig::new().
/// let callback = AzureWorkloadIdentity::builder("api://mongodb-oidc-testkit")
///     .config(ProviderConfig::new().env(webhook))
///     .build()?;
/// let client = OidcOptions::builder().callback(callback).build().client(&uri).await?;
/// client.database("test").collection::<mongodb::bson::Document>("c").find_one(mongodb::bson::doc! {}).await?;
/// # std::fs::remove_file(file)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AzureWorkloadIdentity {
    token_file: PathBuf,
    client_id: String,
    url: String,
    scope: String,
}

/// Builds an [`AzureWorkloadIdentity`].
#[derive(Debug, Clone)]
pub struct AzureWorkloadIdentityBuilder {
    resource: String,
    token_file: Option<PathBuf>,
    client_id: Option<String>,
    tenant_id: Option<String>,
    authority_host: Option<String>,
    config: ProviderConfig,
}

impl AzureWorkloadIdentity {
    /// Starts a builder for tokens for `resource` (the app ID URI MongoDB expects as audience).
    pub fn builder(resource: impl Into<String>) -> AzureWorkloadIdentityBuilder {
        AzureWorkloadIdentityBuilder {
            resource: resource.into(),
            token_file: None,
            client_id: None,
            tenant_id: None,
            authority_host: None,
            config: ProviderConfig::default(),
        }
    }
}

fn missing(variable: &'static str, purpose: &'static str) -> Error {
    Error::new(ErrorKind::MissingVariable { variable, purpose })
}

impl AzureWorkloadIdentityBuilder {
    /// Reads the variables from this configuration.
    pub fn config(mut self, config: ProviderConfig) -> Self {
        self.config = config;
        self
    }

    /// The federated token file, instead of `AZURE_FEDERATED_TOKEN_FILE`.
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// The app's client id, instead of `AZURE_CLIENT_ID`.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The tenant, instead of `AZURE_TENANT_ID`.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The authority host (`https://login.microsoftonline.us/` for US Government, an emulator in
    /// tests), instead of `AZURE_AUTHORITY_HOST`.
    pub fn with_endpoint(mut self, authority_host: impl Into<String>) -> Self {
        self.authority_host = Some(authority_host.into());
        self
    }

    /// Checks that everything is known; names the missing variable otherwise.
    pub fn build(self) -> Result<AzureWorkloadIdentity, Error> {
        let env = &self.config.env;
        let pod = "the AKS workload identity webhook sets it in pods whose service account is annotated with azure.workload.identity/client-id";
        let token_file = self
            .token_file
            .or_else(|| env.get("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from))
            .ok_or_else(|| missing("AZURE_FEDERATED_TOKEN_FILE", pod))?;
        let client_id = self
            .client_id
            .or_else(|| env.get("AZURE_CLIENT_ID"))
            .ok_or_else(|| missing("AZURE_CLIENT_ID", pod))?;
        let tenant = self
            .tenant_id
            .or_else(|| env.get("AZURE_TENANT_ID"))
            .ok_or_else(|| missing("AZURE_TENANT_ID", pod))?;
        let authority = self
            .authority_host
            .or_else(|| env.get("AZURE_AUTHORITY_HOST"))
            .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_owned());
        let scope = if self.resource.ends_with("/.default") {
            self.resource
        } else {
            format!("{}/.default", self.resource.trim_end_matches('/'))
        };
        let url = format!(
            "{}/{tenant}/oauth2/v2.0/token",
            authority.trim_end_matches('/')
        );
        Ok(AzureWorkloadIdentity {
            token_file,
            client_id,
            url,
            scope,
        })
    }
}

#[async_trait]
impl OidcCallback for AzureWorkloadIdentity {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        let assertion = read_token(
            &self.token_file,
            "AZURE_FEDERATED_TOKEN_FILE",
            context.deadline(),
        )
        .await?;
        let form = [
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.access_token().secret()),
        ];
        let body = url_encode_form(&form);
        let request = public_client()
            .post(&self.url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body);
        let endpoint = Endpoint::EntraId;
        let body = send(endpoint, request, context.deadline())
            .await?
            .ok_body(endpoint)?;
        parse_token_response(endpoint, &body)
    }

    fn cache_key(&self) -> Option<String> {
        Some(format!(
            "entra|{}|{}|{}|{}",
            self.url,
            self.client_id,
            self.scope,
            self.token_file.display()
        ))
    }
}

/// `application/x-www-form-urlencoded`, as OAuth token requests are sent.
fn url_encode_form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
