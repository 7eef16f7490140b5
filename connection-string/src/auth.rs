//! Credentials: the auth spec's rules for every mechanism, with MONGODB-OIDC in [`crate::oidc`].

use std::fmt;
use std::str::FromStr;

use crate::Secret;
use crate::connection_string::ConnectionString;
use crate::error::{Error, ErrorKind};
use crate::oidc::{OIDC_PROPERTY_KEYS, OidcConfig, OidcSettings};
use crate::options::{OptionValue, Property};
use crate::suggest::case_hint;
use crate::warning::Warning;

/// An authentication mechanism, spelled exactly as the auth spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMechanism {
    /// `SCRAM-SHA-1`
    ScramSha1,
    /// `SCRAM-SHA-256`
    ScramSha256,
    /// `MONGODB-X509`
    MongoDbX509,
    /// `GSSAPI` (Kerberos)
    Gssapi,
    /// `PLAIN` (LDAP)
    Plain,
    /// `MONGODB-AWS`
    MongoDbAws,
    /// `MONGODB-OIDC`
    MongoDbOidc,
}

const ALL_MECHANISMS: &[AuthMechanism] = &[
    AuthMechanism::ScramSha1,
    AuthMechanism::ScramSha256,
    AuthMechanism::MongoDbX509,
    AuthMechanism::Gssapi,
    AuthMechanism::Plain,
    AuthMechanism::MongoDbAws,
    AuthMechanism::MongoDbOidc,
];

impl AuthMechanism {
    /// The mechanism's name as the server knows it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMechanism::ScramSha1 => "SCRAM-SHA-1",
            AuthMechanism::ScramSha256 => "SCRAM-SHA-256",
            AuthMechanism::MongoDbX509 => "MONGODB-X509",
            AuthMechanism::Gssapi => "GSSAPI",
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::MongoDbAws => "MONGODB-AWS",
            AuthMechanism::MongoDbOidc => "MONGODB-OIDC",
        }
    }

    /// Mechanisms that always authenticate against `$external`.
    fn external_only(self) -> bool {
        matches!(
            self,
            AuthMechanism::MongoDbX509
                | AuthMechanism::Gssapi
                | AuthMechanism::MongoDbAws
                | AuthMechanism::MongoDbOidc
        )
    }
}

impl fmt::Display for AuthMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMechanism {
    type Err = Error;

    /// Names are case-sensitive, as the server's are; a wrong-case name gets a hint.
    fn from_str(value: &str) -> Result<Self, Error> {
        if value.is_empty() {
            return Err(Error::new(ErrorKind::MechanismEmpty));
        }
        if let Some(m) = ALL_MECHANISMS.iter().find(|m| m.as_str() == value) {
            return Ok(*m);
        }
        let names: Vec<&str> = ALL_MECHANISMS.iter().map(|m| m.as_str()).collect();
        Err(Error::new(ErrorKind::UnknownMechanism {
            value: value.to_owned(),
            hint: case_hint(value, &names),
        }))
    }
}

/// The credential a connection string describes, checked against the auth spec.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Credential {
    /// The mechanism, or `None` for the server's default (SCRAM negotiation).
    pub mechanism: Option<AuthMechanism>,
    /// The percent-decoded user name.
    pub username: Option<String>,
    /// The percent-decoded password.
    pub password: Option<Secret>,
    /// The database to authenticate against.
    pub source: String,
    /// The mechanism properties, with the mechanism's defaults filled in.
    pub mechanism_properties: Vec<Property>,
    /// For MONGODB-OIDC: the validated configuration.
    pub oidc: Option<OidcConfig>,
    /// Warnings found while building the credential.
    pub warnings: Vec<Warning>,
}

/// GSSAPI properties and the values `CANONICALIZE_HOST_NAME` accepts.
const GSSAPI_KEYS: &[&str] = &[
    "SERVICE_NAME",
    "CANONICALIZE_HOST_NAME",
    "SERVICE_REALM",
    "SERVICE_HOST",
];
const CANONICALIZE_VALUES: &[&str] = &["none", "forward", "forwardAndReverse", "true", "false"];

impl ConnectionString {
    /// The credential this connection string describes, or `None` when it asks for no
    /// authentication. This applies every rule of the auth spec; for MONGODB-OIDC it assumes
    /// nothing is set in code (see [`OidcSettings`] to combine both).
    pub fn credential(&self) -> Result<Option<Credential>, Error> {
        let source = self.auth_source()?;
        let mechanism = match self.option("authMechanism") {
            Some(OptionValue::Str(m)) => Some(m.parse::<AuthMechanism>()?),
            _ => None,
        };
        let properties = self.mechanism_properties();
        if mechanism.is_none() {
            if let Some(p) = properties.first() {
                return Err(properties_without_mechanism(p));
            }
            if self.username().is_none() {
                return Ok(None);
            }
        }
        if let Some(m) = mechanism {
            check_external_source(m, source)?;
        }
        let mut credential = Credential {
            mechanism,
            username: self.username().map(str::to_owned),
            password: self.password().cloned(),
            source: self.default_source(mechanism, source),
            mechanism_properties: properties.to_vec(),
            oidc: None,
            warnings: Vec::new(),
        };
        check_duplicate_properties(properties)?;
        match mechanism {
            None | Some(AuthMechanism::ScramSha1 | AuthMechanism::ScramSha256) => {
                check_password_mechanism(&credential, mechanism)?
            }
            Some(AuthMechanism::Plain) => check_password_mechanism(&credential, mechanism)?,
            Some(AuthMechanism::Gssapi) => check_gssapi(&mut credential)?,
            Some(AuthMechanism::MongoDbX509) => check_x509(&credential)?,
            Some(AuthMechanism::MongoDbAws) => check_aws(&credential)?,
            Some(AuthMechanism::MongoDbOidc) => {
                let config = OidcSettings::from_connection_string(self).validate()?;
                credential.warnings.extend(config.warnings.iter().cloned());
                credential.oidc = Some(config);
            }
        }
        Ok(Some(credential))
    }

    /// `authSource`: absent is fine, empty is an error even without credentials.
    fn auth_source(&self) -> Result<Option<&str>, Error> {
        match self.option("authSource") {
            Some(OptionValue::Str(s)) if s.is_empty() => {
                Err(Error::new(ErrorKind::AuthSourceEmpty))
            }
            Some(OptionValue::Str(s)) => Ok(Some(s)),
            _ => Ok(None),
        }
    }

    fn default_source(&self, mechanism: Option<AuthMechanism>, source: Option<&str>) -> String {
        if let Some(source) = source {
            return source.to_owned();
        }
        match mechanism {
            Some(m) if m.external_only() => "$external".to_owned(),
            Some(AuthMechanism::Plain) => self.database().unwrap_or("$external").to_owned(),
            _ => self.database().unwrap_or("admin").to_owned(),
        }
    }
}

/// Mechanisms that authenticate against `$external` accept no other `authSource`.
fn check_external_source(mechanism: AuthMechanism, source: Option<&str>) -> Result<(), Error> {
    let Some(given) = source.filter(|s| *s != "$external" && mechanism.external_only()) else {
        return Ok(());
    };
    let given = given.to_owned();
    Err(Error::new(match mechanism {
        AuthMechanism::MongoDbOidc => ErrorKind::SourceNotExternal { given },
        m => ErrorKind::AuthSourceNotAllowed {
            mechanism: m.as_str(),
            given,
        },
    }))
}

fn properties_without_mechanism(first: &Property) -> Error {
    if OIDC_PROPERTY_KEYS.contains(&first.key.as_str()) {
        return Error::new(ErrorKind::OidcPropertyWithoutOidc {
            key: first.key.clone(),
            context: "authMechanism is not set".to_owned(),
        });
    }
    Error::new(ErrorKind::PropertiesNotSupported {
        mechanism: "the default mechanism (authMechanism is not set)",
    })
}

fn check_duplicate_properties(properties: &[Property]) -> Result<(), Error> {
    for (i, p) in properties.iter().enumerate() {
        if properties[..i].iter().any(|q| q.key == p.key) {
            return Err(Error::new(ErrorKind::DuplicateProperty {
                key: p.key.clone(),
            }));
        }
    }
    Ok(())
}

fn mechanism_name(mechanism: Option<AuthMechanism>) -> &'static str {
    mechanism.map_or("the default mechanism", AuthMechanism::as_str)
}

/// SCRAM, PLAIN and the default: a user name is required and no properties are taken.
fn check_password_mechanism(
    credential: &Credential,
    mechanism: Option<AuthMechanism>,
) -> Result<(), Error> {
    let name = mechanism_name(mechanism);
    if let Some(p) = credential.mechanism_properties.first() {
        return Err(match OIDC_PROPERTY_KEYS.contains(&p.key.as_str()) {
            true => Error::new(ErrorKind::OidcPropertyWithoutOidc {
                key: p.key.clone(),
                context: format!("authMechanism is {name}"),
            }),
            false => Error::new(ErrorKind::PropertiesNotSupported { mechanism: name }),
        });
    }
    if credential.username.is_none() {
        return Err(Error::new(ErrorKind::UsernameRequired { mechanism: name }));
    }
    Ok(())
}

fn check_gssapi(credential: &mut Credential) -> Result<(), Error> {
    if credential.username.is_none() {
        return Err(Error::new(ErrorKind::UsernameRequired {
            mechanism: "GSSAPI",
        }));
    }
    for p in &credential.mechanism_properties {
        check_known_key(
            &p.key,
            GSSAPI_KEYS,
            "GSSAPI",
            "SERVICE_NAME, CANONICALIZE_HOST_NAME, SERVICE_REALM, SERVICE_HOST",
        )?;
        if p.key == "CANONICALIZE_HOST_NAME" && !CANONICALIZE_VALUES.contains(&p.value.as_str()) {
            return Err(Error::new(ErrorKind::InvalidPropertyValue {
                key: "CANONICALIZE_HOST_NAME",
                value: p.value.clone(),
                expected: "one of none, forward, forwardAndReverse, true, false",
            }));
        }
    }
    if !credential
        .mechanism_properties
        .iter()
        .any(|p| p.key == "SERVICE_NAME")
    {
        credential.mechanism_properties.push(Property {
            key: "SERVICE_NAME".into(),
            value: "mongodb".into(),
        });
    }
    Ok(())
}

fn check_x509(credential: &Credential) -> Result<(), Error> {
    if let Some(password) = &credential.password {
        return Err(Error::new(ErrorKind::PasswordNotAllowed {
            mechanism: "MONGODB-X509",
            empty: password.is_empty(),
        }));
    }
    if !credential.mechanism_properties.is_empty() {
        return Err(Error::new(ErrorKind::PropertiesNotSupported {
            mechanism: "MONGODB-X509",
        }));
    }
    Ok(())
}

/// Since DRIVERS-3131 (auth spec, 2025) MONGODB-AWS credentials come only from the
/// environment or an AWS SDK provider, never from the connection string.
fn check_aws(credential: &Credential) -> Result<(), Error> {
    let what = match (&credential.username, &credential.password) {
        (Some(_), Some(_)) => Some("a user name and a password are given"),
        (Some(_), None) => Some("a user name is given"),
        (None, Some(_)) => Some("a password is given"),
        (None, None) => None,
    };
    if let Some(what) = what {
        return Err(Error::new(ErrorKind::AwsCredentialsGiven { what }));
    }
    if let Some(p) = credential.mechanism_properties.first() {
        return Err(Error::new(ErrorKind::AwsPropertyNotAllowed {
            key: p.key.clone(),
        }));
    }
    Ok(())
}

pub(crate) fn check_known_key(
    key: &str,
    known: &[&str],
    mechanism: &'static str,
    expected: &'static str,
) -> Result<(), Error> {
    if known.contains(&key) {
        return Ok(());
    }
    Err(Error::new(ErrorKind::UnknownProperty {
        key: key.to_owned(),
        mechanism,
        expected,
        hint: case_hint(key, known),
    }))
}
