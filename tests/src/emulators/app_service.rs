//! Azure App Service / Functions managed identity: `GET $IDENTITY_ENDPOINT` with the
//! `X-IDENTITY-HEADER` secret (api-version 2019-08-01).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{AzureState, ManagedIdentity};
use crate::http::{Handler, HttpRequest, HttpResponse, HttpServer};
use crate::idp::Minter;

/// The path the emulator serves; `IDENTITY_ENDPOINT` is the base URL plus this path.
pub const APP_SERVICE_PATH: &str = "/msi/token";

/// An App Service / Functions identity endpoint emulator.
#[derive(Debug)]
pub struct AppService {
    http: HttpServer,
    state: Arc<AzureState>,
    secret: String,
}

struct Endpoint {
    state: Arc<AzureState>,
    secret: String,
}

fn error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(status, json!({ "statusCode": status, "message": message }))
}

impl Handler for Endpoint {
    fn handle(&self, request: &HttpRequest) -> HttpResponse {
        if request.path != APP_SERVICE_PATH {
            return HttpResponse::text(404, "Not Found");
        }
        if request.header("X-IDENTITY-HEADER") != Some(self.secret.as_str()) {
            return error(
                401,
                "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER",
            );
        }
        if request.query("api-version") != Some("2019-08-01") {
            return error(400, "api-version must be 2019-08-01");
        }
        let Some(resource) = request.query("resource").filter(|r| !r.is_empty()) else {
            return error(400, "The resource parameter is required");
        };
        let selectors = [
            ("client_id", request.query("client_id")),
            (
                "object_id",
                request.query("principal_id").or(request.query("object_id")),
            ),
            ("msi_res_id", request.query("mi_res_id")),
        ];
        let identity = match self.state.select(selectors) {
            Ok(identity) => identity,
            Err(message) => return error(400, message),
        };
        let (token, lifetime) = self.state.issue(&identity, resource);
        let expires_on = self.state.minter.clock().unix_seconds_ceil() + lifetime as i64;
        HttpResponse::json(
            200,
            json!({
                "access_token": token,
                "expires_on": expires_on.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }),
        )
    }

    fn malformed(&self) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: "application/json",
            body: "{\"access_token\": [".into(),
        }
    }
}

impl AppService {
    /// Starts the emulator; clients must send `secret` as `X-IDENTITY-HEADER`.
    pub async fn start(minter: Minter, secret: impl Into<String>) -> std::io::Result<Self> {
        let state = Arc::new(AzureState::new(minter));
        let secret = secret.into();
        let handler = Endpoint {
            state: state.clone(),
            secret: secret.clone(),
        };
        let http = HttpServer::start(0, Arc::new(handler)).await?;
        Ok(Self {
            http,
            state,
            secret,
        })
    }

    /// The value for `IDENTITY_ENDPOINT`.
    pub fn identity_endpoint(&self) -> String {
        format!("{}{APP_SERVICE_PATH}", self.http.base_url())
    }

    /// The value for `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.secret
    }

    /// The HTTP endpoint (faults, request log).
    pub fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Adds a user-assigned identity.
    pub fn add_identity(&self, identity: ManagedIdentity) {
        self.state.user_assigned.lock().unwrap().push(identity);
    }

    /// Sets the lifetime of the tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.state.lifetime.lock().unwrap() = lifetime;
    }
}
