//! The identity provider: signs RS256 JWTs with a `kid` and publishes its discovery document
//! and JWKS over HTTP, so the server validates tokens the way a real one does.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::crypto::{SigningKey, b64url, process_keys};
use crate::http::{Handler, HttpRequest, HttpResponse, HttpServer};

/// The path of the JWKS document, named by the discovery document.
const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The discovery document's path, as OpenID Connect Discovery defines it.
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Default token lifetime: an hour, like Azure and Google identity tokens.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A token issuer with its own HTTP endpoint (`issuer` = its base URL).
#[derive(Debug)]
pub struct Issuer {
    http: HttpServer,
    minter: Minter,
}

/// Signs tokens for one issuer; cheap to clone, so emulators can hold one.
#[derive(Debug, Clone)]
pub struct Minter {
    iss: String,
    key: Arc<SigningKey>,
    rogue: Arc<SigningKey>,
    clock: Clock,
}

impl Minter {
    /// Starts building a token.
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder {
            minter: self.clone(),
            iss: Some(self.iss.clone()),
            claims: Map::new(),
            lifetime: Some(DEFAULT_TOKEN_LIFETIME),
            nbf_offset: None,
            kid: Some(self.key.kid().to_owned()),
            alg: "RS256".to_owned(),
            rogue_key: false,
            omit: Vec::new(),
        }
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// The kit's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

struct Discovery {
    key: Arc<SigningKey>,
    issuer: std::sync::OnceLock<String>,
}

impl Handler for Discovery {
    fn handle(&self, request: &HttpRequest) -> HttpResponse {
        let issuer = self.issuer.get().cloned().unwrap_or_default();
        match request.path.as_str() {
            DISCOVERY_PATH => HttpResponse::json(
                200,
                json!({
                    "issuer": issuer,
                    "jwks_uri": format!("{issuer}{JWKS_PATH}"),
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                    "response_types_supported": ["code", "id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }),
            ),
            JWKS_PATH => HttpResponse::json(200, json!({ "keys": [self.key.jwk()] })),
            _ => HttpResponse::text(404, "not found"),
        }
    }
}

impl Issuer {
    /// Starts an issuer on a free loopback port.
    pub async fn start(clock: Clock) -> std::io::Result<Self> {
        Self::start_on(0, clock).await
    }

    /// Starts an issuer on the given loopback port (0 picks a free one).
    pub async fn start_on(port: u16, clock: Clock) -> std::io::Result<Self> {
        let [key, rogue] = process_keys().clone();
        let discovery = Arc::new(Discovery {
            key: key.clone(),
            issuer: Default::default(),
        });
        let http = HttpServer::start(port, discovery.clone()).await?;
        discovery.issuer.set(http.base_url()).expect("set once");
        let minter = Minter {
            iss: http.base_url(),
            key,
            rogue,
            clock,
        };
        Ok(Self { http, minter })
    }

    /// The issuer URL (`iss`), which is also where discovery is served.
    pub fn url(&self) -> String {
        self.http.base_url()
    }

    /// The signing key's id.
    pub fn kid(&self) -> &str {
        self.minter.key.kid()
    }

    /// A signer for this issuer's tokens.
    pub fn minter(&self) -> &Minter {
        &self.minter
    }

    /// The HTTP endpoint (faults, request log).
    pub fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Starts building a token issued by this issuer.
    pub fn token(&self) -> TokenBuilder {
        self.minter.token()
    }
}

/// Builds a signed JWT with chosen claims, including deliberately broken ones.
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    minter: Minter,
    iss: Option<String>,
    claims: Map<String, Value>,
    lifetime: Option<Duration>,
    nbf_offset: Option<i64>,
    kid: Option<String>,
    alg: String,
    rogue_key: bool,
    omit: Vec<&'static str>,
}

impl TokenBuilder {
    /// `sub`.
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.claims.insert("sub".into(), Value::String(sub.into()));
        self
    }

    /// `aud` as a string.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.claims.insert("aud".into(), Value::String(aud.into()));
        self
    }

    /// `aud` as an array (servers accept only a one-element array).
    pub fn audiences(mut self, auds: &[&str]) -> Self {
        self.claims.insert("aud".into(), json!(auds));
        self
    }

    /// `exp` = now + `lifetime` on the kit's clock.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// `exp` a minute in the past.
    pub fn expired(mut self) -> Self {
        self.lifetime = None;
        self.claims
            .insert("exp".into(), json!(self.minter.clock.unix_seconds() - 60));
        self
    }

    /// `nbf` = now + `seconds` (negative for the past).
    pub fn not_before_in(mut self, seconds: i64) -> Self {
        self.nbf_offset = Some(seconds);
        self
    }

    /// Any other claim (for example an authorization-claim array).
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.claims.insert(name.into(), value);
        self
    }

    /// Leaves a standard claim out (`sub`, `exp`, `aud`, `iss`).
    pub fn without(mut self, claim: &'static str) -> Self {
        self.omit.push(claim);
        self
    }

    /// A different `iss` than this issuer's URL.
    pub fn wrong_issuer(mut self) -> Self {
        self.iss = Some("https://issuer.invalid".into());
        self
    }

    /// Signs with a key that is not published, under the published `kid`.
    pub fn bad_signature(mut self) -> Self {
        self.rogue_key = true;
        self
    }

    /// Leaves `kid` out of the header.
    pub fn without_kid(mut self) -> Self {
        self.kid = None;
        self
    }

    /// Puts another `alg` in the header (the signature stays RS256, so it will not verify).
    pub fn algorithm(mut self, alg: impl Into<String>) -> Self {
        self.alg = alg.into();
        self
    }

    /// The claims the token will carry.
    pub fn claims(&self) -> Map<String, Value> {
        let now = self.minter.clock.unix_seconds();
        let mut claims = self.claims.clone();
        if let Some(iss) = &self.iss {
            claims
                .entry("iss")
                .or_insert_with(|| Value::String(iss.clone()));
        }
        claims.entry("iat").or_insert_with(|| json!(now));
        if let Some(lifetime) = self.lifetime {
            let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
            let from = self.minter.clock.unix_seconds_ceil();
            claims.entry("exp").or_insert_with(|| json!(from + secs));
        }
        if let Some(offset) = self.nbf_offset {
            claims.insert("nbf".into(), json!(now + offset));
        }
        for name in &self.omit {
            claims.remove(*name);
        }
        claims
    }

    /// Signs and returns the compact JWT.
    pub fn sign(self) -> String {
        let mut header = json!({ "alg": self.alg, "typ": "JWT" });
        if let Some(kid) = &self.kid {
            header["kid"] = Value::String(kid.clone());
        }
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(Value::Object(self.claims()).to_string().as_bytes())
        );
        let key = if self.rogue_key {
            &self.minter.rogue
        } else {
            &self.minter.key
        };
        let signature = if self.alg == "none" {
            Vec::new()
        } else {
            key.sign_rs256(input.as_bytes())
        };
        format!("{input}.{}", b64url(&signature))
    }
}
