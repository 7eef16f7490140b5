//! MONGODB-OIDC: the auth spec's rules, applied to settings from the connection string and
//! from code alike, so that both paths give the same answers and the same messages.

use crate::auth::check_known_key;
use crate::connection_string::ConnectionString;
use crate::error::{DroppedProperties, Error, ErrorKind};
use crate::suggest::value_hint;
use crate::warning::Warning;

/// Every mechanism property MONGODB-OIDC knows.
pub(crate) const OIDC_PROPERTY_KEYS: &[&str] = &[
    "ENVIRONMENT",
    "TOKEN_RESOURCE",
    "OIDC_CALLBACK",
    "OIDC_HUMAN_CALLBACK",
    "ALLOWED_HOSTS",
];
/// Properties that hold code or a list, so they can only be set programmatically.
const PROGRAMMATIC_ONLY: &[&str] = &["OIDC_CALLBACK", "OIDC_HUMAN_CALLBACK", "ALLOWED_HOSTS"];
const ENVIRONMENTS: &[&str] = &["test", "azure", "gcp", "k8s"];

/// A built-in environment, with what it needs to fetch a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcEnvironment {
    /// `test`: the token is read from the file named by `OIDC_TOKEN_FILE`.
    Test,
    /// `azure`: Azure managed identity (IMDS, or App Service / Functions).
    Azure {
        /// `TOKEN_RESOURCE`: the resource (audience) the token is requested for.
        token_resource: String,
        /// The managed identity's client id: the connection string's user name.
        client_id: Option<String>,
    },
    /// `gcp`: the Google Cloud metadata server's identity token.
    Gcp {
        /// `TOKEN_RESOURCE`: the audience the identity token is requested for.
        audience: String,
    },
    /// `k8s`: the Kubernetes service-account token file.
    K8s,
}

impl OidcEnvironment {
    /// The `ENVIRONMENT` value.
    pub fn name(&self) -> &'static str {
        match self {
            OidcEnvironment::Test => "test",
            OidcEnvironment::Azure { .. } => "azure",
            OidcEnvironment::Gcp { .. } => "gcp",
            OidcEnvironment::K8s => "k8s",
        }
    }

    /// The `TOKEN_RESOURCE` value, for the environments that take one.
    pub fn token_resource(&self) -> Option<&str> {
        match self {
            OidcEnvironment::Azure { token_resource, .. } => Some(token_resource),
            OidcEnvironment::Gcp { audience } => Some(audience),
            _ => None,
        }
    }
}

/// Which kind of callback is configured in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    /// `OIDC_CALLBACK`: machine (workload) flow.
    Machine,
    /// `OIDC_HUMAN_CALLBACK`: human flow, with IdP information and refresh tokens.
    Human,
}

impl CallbackKind {
    fn property(self) -> &'static str {
        match self {
            CallbackKind::Machine => "OIDC_CALLBACK",
            CallbackKind::Human => "OIDC_HUMAN_CALLBACK",
        }
    }
}

/// Where a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The connection string.
    ConnectionString,
    /// Code (a builder).
    Code,
}

#[derive(Debug, Clone)]
struct Setting {
    key: String,
    value: String,
    origin: Origin,
}

/// MONGODB-OIDC settings gathered from the connection string and from code, to be checked
/// together by [`OidcSettings::validate`].
///
/// ```
/// use mongodb_connection_string::{CallbackKind, ConnectionString, OidcSettings};
///
/// let cs = ConnectionString::parse("mongodb://localhost/?authMechanism=MONGODB-OIDC")?;
/// let config = OidcSettings::from_connection_string(&cs)
///     .callback(CallbackKind::Machine)
///     .validate()?;
/// assert_eq!(config.callback, Some(CallbackKind::Machine));
/// # Ok::<(), mongodb_connection_string::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct OidcSettings {
    username: Option<String>,
    /// A user name also given in code, checked against the connection string's.
    code_username: Option<String>,
    /// `Some(true)` for an empty password.
    password: Option<bool>,
    source: Option<String>,
    properties: Vec<Setting>,
    dropped: Option<DroppedProperties>,
    callbacks: Vec<CallbackKind>,
    allowed_hosts: Option<Vec<String>>,
}

/// A validated MONGODB-OIDC configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OidcConfig {
    /// The built-in environment, when one is configured.
    pub environment: Option<OidcEnvironment>,
    /// The callback kind, when a callback is configured in code.
    pub callback: Option<CallbackKind>,
    /// The user name (passed to callbacks; the client id for azure).
    pub username: Option<String>,
    /// `ALLOWED_HOSTS` for the human flow, when set in code.
    pub allowed_hosts: Option<Vec<String>>,
    /// What deserves attention but is not an error.
    pub warnings: Vec<Warning>,
}

impl OidcSettings {
    /// Empty settings, for a configuration made entirely in code.
    pub fn new() -> Self {
        Self::default()
    }

    /// The settings the connection string makes: user, password, `authSource` and the
    /// mechanism properties.
    pub fn from_connection_string(cs: &ConnectionString) -> Self {
        let source = match cs.option("authSource") {
            Some(crate::OptionValue::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let properties = cs
            .mechanism_properties()
            .iter()
            .map(|p| Setting {
                key: p.key.clone(),
                value: p.value.clone(),
                origin: Origin::ConnectionString,
            })
            .collect();
        Self {
            username: cs.username().map(str::to_owned),
            code_username: None,
            password: cs.password().map(|p| p.is_empty()),
            source,
            properties,
            dropped: cs.dropped_properties().cloned(),
            callbacks: Vec::new(),
            allowed_hosts: None,
        }
    }

    /// Sets a mechanism property in code (`ENVIRONMENT`, `TOKEN_RESOURCE`).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push(Setting {
            key: key.into(),
            value: value.into(),
            origin: Origin::Code,
        });
        self
    }

    /// Sets the user name in code (for azure: the managed identity's client id).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.code_username = Some(username.into());
        self
    }

    /// Records that a callback of this kind is configured in code.
    pub fn callback(mut self, kind: CallbackKind) -> Self {
        self.callbacks.push(kind);
        self
    }

    /// Sets `ALLOWED_HOSTS` in code.
    pub fn allowed_hosts(mut self, hosts: Vec<String>) -> Self {
        self.allowed_hosts = Some(hosts);
        self
    }

    /// Applies every MONGODB-OIDC rule of the auth spec.
    pub fn validate(&self) -> Result<OidcConfig, Error> {
        let err = |kind| Err(Error::new(kind));
        if let Some(source) = self.source.as_ref().filter(|s| *s != "$external") {
            return err(ErrorKind::SourceNotExternal {
                given: source.clone(),
            });
        }
        if let Some(empty) = self.password {
            return err(ErrorKind::OidcPassword { empty });
        }
        if self.username.is_some() && self.code_username.is_some() {
            return err(ErrorKind::UsernameSetTwice);
        }
        let merged = Self {
            username: self.username.clone().or_else(|| self.code_username.clone()),
            code_username: None,
            ..self.clone()
        };
        merged.validate_merged()
    }

    fn validate_merged(&self) -> Result<OidcConfig, Error> {
        let err = |kind| Err(Error::new(kind));
        self.check_property_keys()?;
        let callback = self.chosen_callback()?;
        let environment = match self.value("ENVIRONMENT") {
            Some(value) => Some(self.environment(value)?),
            None => None,
        };
        match (&environment, callback) {
            (Some(env), Some(cb)) => {
                return err(ErrorKind::EnvironmentWithCallback {
                    environment: env.name().to_owned(),
                    callback: cb.property(),
                });
            }
            (None, None) => {
                return err(ErrorKind::OidcNothingConfigured {
                    dropped: self.dropped.clone(),
                });
            }
            _ => {}
        }
        if environment.is_none() && self.value("TOKEN_RESOURCE").is_some() {
            return err(ErrorKind::TokenResourceNotAllowed {
                context: "no ENVIRONMENT is set (a callback is configured instead)".to_owned(),
            });
        }
        let mut warnings = Vec::new();
        match &environment {
            Some(OidcEnvironment::Test) if self.username.is_some() => {
                return err(ErrorKind::UsernameWithTest);
            }
            Some(env @ (OidcEnvironment::Gcp { .. } | OidcEnvironment::K8s))
                if self.username.is_some() =>
            {
                warnings.push(Warning::UnusedUsername {
                    environment: env.name(),
                });
            }
            _ => {}
        }
        let allowed_hosts = self.checked_allowed_hosts(callback)?;
        Ok(OidcConfig {
            environment,
            callback,
            username: self.username.clone(),
            allowed_hosts,
            warnings,
        })
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// Unknown keys, programmatic-only keys in the URI, and keys given twice.
    fn check_property_keys(&self) -> Result<(), Error> {
        for (i, setting) in self.properties.iter().enumerate() {
            let key = &setting.key;
            if setting.origin == Origin::ConnectionString
                && PROGRAMMATIC_ONLY.contains(&key.as_str())
            {
                return Err(Error::new(ErrorKind::ProgrammaticOnly { key: key.clone() }));
            }
            check_known_key(
                key,
                OIDC_PROPERTY_KEYS,
                "MONGODB-OIDC",
                "ENVIRONMENT, TOKEN_RESOURCE",
            )?;
            if let Some(earlier) = self.properties[..i].iter().find(|s| s.key == *key) {
                let kind = match earlier.origin == setting.origin {
                    true => ErrorKind::DuplicateProperty { key: key.clone() },
                    false => ErrorKind::PropertySetTwice { key: key.clone() },
                };
                return Err(Error::new(kind));
            }
        }
        Ok(())
    }

    fn chosen_callback(&self) -> Result<Option<CallbackKind>, Error> {
        let machine = self.callbacks.contains(&CallbackKind::Machine);
        let human = self.callbacks.contains(&CallbackKind::Human);
        match (machine, human) {
            (true, true) => Err(Error::new(ErrorKind::BothCallbacks)),
            (true, false) => Ok(Some(CallbackKind::Machine)),
            (false, true) => Ok(Some(CallbackKind::Human)),
            (false, false) => Ok(None),
        }
    }

    fn environment(&self, value: &str) -> Result<OidcEnvironment, Error> {
        let token_resource = self.value("TOKEN_RESOURCE");
        if token_resource == Some("") {
            return Err(Error::new(ErrorKind::TokenResourceEmpty));
        }
        let needs_resource = |environment: &str| match token_resource {
            Some(r) => Ok(r.to_owned()),
            None => Err(Error::new(ErrorKind::TokenResourceMissing {
                environment: environment.to_owned(),
                dropped: self.dropped.clone(),
            })),
        };
        let no_resource = |env: OidcEnvironment| match token_resource {
            Some(_) => Err(Error::new(ErrorKind::TokenResourceNotAllowed {
                context: format!("ENVIRONMENT is {}", env.name()),
            })),
            None => Ok(env),
        };
        match value {
            "azure" => Ok(OidcEnvironment::Azure {
                token_resource: needs_resource(value)?,
                client_id: self.username.clone(),
            }),
            "gcp" => Ok(OidcEnvironment::Gcp {
                audience: needs_resource(value)?,
            }),
            "test" => no_resource(OidcEnvironment::Test),
            "k8s" => no_resource(OidcEnvironment::K8s),
            other => Err(Error::new(ErrorKind::UnknownEnvironment {
                value: other.to_owned(),
                hint: value_hint(other, ENVIRONMENTS),
            })),
        }
    }

    fn checked_allowed_hosts(
        &self,
        callback: Option<CallbackKind>,
    ) -> Result<Option<Vec<String>>, Error> {
        let Some(hosts) = &self.allowed_hosts else {
            return Ok(None);
        };
        let context = match callback {
            Some(CallbackKind::Human) => None,
            Some(CallbackKind::Machine) => {
                Some("the callback is a machine callback (OIDC_CALLBACK)")
            }
            None => Some("a built-in ENVIRONMENT is configured"),
        };
        if let Some(context) = context {
            return Err(Error::new(ErrorKind::AllowedHostsWithoutHumanCallback {
                context,
            }));
        }
        for entry in hosts {
            let why = if entry.is_empty() {
                Some("it is empty")
            } else if entry.strip_prefix("*.").unwrap_or(entry).contains('*') {
                Some("'*' is only allowed as a leading '*.' wildcard")
            } else if entry.contains('/') || entry.contains(char::is_whitespace) {
                Some("give a host name or IP address, without scheme, path or spaces")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::new(ErrorKind::AllowedHostsInvalid {
                    entry: entry.clone(),
                    why,
                }));
            }
        }
        Ok(Some(hosts.clone()))
    }
}
