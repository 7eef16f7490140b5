//! An OIDC-enabled MongoDB server speaking the wire protocol over real TCP: handshake with
//! speculative authentication, one- and two-step MONGODB-OIDC, per-connection session expiry
//! (391), `failCommand` fail points, enough commands for real client code, and counters.

mod auth;
mod commands;
mod connection;
mod failpoint;
mod jwt;
mod stats;
mod store;
pub(crate) mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use mongodb::bson::Document;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::clock::Clock;
pub use failpoint::{FailPoint, FailPointMode};
pub use stats::StatsSnapshot;

/// One entry of the server's `oidcIdentityProviders` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProviderConfig {
    /// `issuer`: must equal the tokens' `iss`; discovery is fetched from here.
    pub issuer: String,
    /// `audience`: must equal the tokens' (single) `aud`.
    pub audience: String,
    /// `authNamePrefix`: users are `<prefix>/<principal>`, roles `<prefix>/<group>`.
    pub auth_name_prefix: String,
    /// `matchPattern`: a regular expression on the user name sent in the two-step flow.
    pub match_pattern: Option<String>,
    /// `clientId`: sent to human-flow clients in IdpInfo.
    pub client_id: Option<String>,
    /// `requestScopes`: sent to human-flow clients in IdpInfo.
    pub request_scopes: Vec<String>,
    /// `supportsHumanFlows`.
    pub supports_human_flows: bool,
    /// `principalName`: the claim that names the user (default `sub`).
    pub principal_name: String,
    /// `authorizationClaim`: the claim that lists the groups (default `groups`).
    pub authorization_claim: String,
    /// `useAuthorizationClaim`: when false, roles come from user documents, not the token.
    pub use_authorization_claim: bool,
}

impl IdentityProviderConfig {
    /// A workload (machine) provider, the shape Atlas uses for Workload Identity Federation.
    pub fn machine(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            auth_name_prefix: "test".into(),
            match_pattern: None,
            client_id: None,
            request_scopes: Vec::new(),
            supports_human_flows: false,
            principal_name: "sub".into(),
            authorization_claim: "groups".into(),
            use_authorization_claim: true,
        }
    }

    /// A human (workforce) provider with the client id that IdpInfo announces.
    pub fn human(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            client_id: Some(client_id.into()),
            supports_human_flows: true,
            request_scopes: vec!["openid".into()],
            ..Self::machine(issuer, audience)
        }
    }

    /// Sets `authNamePrefix`.
    pub fn auth_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.auth_name_prefix = prefix.into();
        self
    }

    /// Sets `matchPattern`.
    pub fn match_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.match_pattern = Some(pattern.into());
        self
    }

    /// Sets `principalName`.
    pub fn principal_name(mut self, claim: impl Into<String>) -> Self {
        self.principal_name = claim.into();
        self
    }

    /// Sets `useAuthorizationClaim`.
    pub fn use_authorization_claim(mut self, yes: bool) -> Self {
        self.use_authorization_claim = yes;
        self
    }

    /// The entry as the real server's `oidcIdentityProviders` JSON expects it.
    pub fn to_server_json(&self) -> serde_json::Value {
        let mut v = json!({
            "issuer": self.issuer,
            "audience": self.audience,
            "authNamePrefix": self.auth_name_prefix,
            "supportsHumanFlows": self.supports_human_flows,
            "principalName": self.principal_name,
            "useAuthorizationClaim": self.use_authorization_claim,
        });
        if self.use_authorization_claim {
            v["authorizationClaim"] = json!(self.authorization_claim);
        }
        if let Some(p) = &self.match_pattern {
            v["matchPattern"] = json!(p);
        }
        if let Some(c) = &self.client_id {
            v["clientId"] = json!(c);
            v["requestScopes"] = json!(self.request_scopes);
        }
        v
    }
}

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The identity providers, in order (order matters for `matchPattern`).
    pub providers: Vec<IdentityProviderConfig>,
    /// `maxWireVersion`: 21 is MongoDB 7.0, 25 is 8.0.
    pub max_wire_version: i32,
    /// Whether MONGODB-OIDC is in `authenticationMechanisms` (otherwise saslStart gets 334).
    pub oidc_enabled: bool,
    /// The loopback port (0 picks a free one).
    pub port: u16,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            max_wire_version: 21,
            oidc_enabled: true,
            port: 0,
        }
    }
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) clock: Clock,
    pub(crate) stats: stats::Stats,
    pub(crate) fail_point: Mutex<Option<FailPoint>>,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) jwks: jwt::Jwks,
    next_connection_id: AtomicI64,
}

/// A running server; it stops when dropped.
pub struct MongoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MongoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MongoServer {
    /// Starts the server on loopback.
    pub async fn start(config: ServerConfig, clock: Clock) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            clock,
            stats: stats::Stats::default(),
            fail_point: Mutex::new(None),
            store: Mutex::new(store::Store::default()),
            jwks: jwt::Jwks::new(),
            next_connection_id: AtomicI64::new(1),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let id = accepting.next_connection_id.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(connection::serve(stream, accepting.clone(), id));
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mongodb://127.0.0.1:<port>/`.
    pub fn uri(&self) -> String {
        format!("mongodb://{}/", self.addr)
    }

    /// The identity providers the server trusts.
    pub fn providers(&self) -> &[IdentityProviderConfig] {
        &self.shared.config.providers
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Sets every counter back to zero.
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Sets (or, with `None`, clears) the `failCommand` fail point without a client.
    pub fn set_fail_point(&self, fail_point: Option<FailPoint>) {
        *self.shared.fail_point.lock().unwrap() = fail_point;
    }

    /// Adds documents to `db.collection` without a client.
    pub fn insert(&self, db: &str, collection: &str, docs: Vec<Document>) {
        self.shared
            .store
            .lock()
            .unwrap()
            .insert_many(db, collection, docs);
    }
}
