//! Reading a JWT's header and claims without verifying it (the server verifies): for expiry
//! (`exp`) and for the CLI's `token` command. The signature is never decoded or shown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A JWT's decoded header and claims.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtParts {
    /// The JOSE header (`alg`, `kid`, `typ`).
    pub header: Map<String, Value>,
    /// The claims (`iss`, `sub`, `aud`, `exp`, ...).
    pub claims: Map<String, Value>,
}

impl JwtParts {
    /// Decodes a compact JWS; `None` if it is not three base64url parts with JSON objects.
    pub fn decode(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            header: object(header)?,
            claims: object(claims)?,
        })
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.claims.get("exp").and_then(Value::as_i64)
    }
}

fn object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Whether `text` has the shape of a compact JWS (three base64url parts).
pub(crate) fn looks_like_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_claims() {
        let token = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"exp":1700000000,"sub":"a"}"#)
        );
        let parts = JwtParts::decode(&token).unwrap();
        assert_eq!(parts.expires_at(), Some(1_700_000_000));
        assert!(looks_like_jwt(&token));
        assert!(JwtParts::decode("a.b").is_none());
        assert!(!looks_like_jwt("<html>x</html>"));
    }
}
