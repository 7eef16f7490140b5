//! The retry layer: wraps any token source and tries again, with exponential backoff and
//! jitter, when a failure is transient ([`Error::is_transient`]) — never past the callback's
//! deadline, never for rejections (400/401/403) or configuration errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::ErrorKind;
use crate::{CallbackContext, Error, OidcCallback, TokenResponse, redact};

/// Attempts in all by default: enough to ride out a throttle and a server error or two
/// (Microsoft's IMDS guidance), few enough that a broken endpoint fails fast.
const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// First backoff. IMDS guidance suggests starting around a second; a quarter of that keeps
/// three retries inside the default 10 s connectTimeoutMS while still spreading bursts.
const DEFAULT_INITIAL_DELAY: Duration = Duration::from_millis(250);
/// Longest single backoff.
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(4);
/// Jitter: each delay is scaled by a random factor in [1 - JITTER, 1 + JITTER], so that many
/// processes failing together do not retry together.
const JITTER: f64 = 0.25;

/// How a token fetch is retried.
///
/// ```
/// use std::time::Duration;
/// use mongodb_oidc::RetryPolicy;
///
/// let patient = RetryPolicy::default().max_attempts(6).initial_delay(Duration::from_millis(500));
/// let never = RetryPolicy::none();
/// # let _ = (patient, never);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_delay: DEFAULT_INITIAL_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Attempts in all (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first backoff; each next one doubles, up to [`RetryPolicy::max_delay`].
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest single backoff.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The backoff after `attempt` failed attempts, before jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

/// A token source with retries.
pub(crate) struct Retrying {
    inner: Arc<dyn OidcCallback>,
    policy: RetryPolicy,
}

impl Retrying {
    pub(crate) fn wrap(inner: Arc<dyn OidcCallback>, policy: RetryPolicy) -> Arc<dyn OidcCallback> {
        if policy.max_attempts <= 1 {
            return inner;
        }
        Arc::new(Self { inner, policy })
    }
}

#[async_trait]
impl OidcCallback for Retrying {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        let mut attempt = 1;
        loop {
            let error = match self.inner.fetch(context).await {
                Ok(token) => return Ok(token),
                Err(error) => error,
            };
            let give_up = |why| {
                Error::new(ErrorKind::Retried {
                    last: error.clone(),
                    attempts: attempt,
                    why,
                })
            };
            if !error.is_transient() {
                return Err(if attempt == 1 {
                    error
                } else {
                    give_up("the last error is not transient")
                });
            }
            if attempt >= self.policy.max_attempts {
                return Err(give_up("no attempts left"));
            }
            let delay =
                jittered(self.policy.backoff(attempt)).max(error.retry_after().unwrap_or_default());
            if Instant::now() + delay >= context.deadline() {
                return Err(give_up("the next attempt would start after the deadline"));
            }
            tracing::info!(
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %redact::for_log(&error.to_string()),
                "token fetch failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// `delay` scaled by a random factor around 1. The randomness only spreads retries, so a
/// small xorshift generator seeded from the clock is enough.
fn jittered(delay: Duration) -> Duration {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = STATE.load(Ordering::Relaxed);
    let mut x = if seed == 0 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64)
            | 1
    } else {
        seed
    };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
    delay.mul_f64(1.0 - JITTER + 2.0 * JITTER * unit)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::error::Endpoint;

    /// Answers from a script, one entry per call, and records when each call happened.
    struct Scripted {
        script: Mutex<VecDeque<Result<TokenResponse, Error>>>,
        calls: Mutex<Vec<Instant>>,
    }

    impl Scripted {
        fn new(script: Vec<Result<TokenResponse, Error>>) -> Arc<Self> {
            Arc::new(Self {
                script: Mutex::new(script.into()),
                calls: Mutex::default(),
            })
        }
    }

    #[async_trait]
    impl OidcCallback for Scripted {
        async fn fetch(&self, _: &CallbackContext) -> Result<TokenResponse, Error> {
            self.calls.lock().unwrap().push(Instant::now());
            self.script
                .lock()
                .unwrap()
                .pop_front()
                .expect("script long enough")
        }
    }

    fn status(code: u16, retry_after: Option<u64>) -> Error {
        Error::new(ErrorKind::Status {
            endpoint: Endpoint::AzureImds,
            status: code,
            body: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    fn ctx(secs: u64) -> CallbackContext {
        CallbackContext::new(Instant::now() + Duration::from_secs(secs))
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_with_growing_delays() {
        let source = Scripted::new(vec![
            Err(status(429, None)),
            Err(status(500, None)),
            Ok(TokenResponse::new("t")),
        ]);
        let retrying = Retrying::wrap(source.clone(), RetryPolicy::default());
        assert!(retrying.fetch(&ctx(10)).await.is_ok());
        let calls = source.calls.lock().unwrap().clone();
        let (first, second) = (calls[1] - calls[0], calls[2] - calls[1]);
        assert!(
            first >= Duration::from_millis(187) && first <= Duration::from_millis(313),
            "{first:?}"
        );
        assert!(
            second >= Duration::from_millis(375) && second <= Duration::from_millis(625),
            "{second:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_rejections() {
        let source = Scripted::new(vec![Err(status(400, None))]);
        let err = Retrying::wrap(source.clone(), RetryPolicy::default())
            .fetch(&ctx(10))
            .await
            .unwrap_err();
        assert_eq!((err.status(), err.attempts()), (Some(400), 1));
        assert_eq!(source.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_and_the_deadline() {
        let source = Scripted::new(vec![Err(status(429, Some(3))), Ok(TokenResponse::new("t"))]);
        let retrying = Retrying::wrap(source.clone(), RetryPolicy::default());
        assert!(retrying.fetch(&ctx(10)).await.is_ok());
        let calls = source.calls.lock().unwrap().clone();
        assert!(calls[1] - calls[0] >= Duration::from_secs(3));

        let source = Scripted::new(vec![Err(status(503, Some(30)))]);
        let started = Instant::now();
        let err = Retrying::wrap(source, RetryPolicy::default())
            .fetch(&ctx(10))
            .await
            .unwrap_err();
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "gave up at once instead of sleeping past the deadline"
        );
        assert!(
            err.to_string().contains("after the deadline") && err.is_transient(),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stops_after_max_attempts() {
        let source = Scripted::new((0..4).map(|_| Err(status(500, None))).collect());
        let err = Retrying::wrap(source.clone(), RetryPolicy::default())
            .fetch(&ctx(60))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 4);
        assert!(
            err.to_string()
                .contains("gave up after 4 attempts: no attempts left"),
            "{err}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(
            [p.backoff(1), p.backoff(2), p.backoff(3)],
            [
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_secs(1)
            ]
        );
        assert_eq!(p.backoff(30), DEFAULT_MAX_DELAY);
        for _ in 0..1000 {
            let d = jittered(Duration::from_millis(1000));
            assert!(
                d >= Duration::from_millis(750) && d <= Duration::from_millis(1250),
                "{d:?}"
            );
        }
    }
}
