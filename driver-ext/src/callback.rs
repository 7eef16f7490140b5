//! The callback traits: what user code (and every built-in provider) implements to hand a
//! token to the driver.

use std::future::Future;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;

use crate::{Error, Secret};

/// The callback API version passed to callbacks, as the auth spec defines it.
pub const CALLBACK_VERSION: u32 = 1;

/// What a callback is told about the token it must fetch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CallbackContext {
    deadline: Instant,
    username: Option<String>,
    idp_info: Option<IdpInfo>,
    refresh_token: Option<Secret>,
}

impl CallbackContext {
    /// A context with this deadline (for calling a provider or callback directly).
    pub fn new(deadline: Instant) -> Self {
        Self {
            deadline,
            username: None,
            idp_info: None,
            refresh_token: None,
        }
    }

    /// Sets the user name.
    pub fn with_username(mut self, username: Option<String>) -> Self {
        self.username = username;
        self
    }

    /// Sets the human-flow fields.
    pub fn with_human(mut self, idp_info: Option<IdpInfo>, refresh_token: Option<Secret>) -> Self {
        self.idp_info = idp_info;
        self.refresh_token = refresh_token;
        self
    }

    /// When the fetch must be done: the smallest of the driver's deadline, `connectTimeoutMS`
    /// (default 10 s) and `timeoutMS`. The crate cancels a callback that runs past it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left until [`deadline`](Self::deadline).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The user name from the connection string or the options (azure: the client id).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The callback API version: always [`CALLBACK_VERSION`].
    pub fn version(&self) -> u32 {
        CALLBACK_VERSION
    }

    /// Human flow: the identity provider's details sent by the server.
    pub fn idp_info(&self) -> Option<&IdpInfo> {
        self.idp_info.as_ref()
    }

    /// Human flow: the refresh token returned by the previous call, if any.
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }
}

/// The identity provider's details, sent by the server in the human flow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdpInfo {
    /// The issuer URL, where the callback finds the IdP.
    pub issuer: String,
    /// The client id to use with the IdP (absent for machine-only providers).
    pub client_id: Option<String>,
    /// The scopes to request.
    pub request_scopes: Vec<String>,
}

impl IdpInfo {
    /// IdpInfo for `issuer` (for testing human callbacks).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: None,
            request_scopes: Vec::new(),
        }
    }

    /// Sets the client id.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    InSeconds(i64),
    At(SystemTime),
}

/// A token returned by a callback.
///
/// ```
/// use std::time::Duration;
/// use mongodb_oidc::TokenResponse;
///
/// let token = TokenResponse::new("eyJ...").expires_in(Duration::from_secs(3600));
/// assert!(!format!("{token:?}").contains("eyJ"));
/// ```
#[derive(Debug, Clone)]
pub struct TokenResponse {
    access_token: Secret,
    expiry: Option<Expiry>,
    refresh_token: Option<Secret>,
}

impl TokenResponse {
    /// A token without a known expiry.
    pub fn new(access_token: impl Into<Secret>) -> Self {
        Self {
            access_token: access_token.into(),
            expiry: None,
            refresh_token: None,
        }
    }

    /// The token expires after this long.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expiry = Some(Expiry::InSeconds(
            i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
        ));
        self
    }

    /// The token expires after this many seconds; a negative value is an error when the token
    /// is handed to the driver, as the auth spec requires.
    pub fn expires_in_secs(mut self, seconds: i64) -> Self {
        self.expiry = Some(Expiry::InSeconds(seconds));
        self
    }

    /// The token expires at this time; a time in the past is an error.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expiry = Some(Expiry::At(at));
        self
    }

    /// Human flow: a refresh token, passed back to the next call.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<Secret>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &Secret {
        &self.access_token
    }

    /// The refresh token, if any.
    pub fn refresh_token(&self) -> Option<&Secret> {
        self.refresh_token.as_ref()
    }

    /// Time left before expiry: `Ok(None)` when unknown, `Err(seconds)` when negative.
    pub fn lifetime(&self) -> Result<Option<Duration>, i64> {
        let seconds = match self.expiry {
            None => return Ok(None),
            Some(Expiry::InSeconds(s)) => s,
            Some(Expiry::At(at)) => match at.duration_since(SystemTime::now()) {
                Ok(left) => return Ok(Some(left)),
                Err(past) => -i64::try_from(past.duration().as_secs())
                    .unwrap_or(i64::MAX)
                    .max(1),
            },
        };
        u64::try_from(seconds)
            .map(|s| Some(Duration::from_secs(s)))
            .map_err(|_| seconds)
    }

    /// The lifetime, after the checks every token passes before the driver sees it: not empty,
    /// and no negative expiry. `origin` names the token source in the error.
    pub(crate) fn checked_lifetime(&self, origin: &str) -> Result<Option<Duration>, Error> {
        use crate::error::ErrorKind;
        let lifetime = self.lifetime().map_err(|seconds| {
            Error::new(ErrorKind::NegativeExpiry {
                origin: format!("the {origin} token source"),
                seconds: -seconds,
            })
        })?;
        if self.access_token.is_empty() {
            return Err(Error::new(ErrorKind::EmptyToken {
                origin: format!("the {origin} token source"),
            }));
        }
        Ok(lifetime)
    }

    pub(crate) fn into_parts(self) -> (Secret, Option<Secret>) {
        (self.access_token, self.refresh_token)
    }
}

/// A machine (workload) callback: `OIDC_CALLBACK`. Closures
/// `Fn(CallbackContext) -> impl Future<Output = Result<TokenResponse, Error>>` implement it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
/// # let my_token_service = kit.token();
/// # let uri = format!("{}?authMechanism=MONGODB-OIDC", kit.uri());
/// use std::time::Duration;
/// use mongodb_oidc::{CallbackContext, OidcOptions, TokenResponse};
///
/// let options = OidcOptions::builder()
///     .callback(move |ctx: CallbackContext| {
///         let token = my_token_service.clone(); // your SDK call, done before ctx.deadline()
///         assert_eq!(ctx.version(), 1);
///         async move { Ok(TokenResponse::new(token).expires_in(Duration::from_secs(3600))) }
///     })
///     .build();
/// let client = options.client(&uri).await?;
/// client.database("test").collection::<mongodb::bson::Document>("c").find_one(mongodb::bson::doc! {}).await?;
/// # Ok(()) }
/// ```
#[async_trait]
pub trait OidcCallback: Send + Sync {
    /// Fetches a token before `context.deadline()`.
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error>;

    /// The identity of the tokens this source returns, for the process-wide shared cache:
    /// sources with the same key share one token. `None` (the default) shares only between
    /// clients built from the same `OidcOptions`.
    fn cache_key(&self) -> Option<String> {
        None
    }
}

/// A human-flow callback: `OIDC_HUMAN_CALLBACK`. It receives [`IdpInfo`] and the previous
/// refresh token. Closures implement it too.
#[async_trait]
pub trait OidcHumanCallback: Send + Sync {
    /// Fetches a token (and optionally a refresh token) before `context.deadline()`.
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error>;
}

#[async_trait]
impl<F, Fut> OidcCallback for F
where
    F: Fn(CallbackContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<TokenResponse, Error>> + Send,
{
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        self(context.clone()).await
    }
}

/// Wraps a closure as a human callback (a closure alone is a machine callback).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use mongodb_oidc_testkit::{TestKit, server::IdentityProviderConfig};
/// # let kit = TestKit::builder()
/// #     .provider(0, |iss| IdentityProviderConfig::human(iss, "api://cli", "cli-client-id"))
/// #     .start().await?;
/// # let idp = kit.issuer(0).minter().clone();
/// # let uri = format!("{}?authMechanism=MONGODB-OIDC", kit.uri());
/// use mongodb_oidc::{CallbackContext, HumanFn, OidcOptions, TokenResponse};
///
/// let options = OidcOptions::builder()
///     .human_callback(HumanFn(move |ctx: CallbackContext| {
///         // The server says where to log in; a real callback opens a browser here.
///         let info = ctx.idp_info().expect("IdpInfo in the human flow").clone();
///         assert_eq!(info.client_id.as_deref(), Some("cli-client-id"));
/// #       let idp = idp.clone();
/// #       let login = move || idp.token().subject("alice").audience("api://cli").claim("groups", serde_json::json!(["g"])).sign();
///         async move { Ok(TokenResponse::new(login()).with_refresh_token("refresh")) }
///     }))
///     .build();
/// let client = options.client(&uri).await?;
/// client.database("test").collection::<mongodb::bson::Document>("c").find_one(mongodb::bson::doc! {}).await?;
/// # Ok(()) }
/// ```
pub struct HumanFn<F>(pub F);

#[async_trait]
impl<F, Fut> OidcHumanCallback for HumanFn<F>
where
    F: Fn(CallbackContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<TokenResponse, Error>> + Send,
{
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        (self.0)(context.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(TokenResponse::new("t").lifetime(), Ok(None));
        assert_eq!(
            TokenResponse::new("t").expires_in_secs(-5).lifetime(),
            Err(-5)
        );
        let past = SystemTime::now() - Duration::from_secs(30);
        assert!(TokenResponse::new("t").expires_at(past).lifetime().is_err());
        let soon = TokenResponse::new("t")
            .expires_in(Duration::from_secs(60))
            .lifetime()
            .unwrap();
        assert_eq!(soon, Some(Duration::from_secs(60)));
    }

    #[test]
    fn debug_hides_tokens() {
        let t = TokenResponse::new("canary-a").with_refresh_token("canary-r");
        let ctx =
            CallbackContext::new(Instant::now()).with_human(None, Some(Secret::new("canary-c")));
        let shown = format!("{t:?} {ctx:?}");
        assert!(!shown.contains("canary"), "{shown}");
    }
}
