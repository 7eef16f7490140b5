//! The kit's clock: wall time plus an offset that tests can advance, so that token expiry is
//! tested without sleeping. The server, the identity provider and the emulators share one clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A clock shared by every part of one test kit.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// A clock that starts at wall time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward: tokens minted before now expire as if this time had passed.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The kit's current time.
    pub fn now(&self) -> SystemTime {
        let offset = self.offset_ms.load(Ordering::SeqCst);
        let wall = SystemTime::now();
        match u64::try_from(offset) {
            Ok(ms) => wall + Duration::from_millis(ms),
            Err(_) => wall - Duration::from_millis(offset.unsigned_abs()),
        }
    }

    /// The kit's current time in seconds since the Unix epoch, rounded up: an expiry computed
    /// from it is never earlier than the lifetime promised (`expires_in`).
    pub fn unix_seconds_ceil(&self) -> i64 {
        let since = self.now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let whole = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        if since.subsec_nanos() > 0 {
            whole.saturating_add(1)
        } else {
            whole
        }
    }

    /// The kit's current time in whole seconds since the Unix epoch (JWT `NumericDate`).
    pub fn unix_seconds(&self) -> i64 {
        let since = self.now().duration_since(UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_copy() {
        let clock = Clock::new();
        let copy = clock.clone();
        let before = copy.unix_seconds();
        clock.advance(Duration::from_secs(3600));
        assert!(copy.unix_seconds() >= before + 3600);
    }
}
