//! Counters for token requests and fetches, shared by every client built from one
//! `OidcOptions`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::{CallbackContext, Error, OidcCallback, TokenResponse};

/// How the token source behind a set of clients has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchStats {
    /// Times the driver asked for a token.
    pub requests: u64,
    /// Times the token source (the provider or callback) was called, retries and background
    /// refreshes included. With the shared cache this is often fewer than `requests`; when
    /// several `OidcOptions` share a token source, its fetches count for the first one.
    pub fetches: u64,
    /// Requests that failed.
    pub failures: u64,
    /// How long the driver waited for the last request.
    pub last_duration: Option<Duration>,
    /// How long the driver waited in all.
    pub total_duration: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCell(Mutex<FetchStats>);

impl StatsCell {
    pub(crate) fn record_request(&self, took: Duration, ok: bool) {
        let mut stats = self.0.lock().unwrap();
        stats.requests += 1;
        stats.failures += u64::from(!ok);
        stats.last_duration = Some(took);
        stats.total_duration += took;
    }

    fn record_fetch(&self) {
        self.0.lock().unwrap().fetches += 1;
    }

    pub(crate) fn snapshot(&self) -> FetchStats {
        self.0.lock().unwrap().clone()
    }
}

/// Counts calls into a token source.
pub(crate) struct Counted {
    inner: Arc<dyn OidcCallback>,
    stats: Arc<StatsCell>,
}

impl Counted {
    pub(crate) fn wrap(
        inner: Arc<dyn OidcCallback>,
        stats: Arc<StatsCell>,
    ) -> Arc<dyn OidcCallback> {
        Arc::new(Self { inner, stats })
    }
}

#[async_trait]
impl OidcCallback for Counted {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        self.stats.record_fetch();
        let started = Instant::now();
        let result = self.inner.fetch(context).await;
        tracing::trace!(
            took_ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "token source called"
        );
        result
    }
}
