//! HTTP for token endpoints: one client per process, no proxy for metadata addresses, a
//! deadline around the whole exchange, a cap on the body, and errors that quote the status
//! and a token-free excerpt of the body.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Endpoint, Error, ErrorKind};
use crate::redact;

/// Largest body accepted from a token endpoint. Tokens are a few kilobytes (Azure tokens with
/// many group claims stay well under 64 KiB); anything much larger is not a token response.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

const USER_AGENT: &str = concat!("mongodb-oidc/", env!("CARGO_PKG_VERSION"));

/// Token endpoints never redirect; following one would send identity headers (App Service's
/// `X-IDENTITY-HEADER`) or a client assertion to another host. A 3xx is reported as an error.
///
/// The client for metadata endpoints. Metadata addresses (link-local IMDS, the GCE metadata
/// server, App Service's local endpoint) must never go through an HTTP proxy: a proxy cannot
/// reach them, and would see the identity headers.
pub(crate) fn metadata_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .expect("the HTTP client builds with the bundled TLS configuration")
    })
}

/// The client for public identity endpoints (Entra ID): unlike metadata addresses they may only
/// be reachable through the system's HTTP proxy, so proxy variables apply.
pub(crate) fn public_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .expect("the HTTP client builds with the bundled TLS configuration")
    })
}

/// What an endpoint answered.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) retry_after: Option<Duration>,
}

impl Reply {
    /// The body of a 2xx reply, or an error with the status and a token-free excerpt.
    pub(crate) fn ok_body(self, endpoint: Endpoint) -> Result<String, Error> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        Err(Error::new(ErrorKind::Status {
            endpoint,
            status: self.status,
            body: redact::for_message(&self.body),
            retry_after: self.retry_after,
        }))
    }
}

/// Sends a request and reads the reply, all before `deadline`.
pub(crate) async fn send(
    endpoint: Endpoint,
    request: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<Reply, Error> {
    let started = Instant::now();
    let exchange = async {
        // The request keeps the client it was built from: no proxy for metadata, proxy for Entra.
        let (client, request) = request.build_split();
        let request = request.map_err(|e| request_error(endpoint, "(invalid URL)", e))?;
        let url = request.url().to_string();
        let mut response = client
            .execute(request)
            .await
            .map_err(|e| request_error(endpoint, &url, e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| request_error(endpoint, &url, e))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Error::new(ErrorKind::BodyTooLarge {
                    endpoint,
                    limit: MAX_BODY_BYTES,
                }));
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        Ok(Reply {
            status,
            body,
            retry_after,
        })
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(ErrorKind::Deadline {
            what: endpoint.to_string(),
            after: started.elapsed(),
        })),
    }
}

fn request_error(endpoint: Endpoint, url: &str, source: reqwest::Error) -> Error {
    Error::new(ErrorKind::Request {
        endpoint,
        url: url.to_owned(),
        source: source.without_url(),
    })
}
