//! RSA keys for the identity provider: generated with the `rsa` crate (ring cannot generate
//! RSA keys), signed and verified with `ring`, which the driver's TLS stack already compiles.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey;

/// Key size: the minimum RS256 size servers accept.
const KEY_BITS: usize = 2048;

/// Base64url without padding, as JWTs use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// An RSA signing key with its key id.
pub struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit key.
    pub fn generate(kid: impl Into<String>) -> Self {
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)
            .expect("RSA key generation");
        let der = private.to_pkcs8_der().expect("PKCS#8 encoding");
        let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).expect("ring accepts the key");
        Self {
            kid: kid.into(),
            pair,
        }
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `message` with RS256.
    pub fn sign_rs256(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut sig,
            )
            .expect("signing cannot fail with a valid key");
        sig
    }

    /// The public key as a JWK (`kty`, `kid`, `use`, `alg`, `n`, `e`).
    pub fn jwk(&self) -> serde_json::Value {
        let public = self.pair.public_key();
        let components: signature::RsaPublicKeyComponents<Vec<u8>> = public.into();
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": b64url(&components.n),
            "e": b64url(&components.e),
        })
    }
}

/// Keys shared by every kit in a process: generating them is the slowest part of start-up.
/// `[0]` is the identity provider's key; `[1]` signs "badly-signed" tokens and is never
/// published, so a token signed with it fails verification under the real key's `kid`.
pub(crate) fn process_keys() -> &'static [Arc<SigningKey>; 2] {
    static KEYS: OnceLock<[Arc<SigningKey>; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let stamp = std::process::id();
        [
            Arc::new(SigningKey::generate(format!("testkit-{stamp}-1"))),
            Arc::new(SigningKey::generate(format!("testkit-{stamp}-rogue"))),
        ]
    })
}

/// Verifies a signature against an RSA JWK for the given JWS algorithm name; algorithms the
/// server does not accept (HS256, none, ...) never verify.
pub(crate) fn verify(alg: &str, jwk: &serde_json::Value, message: &[u8], sig: &[u8]) -> bool {
    let params: &signature::RsaParameters = match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        _ => return false,
    };
    let component = |name: &str| jwk[name].as_str().and_then(b64url_decode);
    let (Some(n), Some(e)) = (component("n"), component("e")) else {
        return false;
    };
    signature::RsaPublicKeyComponents { n, e }
        .verify(params, message, sig)
        .is_ok()
}
