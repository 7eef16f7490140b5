//! JWT validation as MongoDB does it for MONGODB-OIDC: header `alg` and `kid`, signature from
//! the JWKS named by the issuer's discovery document, exact `iss`, a single `aud`, `sub`,
//! `exp` without skew and `nbf` with 60 seconds of skew. Failure reasons are for the kit's log
//! and stats (the client only ever sees "Authentication failed."); they never contain a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use super::IdentityProviderConfig;
use crate::crypto::{b64url_decode, verify};

/// How far in the future `nbf` may be, as the server allows.
const NBF_SKEW_SECS: i64 = 60;
/// Deadline for the server's discovery and JWKS requests.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// A token that passed validation.
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    /// `<authNamePrefix>/<principal>`.
    pub(crate) user: String,
    /// The principal claim's value.
    pub(crate) principal: String,
    /// `<authNamePrefix>/<group>` for each authorization-claim entry.
    pub(crate) roles: Vec<String>,
    /// `exp`, in Unix seconds.
    pub(crate) exp: i64,
}

/// The server's JWKS cache, filled from each issuer's discovery document.
pub(crate) struct Jwks {
    client: reqwest::Client,
    keys: Mutex<HashMap<String, Vec<Value>>>,
}

impl Jwks {
    pub(crate) fn new() -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(JWKS_TIMEOUT)
            .build()
            .expect("HTTP client");
        Self {
            client,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The key with `kid` for `issuer`; an unknown `kid` triggers one refresh.
    async fn key(&self, issuer: &str, kid: &str) -> Result<Value, String> {
        let find = |keys: &[Value]| keys.iter().find(|k| k["kid"] == kid).cloned();
        if let Some(key) = self.keys.lock().unwrap().get(issuer).and_then(|k| find(k)) {
            return Ok(key);
        }
        let fetched = self.fetch(issuer).await?;
        let key = find(&fetched);
        self.keys.lock().unwrap().insert(issuer.to_owned(), fetched);
        key.ok_or_else(|| format!("no key with kid '{kid}' in the JWKS of {issuer}"))
    }

    async fn fetch(&self, issuer: &str) -> Result<Vec<Value>, String> {
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let discovery = self.get_json(&discovery_url).await?;
        if discovery["issuer"] != issuer {
            return Err(format!(
                "discovery document of {issuer} names another issuer"
            ));
        }
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or("discovery has no jwks_uri")?;
        let jwks = self.get_json(jwks_uri).await?;
        jwks["keys"]
            .as_array()
            .cloned()
            .ok_or_else(|| "JWKS has no keys".to_owned())
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

struct Parts {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn split(token: &str) -> Result<Parts, String> {
    let pieces: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = pieces.as_slice() else {
        return Err("the token is not a compact JWS (three dot-separated parts)".into());
    };
    let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
        let bytes = b64url_decode(part).ok_or_else(|| format!("the {what} is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("the {what} is not a JSON object")),
        }
    };
    Ok(Parts {
        header: object(header, "header")?,
        claims: object(claims, "claims")?,
        signing_input: format!("{header}.{claims}"),
        signature: b64url_decode(signature).ok_or("the signature is not base64url")?,
    })
}

/// Picks the provider for a one-step token: same issuer, then same audience.
pub(crate) fn provider_for(
    token: &str,
    providers: &[IdentityProviderConfig],
) -> Result<usize, String> {
    let parts = split(token)?;
    let iss = parts
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or("the token has no 'iss'")?;
    let same_issuer: Vec<usize> = (0..providers.len())
        .filter(|i| providers[*i].issuer == iss)
        .collect();
    if same_issuer.is_empty() {
        return Err(format!(
            "no identity provider is configured for issuer '{iss}'"
        ));
    }
    let aud = parts.claims.get("aud");
    Ok(same_issuer
        .iter()
        .copied()
        .find(|i| audience_matches(aud, &providers[*i].audience))
        .unwrap_or(same_issuer[0]))
}

fn audience_matches(aud: Option<&Value>, expected: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == expected,
        Some(Value::Array(list)) => list.len() == 1 && list[0] == expected,
        _ => false,
    }
}

/// Validates `token` for `provider` at time `now` (Unix seconds).
pub(crate) async fn validate(
    token: &str,
    provider: &IdentityProviderConfig,
    jwks: &Jwks,
    now: i64,
) -> Result<Validated, String> {
    let parts = split(token)?;
    let header_str = |name: &str| parts.header.get(name).and_then(Value::as_str);
    let alg = header_str("alg").ok_or("the header has no 'alg'")?;
    let kid = header_str("kid").ok_or("the header has no 'kid'")?;
    if parts.header.get("typ").is_some_and(|t| t != "JWT") {
        return Err("the header's 'typ' is not 'JWT'".into());
    }
    let claim = |name: &str| parts.claims.get(name);
    if claim("iss").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
        return Err(format!("'iss' is not '{}'", provider.issuer));
    }
    let key = jwks.key(&provider.issuer, kid).await?;
    if !verify(alg, &key, parts.signing_input.as_bytes(), &parts.signature) {
        return Err(format!(
            "the signature does not verify with key '{kid}' and alg '{alg}'"
        ));
    }
    if let Some(Value::Array(list)) = claim("aud")
        && list.len() != 1
    {
        return Err("'aud' must be a single audience".into());
    }
    if !audience_matches(claim("aud"), &provider.audience) {
        return Err(format!("'aud' is not '{}'", provider.audience));
    }
    claim("sub")
        .and_then(Value::as_str)
        .ok_or("the token has no 'sub'")?;
    let exp = claim("exp")
        .and_then(Value::as_i64)
        .ok_or("the token has no numeric 'exp'")?;
    if now >= exp {
        return Err(format!("the token expired {} s ago", now - exp));
    }
    if let Some(nbf) = claim("nbf").and_then(Value::as_i64)
        && nbf > now + NBF_SKEW_SECS
    {
        return Err(format!(
            "the token is not valid for another {} s ('nbf')",
            nbf - now
        ));
    }
    identity(&parts.claims, provider, exp)
}

fn identity(
    claims: &Map<String, Value>,
    provider: &IdentityProviderConfig,
    exp: i64,
) -> Result<Validated, String> {
    let principal = claims
        .get(&provider.principal_name)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "the principal claim '{}' is missing",
                provider.principal_name
            )
        })?
        .to_owned();
    let prefix = &provider.auth_name_prefix;
    let roles = if provider.use_authorization_claim {
        let groups = match claims.get(&provider.authorization_claim) {
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            Some(Value::String(one)) => vec![one.as_str()],
            _ => {
                return Err(format!(
                    "the authorization claim '{}' is missing",
                    provider.authorization_claim
                ));
            }
        };
        groups.iter().map(|g| format!("{prefix}/{g}")).collect()
    } else {
        Vec::new()
    };
    Ok(Validated {
        user: format!("{prefix}/{principal}"),
        principal,
        roles,
        exp,
    })
}
