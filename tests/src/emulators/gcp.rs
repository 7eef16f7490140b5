//! The Google Cloud metadata server's identity endpoint:
//! `GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=...`,
//! answered with the bare JWT.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::http::{Handler, HttpRequest, HttpResponse, HttpServer};
use crate::idp::{DEFAULT_TOKEN_LIFETIME, Minter};

/// The identity path.
pub const GCP_IDENTITY_PATH: &str =
    "/computeMetadata/v1/instance/service-accounts/default/identity";

/// The instance's default service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The account's e-mail (`email` claim).
    pub email: String,
    /// The account's unique numeric id: the token's `sub`.
    pub unique_id: String,
    /// Group claims (`groups`), which the server maps to roles.
    pub groups: Vec<String>,
}

impl Default for ServiceAccount {
    fn default() -> Self {
        Self {
            email: "app@testkit-project.iam.gserviceaccount.com".into(),
            unique_id: "104882912345678901234".into(),
            groups: vec!["app-readers".into()],
        }
    }
}

/// A GCE / GKE metadata server emulator.
#[derive(Debug)]
pub struct GcpMetadata {
    http: HttpServer,
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    minter: Minter,
    account: Mutex<ServiceAccount>,
    lifetime: Mutex<Duration>,
}

struct Identity(Arc<State>);

impl Handler for Identity {
    fn handle(&self, request: &HttpRequest) -> HttpResponse {
        if request.path != GCP_IDENTITY_PATH {
            return HttpResponse::text(404, "Not Found");
        }
        if request.header("Metadata-Flavor") != Some("Google") {
            return HttpResponse::text(
                403,
                "Missing required header \"Metadata-Flavor\": \"Google\"",
            );
        }
        let Some(audience) = request.query("audience").filter(|a| !a.is_empty()) else {
            return HttpResponse::text(400, "non-empty audience parameter required");
        };
        let account = self.0.account.lock().unwrap().clone();
        let lifetime = *self.0.lifetime.lock().unwrap();
        let token = self
            .0
            .minter
            .token()
            .subject(&account.unique_id)
            .audience(audience)
            .expires_in(lifetime)
            .claim("azp", json!(account.unique_id))
            .claim("email", json!(account.email))
            .claim("email_verified", json!(true))
            .claim("groups", json!(account.groups))
            .sign();
        HttpResponse::text(200, token)
    }

    fn malformed(&self) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: "text/html",
            body: "<!DOCTYPE html><title>Metadata</title>".into(),
        }
    }
}

impl GcpMetadata {
    /// Starts the emulator with the default service account.
    pub async fn start(minter: Minter) -> std::io::Result<Self> {
        let state = Arc::new(State {
            minter,
            account: Mutex::new(ServiceAccount::default()),
            lifetime: Mutex::new(DEFAULT_TOKEN_LIFETIME),
        });
        let http = HttpServer::start(0, Arc::new(Identity(state.clone()))).await?;
        Ok(Self { http, state })
    }

    /// `host:port`, the value for `GCE_METADATA_HOST`.
    pub fn host(&self) -> String {
        self.http.addr().to_string()
    }

    /// The identity endpoint URL (without the audience).
    pub fn identity_url(&self) -> String {
        format!("{}{GCP_IDENTITY_PATH}", self.http.base_url())
    }

    /// The HTTP endpoint (faults, request log).
    pub fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Replaces the default service account.
    pub fn set_account(&self, account: ServiceAccount) {
        *self.state.account.lock().unwrap() = account;
    }

    /// Sets the lifetime of the tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.state.lifetime.lock().unwrap() = lifetime;
    }
}
