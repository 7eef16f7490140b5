//! The shared token cache: one token per provider identity for the whole process, fetched by
//! one caller at a time (single flight), refreshed in the background before it expires.
//!
//! Correctness rule: the driver asks again only when it dropped its cached token (after a
//! rejection or a 391), so the token a client was last given is treated as rejected and is
//! never handed back to that client; it gets a newer one, fetched if need be.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::ErrorKind;
use crate::{CallbackContext, Error, OidcCallback, TokenResponse};

/// Refresh at most this long before expiry (the usual lifetime is an hour).
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// For short-lived tokens, refresh this share of the lifetime before expiry instead.
const REFRESH_FRACTION: f64 = 0.1;
/// Deadline of a background refresh: nobody waits for it, and the spec's default callback
/// timeout is a minute.
const BACKGROUND_DEADLINE: Duration = Duration::from_secs(60);

fn refresh_margin(lifetime: Duration) -> Duration {
    lifetime.mul_f64(REFRESH_FRACTION).min(MAX_REFRESH_MARGIN)
}

#[derive(Clone)]
struct Entry {
    generation: u64,
    token: TokenResponse,
    expires_at: Option<Instant>,
    refresh_at: Option<Instant>,
}

impl Entry {
    fn usable(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

#[derive(Default)]
struct State {
    latest: Option<Entry>,
    generations: u64,
    fetches_started: u64,
    running: Option<u64>,
    /// The last failed fetch, for the callers that waited for it.
    failed: Option<(u64, Error)>,
}

/// The token of one provider identity, shared by every client that uses it.
pub(crate) struct TokenCache {
    source: Arc<dyn OidcCallback>,
    name: &'static str,
    username: Option<String>,
    state: Mutex<State>,
    changed: Notify,
}

/// Caches alive in this process, by provider identity.
fn registry() -> &'static Mutex<HashMap<String, Weak<TokenCache>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<TokenCache>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

impl TokenCache {
    /// The cache for `key`, created with `source` if no client in the process uses one yet.
    pub(crate) fn shared(
        key: String,
        name: &'static str,
        username: Option<String>,
        source: impl FnOnce() -> Arc<dyn OidcCallback>,
    ) -> Arc<Self> {
        let mut caches = registry().lock().unwrap();
        caches.retain(|_, cache| cache.strong_count() > 0);
        if let Some(cache) = caches.get(&key).and_then(Weak::upgrade) {
            return cache;
        }
        let cache = Arc::new(Self {
            source: source(),
            name,
            username,
            state: Mutex::default(),
            changed: Notify::new(),
        });
        caches.insert(key, Arc::downgrade(&cache));
        cache
    }

    /// A usable token other than generation `not`, fetching one if needed, before `deadline`.
    async fn newer_than(
        self: &Arc<Self>,
        not: Option<u64>,
        context: &CallbackContext,
    ) -> Result<Entry, Error> {
        let mut waiting_for = None;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state.lock().unwrap();
                let now = Instant::now();
                if let Some(entry) = state
                    .latest
                    .clone()
                    .filter(|e| Some(e.generation) != not && e.usable(now))
                {
                    if entry.refresh_at.is_some_and(|at| now >= at) && state.running.is_none() {
                        self.start_fetch(&mut state, self.background_context());
                    }
                    return Ok(entry);
                }
                if let Some((id, error)) = &state.failed
                    && Some(*id) == waiting_for
                {
                    return Err(error.clone());
                }
                waiting_for = Some(match state.running {
                    Some(id) => id,
                    None => self.start_fetch(&mut state, context.clone()),
                });
            }
            if tokio::time::timeout_at(context.deadline(), notified)
                .await
                .is_err()
            {
                return Err(Error::new(ErrorKind::Deadline {
                    what: format!(
                        "the {} token source (a shared fetch in progress)",
                        self.name
                    ),
                    after: Duration::ZERO,
                }));
            }
        }
    }

    fn background_context(&self) -> CallbackContext {
        CallbackContext::new(Instant::now() + BACKGROUND_DEADLINE)
            .with_username(self.username.clone())
    }

    /// Starts a fetch in its own task, so that it completes (and fills the cache) even if the
    /// caller that started it gives up.
    fn start_fetch(self: &Arc<Self>, state: &mut State, context: CallbackContext) -> u64 {
        state.fetches_started += 1;
        let id = state.fetches_started;
        state.running = Some(id);
        let cache = self.clone();
        tokio::spawn(async move {
            let result = cache
                .source
                .fetch(&context)
                .await
                .and_then(|t| cache.checked(t));
            let refresh_at = {
                let mut state = cache.state.lock().unwrap();
                state.running = None;
                match result {
                    Ok(entry) => {
                        state.generations += 1;
                        let entry = Entry {
                            generation: state.generations,
                            ..entry
                        };
                        let refresh = entry.refresh_at.map(|at| (at, entry.generation));
                        state.latest = Some(entry);
                        refresh
                    }
                    Err(error) => {
                        tracing::debug!(source = cache.name, error = %crate::redact::for_log(&error.to_string()), "shared token fetch failed");
                        state.failed = Some((id, error));
                        None
                    }
                }
            };
            cache.changed.notify_waiters();
            if let Some((at, generation)) = refresh_at {
                cache.schedule_refresh(at, generation);
            }
        });
        id
    }

    /// Refreshes in the background at `at`, unless a newer token arrived by then.
    fn schedule_refresh(self: &Arc<Self>, at: Instant, generation: u64) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let Some(cache) = weak.upgrade() else { return };
            let mut state = cache.state.lock().unwrap();
            let current = state.latest.as_ref().map(|e| e.generation) == Some(generation);
            if current && state.running.is_none() {
                tracing::debug!(
                    source = cache.name,
                    "refreshing the token before it expires"
                );
                cache.start_fetch(&mut state, cache.background_context());
            }
        });
    }

    /// Rejects what must not be cached or handed out, and computes expiry and refresh times.
    fn checked(&self, token: TokenResponse) -> Result<Entry, Error> {
        let lifetime = token.checked_lifetime(self.name)?;
        let now = Instant::now();
        Ok(Entry {
            generation: 0,
            expires_at: lifetime.map(|l| now + l),
            refresh_at: lifetime.map(|l| now + l - refresh_margin(l)),
            token,
        })
    }
}

/// One client's view of a shared cache: remembers what it was last given.
pub(crate) struct ClientCache {
    shared: Arc<TokenCache>,
    last_given: Mutex<Option<u64>>,
}

impl ClientCache {
    pub(crate) fn new(shared: Arc<TokenCache>) -> Self {
        Self {
            shared,
            last_given: Mutex::new(None),
        }
    }
}

#[async_trait]
impl OidcCallback for ClientCache {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        let not = *self.last_given.lock().unwrap();
        let entry = self.shared.newer_than(not, context).await?;
        *self.last_given.lock().unwrap() = Some(entry.generation);
        let mut token = entry.token;
        if let Some(expires_at) = entry.expires_at {
            token = token.expires_in(expires_at.saturating_duration_since(Instant::now()));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Numbered tokens, with a latency and a lifetime, counting calls.
    struct Counter {
        calls: AtomicUsize,
        latency: Duration,
        lifetime: Option<Duration>,
        fail: bool,
    }

    #[async_trait]
    impl OidcCallback for Counter {
        async fn fetch(&self, _: &CallbackContext) -> Result<TokenResponse, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.latency).await;
            if self.fail {
                return Err(Error::transient("idp down"));
            }
            let token = TokenResponse::new(format!("token-{n}"));
            Ok(match self.lifetime {
                Some(l) => token.expires_in(l),
                None => token,
            })
        }
    }

    fn cache(
        key: &str,
        latency_ms: u64,
        lifetime: Option<u64>,
        fail: bool,
    ) -> (Arc<TokenCache>, Arc<Counter>) {
        let counter = Arc::new(Counter {
            calls: AtomicUsize::new(0),
            latency: Duration::from_millis(latency_ms),
            lifetime: lifetime.map(Duration::from_secs),
            fail,
        });
        let source = counter.clone();
        (
            TokenCache::shared(key.into(), "test", None, move || source),
            counter,
        )
    }

    fn ctx() -> CallbackContext {
        CallbackContext::new(Instant::now() + Duration::from_secs(10))
    }

    async fn get(client: &ClientCache) -> String {
        client
            .fetch(&ctx())
            .await
            .unwrap()
            .access_token()
            .secret()
            .to_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn one_fetch_for_many_clients_at_once() {
        let (shared, counter) = cache("single-flight", 200, Some(3600), false);
        let clients: Vec<Arc<ClientCache>> = (0..10)
            .map(|_| Arc::new(ClientCache::new(shared.clone())))
            .collect();
        let tasks: Vec<_> = clients
            .iter()
            .cloned()
            .map(|c| tokio::spawn(async move { get(&c).await }))
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), "token-1");
        }
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_key_shares_across_independent_creations() {
        let (a, counter) = cache("shared-key", 0, None, false);
        let (b, _) = cache("shared-key", 0, None, false);
        assert!(Arc::ptr_eq(&a, &b));
        get(&ClientCache::new(a)).await;
        get(&ClientCache::new(b)).await;
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_never_gets_back_the_token_it_was_last_given() {
        let (shared, counter) = cache("rejected", 0, None, false);
        let (a, b) = (ClientCache::new(shared.clone()), ClientCache::new(shared));
        assert_eq!(get(&a).await, "token-1");
        assert_eq!(get(&b).await, "token-1");
        assert_eq!(
            get(&a).await,
            "token-2",
            "a asked again: token-1 counts as rejected for a"
        );
        assert_eq!(
            get(&b).await,
            "token-2",
            "b gets the newer token without a fetch"
        );
        assert_eq!(counter.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_ahead_of_expiry_so_the_next_call_is_instant() {
        let (shared, counter) = cache("ahead", 500, Some(100), false);
        let client = ClientCache::new(shared);
        assert_eq!(get(&client).await, "token-1");
        // Margin: 10 % of 100 s. At 91 s the background refresh has run (500 ms).
        tokio::time::sleep(Duration::from_secs(91)).await;
        assert_eq!(counter.calls.load(Ordering::SeqCst), 2);
        let started = Instant::now();
        assert_eq!(get(&client).await, "token-2");
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "served from the cache, no round trip"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_token_is_never_handed_out() {
        let (shared, counter) = cache("expired", 0, Some(100), true);
        let client = ClientCache::new(shared.clone());
        assert!(client.fetch(&ctx()).await.is_err(), "every fetch fails");
        let first = counter.calls.load(Ordering::SeqCst);
        // A token that expired while nobody refreshed it.
        shared.state.lock().unwrap().latest = Some(Entry {
            generation: 99,
            token: TokenResponse::new("old"),
            expires_at: Some(Instant::now()),
            refresh_at: None,
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        let err = ClientCache::new(shared).fetch(&ctx()).await.unwrap_err();
        assert!(err.is_transient());
        assert_eq!(
            counter.calls.load(Ordering::SeqCst),
            first + 1,
            "a fetch, not the expired token"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn every_waiter_gets_the_failure() {
        let (shared, counter) = cache("failure", 100, None, true);
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let client = ClientCache::new(shared.clone());
                tokio::spawn(async move { client.fetch(&ctx()).await.map(|_| ()) })
            })
            .collect();
        for task in tasks {
            assert!(
                task.await
                    .unwrap()
                    .unwrap_err()
                    .to_string()
                    .contains("idp down")
            );
        }
        assert_eq!(counter.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn margins() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(6)
        );
    }
}
