//! The crate's one public error type. Messages name what failed (the endpoint, the file, the
//! option), why, and what to check; they quote response bodies only after removing anything
//! that looks like a token, and never contain one.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A token endpoint that an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// Azure Instance Metadata Service (`169.254.169.254`).
    AzureImds,
    /// Azure App Service / Functions identity endpoint (`IDENTITY_ENDPOINT`).
    AzureAppService,
    /// Google Cloud metadata server.
    GcpMetadata,
    /// Microsoft Entra ID token endpoint (workload identity federation).
    EntraId,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::AzureImds => "Azure IMDS",
            Endpoint::AzureAppService => "the Azure App Service identity endpoint",
            Endpoint::GcpMetadata => "the GCP metadata server",
            Endpoint::EntraId => "the Microsoft Entra ID token endpoint",
        })
    }
}

impl Endpoint {
    /// Whether an HTTP status from this endpoint is worth retrying. Microsoft's IMDS guidance
    /// lists 404 (identity not yet available), 408, 410, 429 and 5xx; the others only 429/5xx.
    fn retries_status(self, status: u16) -> bool {
        let always = status == 429 || (500..600).contains(&status);
        match self {
            Endpoint::AzureImds => always || matches!(status, 404 | 408 | 410),
            _ => always || status == 408,
        }
    }
}

/// Everything that can go wrong in this crate.
///
/// [`Error::is_transient`] says whether trying again later may succeed. Errors raised while the
/// driver authenticates reach the caller inside a `mongodb::error::Error`; get them back with
/// [`Error::from_driver`].
#[derive(Clone, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    // Shared so that one failed fetch can be handed to every caller waiting for it.
    kind: std::sync::Arc<ErrorKind>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.kind, f)
    }
}

#[derive(thiserror::Error)]
pub(crate) enum ErrorKind {
    #[error(transparent)]
    Config(#[from] mongodb_connection_string::Error),
    #[error("{0}")]
    Options(String),
    #[error("{}", driver_message(.0))]
    Driver(mongodb::error::Error),
    #[error("{endpoint} answered HTTP {status}: {body}{hint}", hint = status_hint(*endpoint, *status, body))]
    Status {
        endpoint: Endpoint,
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("could not reach {endpoint} at {url}: {}{hint}", chain(source), hint = unreachable_hint(*endpoint))]
    Request {
        endpoint: Endpoint,
        url: String,
        source: reqwest::Error,
    },
    #[error(
        "{what} did not answer within {after:?}; the limit is the smallest of the driver's callback deadline, connectTimeoutMS (default 10 s) and timeoutMS, so raise connectTimeoutMS or check that {what} is reachable"
    )]
    Deadline { what: String, after: Duration },
    #[error(
        "{endpoint} sent a response body larger than {limit} bytes; a token response is a few kilobytes, so this is not a token endpoint"
    )]
    BodyTooLarge { endpoint: Endpoint, limit: usize },
    #[error("{endpoint} sent a response this crate cannot use: {problem}")]
    InvalidResponse { endpoint: Endpoint, problem: String },
    #[error("{variable} is not set; {purpose}")]
    MissingVariable {
        variable: &'static str,
        purpose: &'static str,
    },
    #[error("cannot read the token file {} (chosen by {chosen_by}): {source}", path.display())]
    TokenFile {
        path: PathBuf,
        chosen_by: String,
        source: std::io::Error,
    },
    #[error("the token file {} (chosen by {chosen_by}) is empty; check that the identity token is projected into the pod", path.display())]
    EmptyTokenFile { path: PathBuf, chosen_by: String },
    #[error("the OIDC callback failed: {}", crate::redact::for_log(&source.to_string()))]
    Callback {
        source: Box<dyn std::error::Error + Send + Sync>,
        transient: bool,
    },
    #[error("{last} (gave up after {attempts} attempts: {why})")]
    Retried {
        last: Error,
        attempts: u32,
        why: &'static str,
    },
    #[error("{origin} returned an empty access token")]
    EmptyToken { origin: String },
    #[error(
        "{origin} returned a token that expires {seconds} s in the past; an expiry must not be negative"
    )]
    NegativeExpiry { origin: String, seconds: i64 },
}

impl fmt::Debug for ErrorKind {
    /// The message (already free of tokens) and, for callback errors, whether it is transient.
    /// A derived `Debug` would print a user callback's error verbatim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Callback { transient, .. } => {
                write!(
                    f,
                    "Callback {{ message: {:?}, transient: {transient} }}",
                    self.to_string()
                )
            }
            ErrorKind::Driver(e) if Error::from_driver(e).is_some() => {
                write!(f, "Driver({:?})", self.to_string())
            }
            other => write!(f, "{}({:?})", other.variant(), other.to_string()),
        }
    }
}

impl ErrorKind {
    fn variant(&self) -> &'static str {
        match self {
            ErrorKind::Config(_) => "Config",
            ErrorKind::Options(_) => "Options",
            ErrorKind::Driver(_) => "Driver",
            ErrorKind::Status { .. } => "Status",
            ErrorKind::Request { .. } => "Request",
            ErrorKind::Deadline { .. } => "Deadline",
            ErrorKind::BodyTooLarge { .. } => "BodyTooLarge",
            ErrorKind::InvalidResponse { .. } => "InvalidResponse",
            ErrorKind::MissingVariable { .. } => "MissingVariable",
            ErrorKind::TokenFile { .. } => "TokenFile",
            ErrorKind::EmptyTokenFile { .. } => "EmptyTokenFile",
            ErrorKind::Callback { .. } => "Callback",
            ErrorKind::EmptyToken { .. } => "EmptyToken",
            ErrorKind::NegativeExpiry { .. } => "NegativeExpiry",
            ErrorKind::Retried { .. } => "Retried",
        }
    }
}

/// A driver error that carries one of ours reads as ours; the driver's own "Custom user error"
/// says nothing.
fn driver_message(error: &mongodb::error::Error) -> String {
    if let Some(ours) = Error::from_driver(error) {
        return ours.to_string();
    }
    let text = error.to_string();
    let hint = if text.contains("MONGODB-OIDC failure: Authentication failed") {
        REJECTED_TOKEN_HINT
    } else {
        ""
    };
    format!("the MongoDB driver: {text}{hint}")
}

/// What to check when the server answers 18 to a MONGODB-OIDC token (it never says why).
const REJECTED_TOKEN_HINT: &str = " (the server rejected the token: its issuer, audience (TOKEN_RESOURCE) or principal claim does not match the cluster's identity provider configuration, it has expired, or it lacks the authorization claim; `mongodb-oidc token` shows its claims)";

fn status_hint(endpoint: Endpoint, status: u16, body: &str) -> &'static str {
    match (endpoint, status) {
        (Endpoint::AzureImds, 400) if body.contains("Identity not found") => {
            " (the connection string's user name must be the client id of a managed identity assigned to this VM; leave it out to use the system-assigned identity)"
        }
        (Endpoint::AzureImds | Endpoint::AzureAppService, 400)
            if body.contains("Multiple user assigned") =>
        {
            " (several identities are assigned: put the client id of the one to use in the connection string's user name)"
        }
        (Endpoint::AzureAppService, 401) => " (check IDENTITY_HEADER)",
        (Endpoint::EntraId, _) if body.contains("AADSTS70021") => {
            " (the app's federated credential must name this cluster's OIDC issuer URL and the subject system:serviceaccount:<namespace>:<service account>, audience api://AzureADTokenExchange)"
        }
        (Endpoint::EntraId, _) if body.contains("AADSTS700016") => {
            " (check AZURE_CLIENT_ID and AZURE_TENANT_ID)"
        }
        (_, 429) => " (the endpoint is throttling requests)",
        (Endpoint::GcpMetadata, 404) => " (this instance may have no service account)",
        _ => "",
    }
}

/// An error and its causes, joined: reqwest's own message ("error sending request") says little
/// without them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

fn unreachable_hint(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::AzureImds => {
            " (is this an Azure VM? On App Service and Functions, IDENTITY_ENDPOINT and IDENTITY_HEADER must be set)"
        }
        Endpoint::GcpMetadata => {
            " (is this a GCE or GKE instance? Set GCE_METADATA_HOST to use another metadata server)"
        }
        _ => "",
    }
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            kind: std::sync::Arc::new(kind),
        }
    }

    pub(crate) fn options(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Options(message.into()))
    }

    /// Wraps an error from a user callback; the driver is told it is permanent.
    pub fn callback(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorKind::Callback {
            source: source.into(),
            transient: false,
        })
    }

    /// Wraps an error from a user callback that may go away if the fetch is tried again
    /// (a throttled or unavailable identity provider).
    pub fn transient(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::new(ErrorKind::Callback {
            source: source.into(),
            transient: true,
        })
    }

    /// Whether trying again later may succeed: connection failures, timeouts, throttling and
    /// server errors of token endpoints, and callback errors marked [`Error::transient`].
    /// Configuration errors and rejections (400, 401, 403) are never transient.
    pub fn is_transient(&self) -> bool {
        match self.innermost().kind.as_ref() {
            ErrorKind::Status {
                endpoint, status, ..
            } => endpoint.retries_status(*status),
            ErrorKind::Request { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            ErrorKind::Deadline { .. } | ErrorKind::EmptyTokenFile { .. } => true,
            ErrorKind::TokenFile { source, .. } => source.kind() == std::io::ErrorKind::Interrupted,
            ErrorKind::Callback { transient, .. } => *transient,
            _ => false,
        }
    }

    /// The HTTP status, for errors answered by a token endpoint.
    pub fn status(&self) -> Option<u16> {
        match self.innermost().kind.as_ref() {
            ErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The delay the endpoint asked for (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.innermost().kind.as_ref() {
            ErrorKind::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether this is a configuration error (the connection string or the options).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self.kind.as_ref(),
            ErrorKind::Config(_) | ErrorKind::Options(_)
        )
    }

    /// The user callback's own error, to downcast to the type the callback returned.
    pub fn callback_source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self.innermost().kind.as_ref() {
            ErrorKind::Callback { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }

    /// The driver error, when the driver failed (for example connecting or parsing options).
    pub fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self.kind.as_ref() {
            ErrorKind::Driver(e) => Some(e),
            _ => None,
        }
    }

    /// Ours, unwrapped from a driver error that carries it and from retries.
    fn innermost(&self) -> &Error {
        match self.kind.as_ref() {
            ErrorKind::Driver(e) => Error::from_driver(e).map_or(self, Error::innermost),
            ErrorKind::Retried { last, .. } => last.innermost(),
            _ => self,
        }
    }

    /// How many attempts were made, when a retried fetch gave up.
    pub fn attempts(&self) -> u32 {
        match self.kind.as_ref() {
            ErrorKind::Retried { attempts, .. } => *attempts,
            ErrorKind::Driver(e) => Error::from_driver(e).map_or(1, Error::attempts),
            _ => 1,
        }
    }

    /// This crate's error inside a driver error, if the driver failed because a token could not
    /// be fetched. The driver itself only prints such errors as "Custom user error".
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
    /// # let imds = kit.azure().endpoint();
    /// # let host = kit.server().addr();
    /// use mongodb_oidc::{Error, OidcOptions, ProviderConfig};
    ///
    /// let options = OidcOptions::builder().provider_config(ProviderConfig::new().azure_imds_endpoint(imds)).build();
    /// let uri = format!("mongodb://no-such-client-id@{host}/?authMechanism=MONGODB-OIDC\
    ///                    &authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api://x");
    /// let client = options.client(&uri).await?;
    /// let failure = client.database("test").run_command(mongodb::bson::doc! { "find": "c" }).await.unwrap_err();
    /// let ours = Error::from_driver(&failure).expect("a token error");
    /// assert_eq!(ours.status(), Some(400));
    /// assert!(ours.to_string().contains("Identity not found"));
    /// # Ok(()) }
    /// ```
    pub fn from_driver(error: &mongodb::error::Error) -> Option<&Error> {
        error.get_custom::<Error>()
    }

    /// Converts into a driver error that carries this error (see [`Error::from_driver`]).
    pub(crate) fn into_driver(self) -> mongodb::error::Error {
        mongodb::error::Error::custom(self)
    }
}

impl From<mongodb_connection_string::Error> for Error {
    fn from(e: mongodb_connection_string::Error) -> Self {
        Self::new(ErrorKind::Config(e))
    }
}

impl From<mongodb::error::Error> for Error {
    fn from(e: mongodb::error::Error) -> Self {
        Self::new(ErrorKind::Driver(e))
    }
}
