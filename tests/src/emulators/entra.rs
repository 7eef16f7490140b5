//! Microsoft Entra ID's token endpoint for workload identity federation:
//! `POST /{tenant}/oauth2/v2.0/token` with a client assertion (the pod's projected
//! service-account token), answered with an access token for `scope` minus `/.default`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::crypto::{b64url_decode, process_keys, verify};
use crate::http::{Handler, HttpRequest, HttpResponse, HttpServer};
use crate::idp::{DEFAULT_TOKEN_LIFETIME, Minter};

/// The audience Entra expects in a federated client assertion.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An app registration with one federated identity credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRegistration {
    /// The application (client) id.
    pub client_id: String,
    /// The service principal's object id: the issued token's `sub` and `oid`.
    pub object_id: String,
    /// The federated credential's issuer (the cluster's OIDC issuer URL).
    pub issuer: String,
    /// The federated credential's subject (`system:serviceaccount:<namespace>:<name>`).
    pub subject: String,
    /// Group claims for the issued token.
    pub groups: Vec<String>,
}

/// An Entra ID token endpoint emulator.
#[derive(Debug)]
pub struct Entra {
    http: HttpServer,
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    minter: Minter,
    tenant: String,
    apps: Mutex<Vec<AppRegistration>>,
    lifetime: Mutex<Duration>,
}

fn error(code: &str, description: String) -> HttpResponse {
    HttpResponse::json(
        400,
        json!({ "error": code, "error_description": description, "error_codes": [] }),
    )
}

impl State {
    /// Checks the assertion as Entra does and returns the claims, or the AADSTS error.
    fn check_assertion(&self, assertion: &str, app: &AppRegistration) -> Result<(), HttpResponse> {
        let parts: Vec<&str> = assertion.split('.').collect();
        let decode =
            |p: &str| b64url_decode(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let (Some(header), Some(claims), Some(sig)) = (
            parts.first().and_then(|p| decode(p)),
            parts.get(1).and_then(|p| decode(p)),
            parts.get(2).and_then(|p| b64url_decode(p)),
        ) else {
            return Err(error(
                "invalid_client",
                "AADSTS50027: JWT token is invalid or malformed.".into(),
            ));
        };
        let key = process_keys()[0].jwk();
        let signed = format!("{}.{}", parts[0], parts[1]);
        if header["kid"] != key["kid"]
            || !verify(
                header["alg"].as_str().unwrap_or(""),
                &key,
                signed.as_bytes(),
                &sig,
            )
        {
            return Err(error(
                "invalid_client",
                "AADSTS700027: Client assertion failed signature validation.".into(),
            ));
        }
        let now = self.minter.clock().unix_seconds();
        if claims["exp"].as_i64().is_none_or(|exp| exp <= now) {
            return Err(error(
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range.".into(),
            ));
        }
        let (iss, sub, aud) = (
            claims["iss"].as_str().unwrap_or(""),
            claims["sub"].as_str().unwrap_or(""),
            claims["aud"].as_str().unwrap_or(""),
        );
        if iss != app.issuer || sub != app.subject || aud != TOKEN_EXCHANGE_AUDIENCE {
            return Err(error(
                "invalid_client",
                format!(
                    "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'."
                ),
            ));
        }
        Ok(())
    }
}

struct Endpoint(Arc<State>);

impl Handler for Endpoint {
    fn handle(&self, request: &HttpRequest) -> HttpResponse {
        let state = &self.0;
        if request.method != "POST"
            || request.path != format!("/{}/oauth2/v2.0/token", state.tenant)
        {
            return error(
                "invalid_request",
                format!(
                    "AADSTS90002: Tenant not found or wrong path: {}",
                    request.path
                ),
            );
        }
        let field = |name: &str| request.form(name).filter(|v| !v.is_empty());
        let (Some(client_id), Some(assertion), Some(scope)) = (
            field("client_id"),
            field("client_assertion"),
            field("scope"),
        ) else {
            return error("invalid_request", "AADSTS900144: The request body must contain client_id, client_assertion and scope.".into());
        };
        if field("grant_type").as_deref() != Some("client_credentials")
            || field("client_assertion_type").as_deref() != Some(ASSERTION_TYPE)
        {
            return error("unsupported_grant_type", "AADSTS70003: grant_type must be client_credentials with a jwt-bearer client assertion.".into());
        }
        let Some(resource) = scope.strip_suffix("/.default") else {
            return error(
                "invalid_scope",
                format!(
                    "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."
                ),
            );
        };
        let Some(app) = state
            .apps
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.client_id == client_id)
            .cloned()
        else {
            return error(
                "unauthorized_client",
                format!(
                    "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{}'.",
                    state.tenant
                ),
            );
        };
        if let Err(rejection) = state.check_assertion(&assertion, &app) {
            return rejection;
        }
        let lifetime = *state.lifetime.lock().unwrap();
        let token = state
            .minter
            .token()
            .subject(&app.object_id)
            .audience(resource)
            .expires_in(lifetime)
            .claim("oid", json!(app.object_id))
            .claim("azp", json!(app.client_id))
            .claim("tid", json!(state.tenant))
            .claim("groups", json!(app.groups))
            .sign();
        HttpResponse::json(
            200,
            json!({ "token_type": "Bearer", "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(), "access_token": token }),
        )
    }
}

impl Entra {
    /// Starts the emulator for `tenant`; issued tokens are signed by `minter`.
    pub async fn start(minter: Minter, tenant: impl Into<String>) -> std::io::Result<Self> {
        let state = Arc::new(State {
            minter,
            tenant: tenant.into(),
            apps: Mutex::new(Vec::new()),
            lifetime: Mutex::new(DEFAULT_TOKEN_LIFETIME),
        });
        let http = HttpServer::start(0, Arc::new(Endpoint(state.clone()))).await?;
        Ok(Self { http, state })
    }

    /// The value for `AZURE_AUTHORITY_HOST`.
    pub fn authority_host(&self) -> String {
        format!("{}/", self.http.base_url())
    }

    /// The tenant id (`AZURE_TENANT_ID`).
    pub fn tenant(&self) -> &str {
        &self.state.tenant
    }

    /// Registers an application with a federated credential.
    pub fn register(&self, app: AppRegistration) {
        self.state.apps.lock().unwrap().push(app);
    }

    /// The HTTP endpoint (faults, request log).
    pub fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Sets the lifetime of the tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.state.lifetime.lock().unwrap() = lifetime;
    }
}
