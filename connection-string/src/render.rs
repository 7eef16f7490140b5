//! Rendering the connection string back for the driver, minus what this project handles.

use crate::Secret;
use crate::auth::AuthMechanism;
use crate::connection_string::ConnectionString;
use crate::options::OptionValue;

impl ConnectionString {
    /// The connection string exactly as given, except that for MONGODB-OIDC every
    /// `authMechanismProperties=...` pair is removed: this project turns those properties into
    /// a callback, and the driver would reject the ones it does not know (`ENVIRONMENT:test`).
    /// For other mechanisms the string is returned unchanged.
    ///
    /// The result may contain a password, so it is a [`Secret`].
    ///
    /// ```
    /// use mongodb_connection_string::ConnectionString;
    ///
    /// let cs = ConnectionString::parse(
    ///     "mongodb://h1,h2/db?appName=a&authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s&w=1",
    /// )?;
    /// assert_eq!(
    ///     cs.without_oidc_properties().secret(),
    ///     "mongodb://h1,h2/db?appName=a&authMechanism=MONGODB-OIDC&w=1"
    /// );
    /// # Ok::<(), mongodb_connection_string::Error>(())
    /// ```
    pub fn without_oidc_properties(&self) -> Secret {
        let is_oidc = matches!(
            self.option("authMechanism"),
            Some(OptionValue::Str(m)) if m == AuthMechanism::MongoDbOidc.as_str()
        );
        if !is_oidc {
            return Secret::new(self.raw());
        }
        self.without_segments(|name| name == "authMechanismProperties")
    }

    /// Removes every option segment whose canonical name matches, with one `&` next to it, and
    /// the `?` when no option is left. Every other byte is kept.
    fn without_segments(&self, remove: impl Fn(&str) -> bool) -> Secret {
        let raw = self.raw();
        let Some(q) = self.query_start() else {
            return Secret::new(raw);
        };
        let kept: Vec<&str> = self
            .segments()
            .iter()
            .filter(|s| !(s.known && remove(&s.name)))
            .map(|s| &raw[s.span.clone()])
            .collect();
        let mut out = raw[..q].to_owned();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        Secret::new(out)
    }
}
