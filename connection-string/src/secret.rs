//! The one type that holds a secret: an access token, a refresh token or a password.

use std::fmt;

/// A secret string (an access token, a refresh token, a password).
///
/// Its `Debug` output never shows the value and it has no `Display`, so a secret cannot end up
/// in a log line, an error message or a `{:?}` by accident. The value is read only through
/// [`Secret::secret`], which makes every place that handles it easy to find.
///
/// ```
/// use mongodb_connection_string::Secret;
///
/// let token = Secret::new("eyJhbGciOi...");
/// assert_eq!(format!("{token:?}"), "Secret(<redacted>)");
/// assert_eq!(token.secret(), "eyJhbGciOi...");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call it only where the value must leave the process (a request, the
    /// driver), never to print it.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_secret(self) -> String {
        self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("canary-7f3a9");
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert_eq!(secret.secret(), "canary-7f3a9");
    }
}
