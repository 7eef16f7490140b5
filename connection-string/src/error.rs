//! The crate's one public error type. Every message names the part of the connection string
//! (or the setting made in code) that is wrong, says what is wrong with it and how to fix it.
//! Messages never contain a password or a token: they name the offending character or option
//! instead of echoing a secret value.

use std::fmt;

use crate::suggest::Hint;

/// An invalid connection string or MONGODB-OIDC configuration.
///
/// The message is meant for people: it names the option or property, the problem and the fix.
/// [`Error::option`] names the option or property for programs.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }

    /// The connection-string option or mechanism property the error is about, if it is about one
    /// (for example `authSource` or `TOKEN_RESOURCE`).
    pub fn option(&self) -> Option<&str> {
        use ErrorKind::*;
        match &self.kind {
            OptionWithoutValue { .. } | OptionPercentEncoding { .. } => None,
            ConflictingOptions { first, .. } => Some(first),
            RepeatedAuthOption { option }
            | DirectConnectionConflict { option, .. }
            | SrvOnlyOption { option }
            | LoadBalancedConflict { option } => Some(option),
            AuthSourceEmpty | AuthSourceNotAllowed { .. } | SourceNotExternal { .. } => {
                Some("authSource")
            }
            UnknownMechanism { .. } | MechanismEmpty => Some("authMechanism"),
            PropertiesNotSupported { .. } => Some("authMechanismProperties"),
            UnknownProperty { key, .. }
            | DuplicateProperty { key }
            | ProgrammaticOnly { key }
            | PropertySetTwice { key }
            | OidcPropertyWithoutOidc { key, .. }
            | AwsPropertyNotAllowed { key } => Some(key),
            InvalidPropertyValue { key, .. } => Some(key),
            UnknownEnvironment { .. } | EnvironmentWithCallback { .. } => Some("ENVIRONMENT"),
            TokenResourceMissing { .. } | TokenResourceNotAllowed { .. } | TokenResourceEmpty => {
                Some("TOKEN_RESOURCE")
            }
            AllowedHostsWithoutHumanCallback { .. } | AllowedHostsInvalid { .. } => {
                Some("ALLOWED_HOSTS")
            }
            BothCallbacks => Some("OIDC_HUMAN_CALLBACK"),
            _ => None,
        }
    }
}

/// Which part of the user information a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserPart {
    Username,
    Password,
}

impl fmt::Display for UserPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserPart::Username => "user name",
            UserPart::Password => "password",
        })
    }
}

/// Why a mechanism property list from the connection string was dropped, so that the error that
/// follows can explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DroppedProperties {
    /// The entry that had no `:` after the value was percent-decoded and split on commas.
    pub(crate) entry: String,
    /// Whether the raw (still encoded) value contained `%2C`, an encoded comma.
    pub(crate) encoded_comma: bool,
}

/// How to set a comma-containing value instead; shared by several messages.
const COMMA_RULE: &str = "A value in authMechanismProperties cannot contain a comma, not even \
     percent-encoded as %2C, because the whole value is decoded before it is split on commas; \
     set such a TOKEN_RESOURCE in code instead (for example \
     `OidcOptions::builder().token_resource(\"...\")` in the mongodb-oidc crate)";

#[derive(Debug, thiserror::Error)]
pub(crate) enum ErrorKind {
    // ----- structure -----
    #[error(
        "the connection string is empty; expected 'mongodb://host[:port][/database][?options]' or 'mongodb+srv://host[/database][?options]'"
    )]
    Empty,
    #[error(
        "the connection string must start with 'mongodb://' or 'mongodb+srv://'{}",
        match found { Some(s) => format!(", but it starts with '{s}://'"), None => ", but it has no scheme".to_owned() }
    )]
    Scheme { found: Option<String> },
    #[error(
        "no host is given after '{scheme}://'; add at least one, for example '{scheme}://localhost:27017'"
    )]
    MissingHost { scheme: &'static str },
    #[error(
        "the host list contains an unescaped '/': a UNIX domain socket path must be percent-encoded, for example 'mongodb://%2Ftmp%2Fmongodb-27017.sock'"
    )]
    UnescapedSlashInHost,
    #[error(
        "the {part} contains an unescaped '/'; percent-encode '/' in the user name and password as %2F"
    )]
    UnescapedSlashInUserinfo { part: &'static str },
    #[error(
        "the {part} contains an unescaped '{ch}'; percent-encode it as {encoded} in the user name and password"
    )]
    UserinfoChar {
        part: UserPart,
        ch: char,
        encoded: String,
    },
    #[error(
        "the password contains an unescaped ':' (only the first ':' separates user name and password); percent-encode further colons as %3A"
    )]
    UserinfoColon,
    #[error(
        "the {part} contains a '%' that does not start a percent-encoded byte (%XX with two hexadecimal digits); write a literal '%' as %25"
    )]
    UserinfoPercent { part: UserPart },
    #[error("the {part} is not valid UTF-8 after percent-decoding; check its %XX sequences")]
    UserinfoUtf8 { part: UserPart },
    #[error(
        "the user name is empty: the connection string has an '@' with nothing before it; give a user name or remove the '@'"
    )]
    EmptyUsername,
    #[error(
        "host '{host}' is empty or malformed; hosts are written 'name[:port]' or '[ipv6][:port]' and separated by ','"
    )]
    EmptyHost { host: String },
    #[error(
        "the port '{port}' of host '{host}' is not valid: a port is a whole number from 1 to 65535"
    )]
    InvalidPort { host: String, port: String },
    #[error(
        "host '{host}' has more than one ':'; write it as 'name:port', or put an IPv6 address in brackets: '[::1]:27017'"
    )]
    TooManyColons { host: String },
    #[error(
        "host '{host}' is not a valid IP literal: {reason}; write IPv6 addresses as '[::1]' or '[::1]:27017'"
    )]
    InvalidIpLiteral { host: String, reason: &'static str },
    #[error(
        "host '{host}' is a UNIX domain socket path but does not end in '.sock'; socket paths must name a '.sock' file"
    )]
    SocketWithoutSockSuffix { host: String },
    #[error("host '{host}' is a UNIX domain socket path and cannot have a port")]
    SocketWithPort { host: String },
    #[error("host '{host}' contains '{ch}', which is not allowed in a host name")]
    HostChar { host: String, ch: char },
    #[error("host '{host}' has invalid percent-encoding; write a literal '%' as %25")]
    HostPercent { host: String },
    #[error(
        "a mongodb+srv:// connection string takes exactly one host name (the SRV record), but {count} are given; list several hosts only with mongodb://"
    )]
    SrvHostCount { count: usize },
    #[error(
        "a mongodb+srv:// connection string cannot give a port (the SRV record supplies ports); remove ':{port}'"
    )]
    SrvPort { port: String },
    #[error(
        "a mongodb+srv:// host must be a DNS name, not '{host}'; use mongodb:// for IP addresses and socket paths"
    )]
    SrvHostKind { host: String },
    #[error(
        "the database name '{name}' contains '{ch}', which is not allowed in a database name; percent-encoding does not help, choose another name"
    )]
    DatabaseChar { name: String, ch: char },
    #[error("the database name has invalid percent-encoding; write a literal '%' as %25")]
    DatabasePercent,

    // ----- options -----
    #[error(
        "connection-string option '{segment}' has no '='; options are written 'key=value' and separated by '&'"
    )]
    OptionWithoutValue { segment: String },
    #[error(
        "the value of option '{option}' has invalid percent-encoding; write a literal '%' as %25 and a literal '&' as %26"
    )]
    OptionPercentEncoding { option: String },
    #[error("options '{first}' and '{second}' cannot both be given: {why}; keep only one of them")]
    ConflictingOptions {
        first: String,
        second: String,
        why: &'static str,
    },
    #[error(
        "option '{option}' is given more than once with different values; an authentication setting must be given once"
    )]
    RepeatedAuthOption { option: &'static str },
    #[error("directConnection=true {why}; remove directConnection or set it to false")]
    DirectConnectionConflict {
        option: &'static str,
        why: &'static str,
    },
    #[error("option '{option}' is only valid with a mongodb+srv:// connection string")]
    SrvOnlyOption { option: &'static str },
    #[error(
        "loadBalanced=true cannot be combined with {option}; a load-balanced connection string has one host and no replicaSet or directConnection=true"
    )]
    LoadBalancedConflict { option: &'static str },

    // ----- credentials (all mechanisms) -----
    #[error(
        "authMechanism is empty; give a mechanism such as SCRAM-SHA-256 or MONGODB-OIDC, or remove the option"
    )]
    MechanismEmpty,
    #[error(
        "authMechanism '{value}' is not supported; expected one of SCRAM-SHA-1, SCRAM-SHA-256, MONGODB-X509, GSSAPI, PLAIN, MONGODB-AWS, MONGODB-OIDC{}",
        hint_suffix(hint.as_ref())
    )]
    UnknownMechanism { value: String, hint: Option<Hint> },
    #[error(
        "authSource is empty; remove it to use the default, or name the database to authenticate against"
    )]
    AuthSourceEmpty,
    #[error(
        "authSource '{given}' is not allowed with {mechanism}: it authenticates against '$external'; remove authSource or set authSource=$external"
    )]
    AuthSourceNotAllowed {
        mechanism: &'static str,
        given: String,
    },
    #[error(
        "{mechanism} needs a user name; add 'user@' before the host (percent-encode special characters)"
    )]
    UsernameRequired { mechanism: &'static str },
    #[error(
        "{mechanism} does not take a password{}; remove ':password' from the connection string",
        if *empty { " (an empty password after 'user:' still counts)" } else { "" }
    )]
    PasswordNotAllowed {
        mechanism: &'static str,
        empty: bool,
    },
    #[error(
        "MONGODB-AWS takes no credentials in the connection string or options, but {what}; provide AWS credentials through the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or an AWS credential provider"
    )]
    AwsCredentialsGiven { what: &'static str },
    #[error(
        "mechanism property '{key}' is not allowed with MONGODB-AWS in a connection string; provide AWS credentials through the environment or an AWS credential provider"
    )]
    AwsPropertyNotAllowed { key: String },
    #[error("{mechanism} takes no authMechanismProperties; remove the option")]
    PropertiesNotSupported { mechanism: &'static str },
    #[error(
        "mechanism property '{key}' is not supported by {mechanism}; expected one of {expected}{}",
        hint_suffix(hint.as_ref())
    )]
    UnknownProperty {
        key: String,
        mechanism: &'static str,
        expected: &'static str,
        hint: Option<Hint>,
    },
    #[error("mechanism property '{key}' is given more than once; give each property once")]
    DuplicateProperty { key: String },
    #[error(
        "mechanism property {key} has the value '{value}', which is not valid; expected {expected}"
    )]
    InvalidPropertyValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },

    // ----- MONGODB-OIDC -----
    #[error(
        "authSource '{given}' is not allowed with MONGODB-OIDC, which always authenticates against '$external'; remove authSource or set authSource=$external"
    )]
    SourceNotExternal { given: String },
    #[error(
        "MONGODB-OIDC needs ENVIRONMENT (one of test, azure, gcp, k8s) in authMechanismProperties, or a callback set in code (OIDC_CALLBACK or OIDC_HUMAN_CALLBACK){}",
        dropped_suffix(dropped.as_ref())
    )]
    OidcNothingConfigured { dropped: Option<DroppedProperties> },
    #[error(
        "ENVIRONMENT '{value}' is not supported; expected one of test, azure, gcp, k8s{}",
        hint_suffix(hint.as_ref())
    )]
    UnknownEnvironment { value: String, hint: Option<Hint> },
    #[error(
        "ENVIRONMENT:{environment} and {callback} are both set; a built-in environment and a callback cannot be combined, keep one of them"
    )]
    EnvironmentWithCallback {
        environment: String,
        callback: &'static str,
    },
    #[error(
        "ENVIRONMENT:{environment} needs TOKEN_RESOURCE, the audience the token is issued for (for example authMechanismProperties=ENVIRONMENT:{environment},TOKEN_RESOURCE:api://my-app){}",
        dropped_suffix(dropped.as_ref())
    )]
    TokenResourceMissing {
        environment: String,
        dropped: Option<DroppedProperties>,
    },
    #[error(
        "TOKEN_RESOURCE is only used with ENVIRONMENT:azure or ENVIRONMENT:gcp, but {context}; remove TOKEN_RESOURCE"
    )]
    TokenResourceNotAllowed { context: String },
    #[error(
        "TOKEN_RESOURCE is empty; give the audience the token is issued for, for example TOKEN_RESOURCE:api://my-app"
    )]
    TokenResourceEmpty,
    #[error(
        "{key} cannot be given in a connection string; set it in code (for example with the mongodb-oidc crate's OidcOptions builder)"
    )]
    ProgrammaticOnly { key: String },
    #[error(
        "MONGODB-OIDC does not take a password{}; remove ':password' from the connection string",
        if *empty { " (an empty password after 'user:' still counts)" } else { "" }
    )]
    OidcPassword { empty: bool },
    #[error(
        "ENVIRONMENT:test does not take a user name; remove 'user@' from the connection string"
    )]
    UsernameWithTest,
    #[error(
        "'{key}' is a MONGODB-OIDC mechanism property, but {context}; add authMechanism=MONGODB-OIDC or remove {key}"
    )]
    OidcPropertyWithoutOidc { key: String, context: String },
    #[error(
        "OIDC_CALLBACK and OIDC_HUMAN_CALLBACK are both set; a client uses one callback, keep one of them"
    )]
    BothCallbacks,
    #[error(
        "ALLOWED_HOSTS only applies to the human flow (OIDC_HUMAN_CALLBACK), but {context}; remove ALLOWED_HOSTS"
    )]
    AllowedHostsWithoutHumanCallback { context: &'static str },
    #[error("ALLOWED_HOSTS entry '{entry}' is not valid: {why}")]
    AllowedHostsInvalid { entry: String, why: &'static str },
    #[error(
        "mechanism property {key} is set both in the connection string and in code; set it in one place"
    )]
    PropertySetTwice { key: String },
    #[error("the user name is set both in the connection string and in code; set it in one place")]
    UsernameSetTwice,
}

fn hint_suffix(hint: Option<&Hint>) -> String {
    hint.map(Hint::to_string).unwrap_or_default()
}

fn dropped_suffix(dropped: Option<&DroppedProperties>) -> String {
    let Some(d) = dropped else {
        return String::new();
    };
    let encoded = if d.encoded_comma {
        " (it contains %2C)"
    } else {
        ""
    };
    format!(
        ". Note: authMechanismProperties was ignored{encoded}: after percent-decoding and splitting on ',', \
         the entry '{}' is not a KEY:value pair. {COMMA_RULE}",
        d.entry
    )
}
