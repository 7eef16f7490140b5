//! Counters for token fetches, shared by every client built from one `OidcOptions`.

use std::sync::Mutex;
use std::time::Duration;

/// How the token provider behind a set of clients has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchStats {
    /// Calls into the provider or callback (each time the driver asked for a token).
    pub fetches: u64,
    /// Calls that failed.
    pub failures: u64,
    /// How long the last call took.
    pub last_duration: Option<Duration>,
    /// Time spent in all calls.
    pub total_duration: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCell(Mutex<FetchStats>);

impl StatsCell {
    pub(crate) fn record(&self, took: Duration, ok: bool) {
        let mut stats = self.0.lock().unwrap();
        stats.fetches += 1;
        stats.failures += u64::from(!ok);
        stats.last_duration = Some(took);
        stats.total_duration += took;
    }

    pub(crate) fn snapshot(&self) -> FetchStats {
        self.0.lock().unwrap().clone()
    }
}
