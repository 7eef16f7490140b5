//! The connection string's structure: scheme, user information, hosts, database and options.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::Secret;
use crate::error::{DroppedProperties, Error, ErrorKind, UserPart};
use crate::host::{self, Host, HostAddress};
use crate::options::{self, OptionValue, ParsedOptions, Property};
use crate::percent::{self, DecodeError};
use crate::warning::Warning;

/// The scheme of a connection string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `mongodb://`: the hosts are listed.
    Mongodb,
    /// `mongodb+srv://`: one DNS name whose SRV records list the hosts.
    MongodbSrv,
}

impl Scheme {
    /// The scheme as written, without `://`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Mongodb => "mongodb",
            Scheme::MongodbSrv => "mongodb+srv",
        }
    }
}

/// A parsed connection string.
///
/// Parsing checks the structure and the option values, following the connection-string spec:
/// what the spec says to ignore becomes a [`Warning`]. Authentication rules are checked by
/// [`ConnectionString::credential`], so that a string can be inspected before it is judged.
///
/// ```
/// use mongodb_connection_string::{ConnectionString, OidcEnvironment};
///
/// let cs = ConnectionString::parse(
///     "mongodb://client-id@db.example.com/?authMechanism=MONGODB-OIDC\
///      &authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api://my-app",
/// )?;
/// let credential = cs.credential()?.expect("a credential");
/// let oidc = credential.oidc.expect("MONGODB-OIDC");
/// assert_eq!(
///     oidc.environment,
///     Some(OidcEnvironment::Azure {
///         token_resource: "api://my-app".into(),
///         client_id: Some("client-id".into()),
///     })
/// );
/// # Ok::<(), mongodb_connection_string::Error>(())
/// ```
#[derive(Clone)]
pub struct ConnectionString {
    /// The string as given; it may contain a password, so it is never shown.
    raw: Secret,
    scheme: Scheme,
    userinfo: Option<Userinfo>,
    hosts: Vec<HostAddress>,
    database: Option<String>,
    /// Byte index of the `?` that starts the options, if any.
    query_start: Option<usize>,
    options: ParsedOptions,
}

#[derive(Clone)]
struct Userinfo {
    username: String,
    password: Option<Secret>,
}

impl ConnectionString {
    /// Parses a `mongodb://` or `mongodb+srv://` connection string. No DNS lookups are made.
    pub fn parse(uri: &str) -> Result<Self, Error> {
        let err = |kind| Err(Error::new(kind));
        if uri.is_empty() {
            return err(ErrorKind::Empty);
        }
        let (scheme, rest_start) = parse_scheme(uri)?;
        let rest = &uri[rest_start..];
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (hostinfo, after) = rest.split_at(host_end);
        let (path, query_at) = match after.find('?') {
            Some(q) => (&after[..q], Some(rest_start + host_end + q)),
            None => (after, None),
        };
        let path = path.strip_prefix('/').unwrap_or(path);
        check_misplaced_slash(hostinfo, path, scheme)?;
        let (userinfo, hosts_raw) = match hostinfo.rfind('@') {
            Some(at) => (Some(parse_userinfo(&hostinfo[..at])?), &hostinfo[at + 1..]),
            None => (None, hostinfo),
        };
        if hosts_raw.is_empty() {
            return err(ErrorKind::MissingHost {
                scheme: scheme.as_str(),
            });
        }
        let hosts = hosts_raw
            .split(',')
            .map(host::parse_host)
            .collect::<Result<Vec<_>, _>>()?;
        if scheme == Scheme::MongodbSrv {
            check_srv_host(&hosts, hosts_raw)?;
        }
        let database = parse_database(path)?;
        let options = match query_at {
            Some(q) if q + 1 < uri.len() => options::parse(&uri[q + 1..], q + 1)?,
            _ => ParsedOptions::default(),
        };
        let cs = ConnectionString {
            raw: Secret::new(uri),
            scheme,
            userinfo,
            hosts,
            database,
            query_start: query_at,
            options,
        };
        cs.check_option_rules()?;
        Ok(cs)
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The percent-decoded user name, if user information is given.
    pub fn username(&self) -> Option<&str> {
        self.userinfo.as_ref().map(|u| u.username.as_str())
    }

    /// The percent-decoded password. `Some` with an empty secret for `user:@host`: an empty
    /// password still counts as given.
    pub fn password(&self) -> Option<&Secret> {
        self.userinfo.as_ref().and_then(|u| u.password.as_ref())
    }

    /// The hosts, in the order given.
    pub fn hosts(&self) -> &[HostAddress] {
        &self.hosts
    }

    /// The percent-decoded default database (the path), if any.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The effective value of an option (case-insensitive name): the last valid one given.
    pub fn option(&self, name: &str) -> Option<&OptionValue> {
        self.options.get(name)
    }

    /// Every valid value given for an option, for list options such as `readPreferenceTags`.
    pub fn option_values(&self, name: &str) -> Vec<&OptionValue> {
        self.options.get_all(name)
    }

    /// Every option with a valid value, by canonical name, in the order given.
    pub fn options(&self) -> impl Iterator<Item = (&str, &OptionValue)> {
        self.options
            .segments
            .iter()
            .filter(|s| s.known)
            .filter_map(|s| s.value.as_ref().map(|v| (s.name.as_str(), v)))
    }

    /// What was ignored or deserves attention: per option in order, then repeated and deprecated
    /// options.
    pub fn warnings(&self) -> &[Warning] {
        &self.options.warnings
    }

    /// `connectTimeoutMS`, if given.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.millis("connectTimeoutMS")
    }

    /// `timeoutMS`, if given (`Some(0)` means no limit).
    pub fn timeout(&self) -> Option<Duration> {
        self.millis("timeoutMS")
    }

    fn millis(&self, name: &str) -> Option<Duration> {
        match self.option(name)? {
            OptionValue::Int(ms) => u64::try_from(*ms).ok().map(Duration::from_millis),
            _ => None,
        }
    }

    /// The `authMechanismProperties` pairs as given (empty when absent or ignored).
    pub fn mechanism_properties(&self) -> &[Property] {
        match self.options.get("authMechanismProperties") {
            Some(OptionValue::Pairs(p)) => p,
            _ => &[],
        }
    }

    pub(crate) fn dropped_properties(&self) -> Option<&DroppedProperties> {
        self.options.dropped_properties.as_ref()
    }

    pub(crate) fn raw(&self) -> &str {
        self.raw.secret()
    }

    pub(crate) fn query_start(&self) -> Option<usize> {
        self.query_start
    }

    pub(crate) fn segments(&self) -> &[options::Segment] {
        &self.options.segments
    }

    pub(crate) fn option_given(&self, name: &str) -> bool {
        self.options.is_given(name)
    }

    fn bool_option(&self, name: &str) -> Option<bool> {
        match self.option(name) {
            Some(OptionValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }
}

impl FromStr for ConnectionString {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("scheme", &self.scheme)
            .field("username", &self.username())
            .field("password", &self.password())
            .field("hosts", &self.hosts)
            .field("database", &self.database)
            .field("options", &self.options().collect::<Vec<_>>())
            .field("warnings", &self.warnings())
            .finish()
    }
}

fn parse_scheme(uri: &str) -> Result<(Scheme, usize), Error> {
    if uri.starts_with("mongodb://") {
        return Ok((Scheme::Mongodb, "mongodb://".len()));
    }
    if uri.starts_with("mongodb+srv://") {
        return Ok((Scheme::MongodbSrv, "mongodb+srv://".len()));
    }
    // Show what was found only when it looks like a scheme: anything else may be a password.
    let found = uri.split_once("://").map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.len() <= 20
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    Err(Error::new(ErrorKind::Scheme {
        found: found.map(str::to_owned),
    }))
}

/// Spots an unescaped `/` that ended the host list too early, and says where it belongs.
fn check_misplaced_slash(hostinfo: &str, path: &str, scheme: Scheme) -> Result<(), Error> {
    if hostinfo.is_empty() {
        let kind = if path.contains('/') || path.ends_with(".sock") {
            ErrorKind::UnescapedSlashInHost
        } else {
            ErrorKind::MissingHost {
                scheme: scheme.as_str(),
            }
        };
        return Err(Error::new(kind));
    }
    // An '@' after the first '/' means the user information itself contained a '/'.
    if path.contains('@') && !hostinfo.contains('@') {
        let part = if hostinfo.contains(':') {
            "password"
        } else {
            "user name or password"
        };
        return Err(Error::new(ErrorKind::UnescapedSlashInUserinfo { part }));
    }
    Ok(())
}

fn parse_userinfo(raw: &str) -> Result<Userinfo, Error> {
    let (user_raw, pass_raw) = match raw.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (raw, None),
    };
    check_userinfo_chars(user_raw, UserPart::Username)?;
    if let Some(pass_raw) = pass_raw {
        if pass_raw.contains(':') {
            return Err(Error::new(ErrorKind::UserinfoColon));
        }
        check_userinfo_chars(pass_raw, UserPart::Password)?;
    }
    let username = decode_userinfo(user_raw, UserPart::Username)?;
    if username.is_empty() {
        return Err(Error::new(ErrorKind::EmptyUsername));
    }
    let password = pass_raw
        .map(|p| decode_userinfo(p, UserPart::Password).map(Secret::new))
        .transpose()?;
    Ok(Userinfo { username, password })
}

/// RFC 3986 userinfo: unreserved, sub-delims, `%XX` and (checked by the caller) one `:`.
/// Non-ASCII characters are accepted for compatibility with other drivers.
fn check_userinfo_chars(raw: &str, part: UserPart) -> Result<(), Error> {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || !c.is_ascii()
            || matches!(c, '-' | '.' | '_' | '~' | '%' | ':')
            || matches!(
                c,
                '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '='
            )
    };
    match raw.chars().find(|c| !allowed(*c) || c.is_control()) {
        Some(ch) => Err(Error::new(ErrorKind::UserinfoChar {
            part,
            ch,
            encoded: percent::encode_char(ch),
        })),
        None => Ok(()),
    }
}

fn decode_userinfo(raw: &str, part: UserPart) -> Result<String, Error> {
    percent::decode(raw).map_err(|e| {
        Error::new(match e {
            DecodeError::BadEscape => ErrorKind::UserinfoPercent { part },
            DecodeError::NotUtf8 => ErrorKind::UserinfoUtf8 { part },
        })
    })
}

fn check_srv_host(hosts: &[HostAddress], hosts_raw: &str) -> Result<(), Error> {
    if hosts.len() != 1 {
        return Err(Error::new(ErrorKind::SrvHostCount { count: hosts.len() }));
    }
    if let Some(port) = hosts[0].port {
        return Err(Error::new(ErrorKind::SrvPort {
            port: port.to_string(),
        }));
    }
    if !matches!(hosts[0].host, Host::Hostname(_)) {
        return Err(Error::new(ErrorKind::SrvHostKind {
            host: hosts_raw.to_owned(),
        }));
    }
    Ok(())
}

fn parse_database(path: &str) -> Result<Option<String>, Error> {
    if path.is_empty() {
        return Ok(None);
    }
    let name = percent::decode(path).map_err(|_| Error::new(ErrorKind::DatabasePercent))?;
    if let Some(ch) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\' | ' ' | '"' | '$'))
    {
        return Err(Error::new(ErrorKind::DatabaseChar { name, ch }));
    }
    Ok(Some(name))
}

/// Pairs of options that relax TLS checks in overlapping ways; the URI options spec makes
/// giving both an error because the combination's meaning would be ambiguous.
const TLS_CONFLICTS: &[(&str, &str)] = &[
    ("tlsInsecure", "tlsAllowInvalidCertificates"),
    ("tlsInsecure", "tlsAllowInvalidHostnames"),
    ("tlsInsecure", "tlsDisableOCSPEndpointCheck"),
    ("tlsInsecure", "tlsDisableCertificateRevocationCheck"),
    ("tlsAllowInvalidCertificates", "tlsDisableOCSPEndpointCheck"),
    (
        "tlsAllowInvalidCertificates",
        "tlsDisableCertificateRevocationCheck",
    ),
    (
        "tlsDisableOCSPEndpointCheck",
        "tlsDisableCertificateRevocationCheck",
    ),
];

impl ConnectionString {
    /// The URI options spec's MUST-error rules that involve more than one option.
    fn check_option_rules(&self) -> Result<(), Error> {
        let conflict = |first: &str, second: &str, why| {
            Err(Error::new(ErrorKind::ConflictingOptions {
                first: first.to_owned(),
                second: second.to_owned(),
                why,
            }))
        };
        for (a, b) in TLS_CONFLICTS {
            if self.option_given(a) && self.option_given(b) {
                return conflict(a, b, "they relax TLS verification in overlapping ways");
            }
        }
        let tls_values: Vec<&OptionValue> =
            [self.option_values("tls"), self.option_values("ssl")].concat();
        if tls_values.windows(2).any(|w| w[0] != w[1]) {
            return conflict(
                "tls",
                "ssl",
                "they are aliases and are given different values",
            );
        }
        self.check_topology_rules()
    }

    fn check_topology_rules(&self) -> Result<(), Error> {
        let err = |kind| Err(Error::new(kind));
        let srv = self.scheme == Scheme::MongodbSrv;
        if self.bool_option("directConnection") == Some(true) {
            if self.hosts.len() > 1 {
                return err(ErrorKind::DirectConnectionConflict {
                    option: "directConnection",
                    why: "cannot be used with more than one host",
                });
            }
            if srv {
                return err(ErrorKind::DirectConnectionConflict {
                    option: "directConnection",
                    why: "cannot be used with mongodb+srv://, which may resolve to several hosts",
                });
            }
        }
        for option in ["srvMaxHosts", "srvServiceName"] {
            if !srv && self.option_given(option) {
                return err(ErrorKind::SrvOnlyOption { option });
            }
        }
        let srv_max_hosts =
            matches!(self.option("srvMaxHosts"), Some(OptionValue::Int(n)) if *n > 0);
        if srv_max_hosts && self.option_given("replicaSet") {
            return err(ErrorKind::ConflictingOptions {
                first: "srvMaxHosts".into(),
                second: "replicaSet".into(),
                why: "a replica set name cannot apply to a random subset of hosts",
            });
        }
        if self.bool_option("loadBalanced") == Some(true) {
            let conflict = if self.hosts.len() > 1 {
                Some("more than one host")
            } else if self.option_given("replicaSet") {
                Some("replicaSet")
            } else if self.bool_option("directConnection") == Some(true) {
                Some("directConnection=true")
            } else if srv_max_hosts {
                Some("srvMaxHosts")
            } else {
                None
            };
            if let Some(option) = conflict {
                return err(ErrorKind::LoadBalancedConflict { option });
            }
        }
        Ok(())
    }
}
