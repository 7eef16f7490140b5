//! Azure Instance Metadata Service: `GET /metadata/identity/oauth2/token`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{AzureState, ManagedIdentity};
use crate::http::{Handler, HttpRequest, HttpResponse, HttpServer};
use crate::idp::Minter;

/// The IMDS token path.
pub const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

/// An Azure IMDS emulator.
#[derive(Debug)]
pub struct AzureImds {
    http: HttpServer,
    state: Arc<AzureState>,
}

struct Imds(Arc<AzureState>);

fn bad_request(description: &str) -> HttpResponse {
    HttpResponse::json(
        400,
        json!({ "error": "invalid_request", "error_description": description }),
    )
}

impl Handler for Imds {
    fn handle(&self, request: &HttpRequest) -> HttpResponse {
        if request.path != IMDS_TOKEN_PATH {
            return HttpResponse::text(404, "Not Found");
        }
        if request.header("Metadata") != Some("true") {
            return bad_request("Required metadata header not specified");
        }
        if request.query("api-version").is_none() {
            return bad_request("Required query variable 'api-version' is missing");
        }
        let Some(resource) = request.query("resource").filter(|r| !r.is_empty()) else {
            return bad_request("Required query variable 'resource' is missing");
        };
        let selectors = [
            ("client_id", request.query("client_id")),
            ("object_id", request.query("object_id")),
            (
                "msi_res_id",
                request.query("msi_res_id").or(request.query("mi_res_id")),
            ),
        ];
        let identity = match self.0.select(selectors) {
            Ok(identity) => identity,
            Err(message) => return bad_request(message),
        };
        let (token, lifetime) = self.0.issue(&identity, resource);
        let now = self.0.minter.clock().unix_seconds();
        let expires_on = self.0.minter.clock().unix_seconds_ceil() + lifetime as i64;
        HttpResponse::json(
            200,
            json!({
                "access_token": token,
                "client_id": identity.client_id,
                "expires_in": lifetime.to_string(),
                "expires_on": expires_on.to_string(),
                "ext_expires_in": lifetime.to_string(),
                "not_before": now.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        )
    }

    fn malformed(&self) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: "application/json",
            body: r#"{"access_token": "eyJ"#.into(),
        }
    }
}

impl AzureImds {
    /// Starts an IMDS emulator with a system-assigned and one user-assigned identity.
    pub async fn start(minter: Minter) -> std::io::Result<Self> {
        let state = Arc::new(AzureState::new(minter));
        let http = HttpServer::start(0, Arc::new(Imds(state.clone()))).await?;
        Ok(Self { http, state })
    }

    /// The token endpoint URL, to point a client at instead of `http://169.254.169.254`.
    pub fn endpoint(&self) -> String {
        format!("{}{IMDS_TOKEN_PATH}", self.http.base_url())
    }

    /// The HTTP endpoint (faults, request log).
    pub fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Adds a user-assigned identity.
    pub fn add_identity(&self, identity: ManagedIdentity) {
        self.state.user_assigned.lock().unwrap().push(identity);
    }

    /// Removes the system-assigned identity (a VM with only user-assigned identities).
    pub fn remove_system_identity(&self) {
        *self.state.system.lock().unwrap() = None;
    }

    /// Sets the lifetime of the tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.state.lifetime.lock().unwrap() = lifetime;
    }
}
