//! The bridge to the driver: a provider becomes `mongodb::options::oidc::Callback`, with the
//! deadline the spec asks for, a tracing span per fetch, statistics, and errors that travel
//! through the driver intact.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mongodb::options::oidc::{self, IdpServerResponse};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use crate::error::ErrorKind;
use crate::stats::StatsCell;
use crate::{
    CallbackContext, Error, IdpInfo, OidcCallback, OidcHumanCallback, Secret, TokenResponse, redact,
};

/// The driver's `connectTimeoutMS` default, which bounds machine token fetches.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The auth spec's machine callback timeout when the driver gives no deadline.
const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(60);

/// The time limits from the connection string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `connectTimeoutMS` (default 10 s; `None` for 0, which means no limit).
    pub(crate) connect_timeout: Option<Duration>,
    /// `timeoutMS`, when set and not 0.
    pub(crate) timeout: Option<Duration>,
}

impl Limits {
    pub(crate) fn from_connection_string(cs: &mongodb_connection_string::ConnectionString) -> Self {
        let connect_timeout = match cs.connect_timeout() {
            None => Some(DEFAULT_CONNECT_TIMEOUT),
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
        };
        Self {
            connect_timeout,
            timeout: cs.timeout().filter(|d| !d.is_zero()),
        }
    }

    /// Machine flow: min(driver deadline, connectTimeoutMS, timeoutMS). Human flow: the
    /// driver's deadline (five minutes, for an interactive login) and timeoutMS.
    fn deadline(&self, driver: Option<std::time::Instant>, human: bool) -> Instant {
        let now = Instant::now();
        let mut deadline = driver.map_or(now + DEFAULT_CALLBACK_TIMEOUT, Instant::from_std);
        let connect = if human { None } else { self.connect_timeout };
        for limit in [connect, self.timeout].into_iter().flatten() {
            deadline = deadline.min(now + limit);
        }
        deadline
    }
}

/// What every fetch shares.
pub(crate) struct Bridge {
    /// What tracing and errors call the token source ("azure", "callback", ...).
    pub(crate) name: &'static str,
    pub(crate) limits: Limits,
    pub(crate) username: Option<String>,
    pub(crate) stats: Arc<StatsCell>,
}

/// A machine callback for the driver.
pub(crate) fn machine(provider: Arc<dyn OidcCallback>, bridge: Bridge) -> oidc::Callback {
    let bridge = Arc::new(bridge);
    oidc::Callback::machine(move |ctx| {
        let (provider, bridge) = (provider.clone(), bridge.clone());
        Box::pin(async move {
            let context = bridge.context(&ctx, false);
            bridge
                .run(provider.fetch(&context), context.deadline())
                .await
        })
    })
}

/// A human callback for the driver.
pub(crate) fn human(provider: Arc<dyn OidcHumanCallback>, bridge: Bridge) -> oidc::Callback {
    let bridge = Arc::new(bridge);
    oidc::Callback::human(move |ctx| {
        let (provider, bridge) = (provider.clone(), bridge.clone());
        Box::pin(async move {
            let context = bridge.context(&ctx, true);
            bridge
                .run(provider.fetch(&context), context.deadline())
                .await
        })
    })
}

impl Bridge {
    fn context(&self, ctx: &oidc::CallbackContext, human: bool) -> CallbackContext {
        let idp_info = ctx.idp_info.as_ref().map(|info| IdpInfo {
            issuer: info.issuer.clone(),
            client_id: info.client_id.clone(),
            request_scopes: info.request_scopes.clone().unwrap_or_default(),
        });
        CallbackContext::new(self.limits.deadline(ctx.timeout, human))
            .with_username(self.username.clone())
            .with_human(idp_info, ctx.refresh_token.clone().map(Secret::new))
    }

    async fn run(
        &self,
        fetch: impl Future<Output = Result<TokenResponse, Error>>,
        deadline: Instant,
    ) -> mongodb::error::Result<IdpServerResponse> {
        let started = Instant::now();
        let span = tracing::info_span!(
            "mongodb_oidc.token_fetch",
            source = self.name,
            outcome = Empty,
            duration_ms = Empty,
            expires_in_s = Empty,
        );
        let fetched = match tokio::time::timeout_at(deadline, fetch)
            .instrument(span.clone())
            .await
        {
            Ok(result) => result,
            Err(_) => Err(Error::new(ErrorKind::Deadline {
                what: format!("the {} token source", self.name),
                after: started.elapsed(),
            })),
        };
        let result = fetched.and_then(|token| self.to_driver(token));
        let took = started.elapsed();
        self.stats.record_request(took, result.is_ok());
        span.record(
            "duration_ms",
            u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        );
        match result {
            Ok((response, lifetime)) => {
                span.record("outcome", "ok");
                if let Some(lifetime) = lifetime {
                    span.record("expires_in_s", lifetime.as_secs());
                }
                tracing::debug!(parent: &span, "token fetched");
                Ok(response)
            }
            Err(error) => {
                span.record("outcome", "error");
                let message = redact::for_log(&error.to_string());
                tracing::warn!(parent: &span, error = %message, transient = error.is_transient(), "token fetch failed");
                Err(error.into_driver())
            }
        }
    }

    fn to_driver(
        &self,
        token: TokenResponse,
    ) -> Result<(IdpServerResponse, Option<Duration>), Error> {
        let lifetime = token.checked_lifetime(self.name)?;
        let (access, refresh) = token.into_parts();
        let response = IdpServerResponse::builder()
            .access_token(access.into_secret())
            .expires(lifetime.map(|l| std::time::Instant::now() + l))
            .refresh_token(refresh.map(Secret::into_secret))
            .build();
        Ok((response, lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(connect: Option<u64>, timeout: Option<u64>) -> Limits {
        Limits {
            connect_timeout: connect.map(Duration::from_millis),
            timeout: timeout.map(Duration::from_millis),
        }
    }

    fn left(deadline: Instant) -> Duration {
        deadline.saturating_duration_since(Instant::now())
    }

    #[tokio::test(start_paused = true)]
    async fn machine_deadline_is_the_smallest_limit() {
        let driver = Some(std::time::Instant::now() + Duration::from_secs(60));
        let d = limits(Some(10_000), None).deadline(driver, false);
        assert_eq!(left(d), Duration::from_secs(10));
        let d = limits(Some(10_000), Some(2_000)).deadline(driver, false);
        assert_eq!(left(d), Duration::from_secs(2));
        let d = limits(None, None).deadline(None, false);
        assert_eq!(left(d), DEFAULT_CALLBACK_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn human_deadline_ignores_connect_timeout() {
        let d = limits(Some(10_000), None).deadline(None, true);
        assert_eq!(left(d), DEFAULT_CALLBACK_TIMEOUT);
        let d = limits(Some(10_000), Some(30_000)).deadline(None, true);
        assert_eq!(left(d), Duration::from_secs(30));
    }
}
