//! Counters for tests: commands by name, authentication outcomes, and who authenticated.

use std::collections::HashMap;
use std::sync::Mutex;

/// A copy of the server's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Commands received, by name (the handshake counts as `hello` or `isMaster`).
    pub commands: HashMap<String, u64>,
    /// Handshakes whose speculative MONGODB-OIDC authentication succeeded.
    pub speculative_succeeded: u64,
    /// Handshakes that carried speculative authentication that failed.
    pub speculative_failed: u64,
    /// One-step `saslStart` commands (with a JWT).
    pub sasl_start_jwt: u64,
    /// Two-step `saslStart` commands (principal name only, answered with IdpInfo).
    pub sasl_start_principal: u64,
    /// `saslContinue` commands.
    pub sasl_continue: u64,
    /// Successful authentications, speculative or not.
    pub authentications: u64,
    /// Failed authentications (each answered with code 18, or silently for speculative).
    pub auth_failures: u64,
    /// Replies with code 391 ReauthenticationRequired (expiry or fail point).
    pub reauthentication_required: u64,
    /// Replies with code 13 Unauthorized.
    pub unauthorized: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Users (`<prefix>/<principal>`) in order of successful authentication.
    pub principals: Vec<String>,
    /// Why each failed authentication failed (never contains a token).
    pub failure_reasons: Vec<String>,
}

impl StatsSnapshot {
    /// How many times a command was received.
    pub fn command(&self, name: &str) -> u64 {
        self.commands.get(name).copied().unwrap_or(0)
    }
}

#[derive(Default)]
pub(crate) struct Stats(Mutex<StatsSnapshot>);

impl Stats {
    pub(crate) fn update(&self, f: impl FnOnce(&mut StatsSnapshot)) {
        f(&mut self.0.lock().unwrap());
    }

    pub(crate) fn command(&self, name: &str) {
        self.update(|s| *s.commands.entry(name.to_owned()).or_default() += 1);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        self.0.lock().unwrap().clone()
    }

    pub(crate) fn reset(&self) {
        *self.0.lock().unwrap() = StatsSnapshot::default();
    }
}
