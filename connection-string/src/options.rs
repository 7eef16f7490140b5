//! Connection options: the `key=value` pairs after `?`, typed by the URI options spec.

use std::fmt;
use std::ops::Range;

use crate::error::{DroppedProperties, Error, ErrorKind};
use crate::percent;
use crate::warning::Warning;

/// A mechanism property (`KEY:value` inside `authMechanismProperties`).
#[derive(Clone, PartialEq, Eq)]
pub struct Property {
    /// The key, case preserved.
    pub key: String,
    /// The value, percent-decoded.
    pub value: String,
}

/// Property keys whose values are secrets; their values never appear in `Debug` or messages.
pub(crate) const SECRET_PROPERTY_KEYS: &[&str] = &["AWS_SESSION_TOKEN"];

impl fmt::Debug for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if SECRET_PROPERTY_KEYS.contains(&self.key.as_str()) {
            write!(f, "{}:<redacted>", self.key)
        } else {
            write!(f, "{}:{:?}", self.key, self.value)
        }
    }
}

/// The typed value of a known option.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionValue {
    /// A string option.
    Str(String),
    /// A string option that holds a secret (`proxyPassword`, `tlsCertificateKeyFilePassword`).
    Secret(crate::Secret),
    /// A boolean option.
    Bool(bool),
    /// An integer option.
    Int(i64),
    /// A comma-separated list (`compressors`).
    List(Vec<String>),
    /// `KEY:value` pairs (`authMechanismProperties`, one `readPreferenceTags` tag set).
    Pairs(Vec<Property>),
}

impl fmt::Debug for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Str(s) => write!(f, "{s:?}"),
            OptionValue::Secret(s) => write!(f, "{s:?}"),
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Int(i) => write!(f, "{i}"),
            OptionValue::List(l) => f.debug_list().entries(l).finish(),
            OptionValue::Pairs(p) => f.debug_list().entries(p).finish(),
        }
    }
}

/// What values an option accepts.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Secret,
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    /// Write concern `w`: a non-negative integer or a tag/`majority` string.
    W,
    List,
    Pairs,
    /// A deprecated name; the value is parsed as the named replacement.
    Deprecated(&'static str),
}

struct Spec {
    name: &'static str,
    kind: Kind,
    /// Repeating the key builds a list instead of replacing the value.
    repeatable: bool,
}

const I32_MAX: i64 = i32::MAX as i64;

const fn spec(name: &'static str, kind: Kind) -> Spec {
    Spec {
        name,
        kind,
        repeatable: false,
    }
}

const fn int(name: &'static str, min: i64, max: i64) -> Spec {
    spec(name, Kind::Int { min, max })
}

/// The URI options spec's list, plus `timeoutMS` (CSOT) and `uuidRepresentation`.
static SPECS: &[Spec] = &[
    spec("appName", Kind::Str),
    spec("authMechanism", Kind::Str),
    spec("authMechanismProperties", Kind::Pairs),
    spec("authSource", Kind::Str),
    spec("compressors", Kind::List),
    int("connectTimeoutMS", 0, I32_MAX),
    spec("directConnection", Kind::Bool),
    spec("enableOverloadRetargeting", Kind::Bool),
    int("heartbeatFrequencyMS", 500, I32_MAX),
    spec("journal", Kind::Bool),
    spec("loadBalanced", Kind::Bool),
    int("localThresholdMS", 0, I32_MAX),
    int("maxAdaptiveRetries", 0, I32_MAX),
    int("maxConnecting", 1, I32_MAX),
    int("maxIdleTimeMS", 0, I32_MAX),
    int("maxPoolSize", 0, I32_MAX),
    int("maxStalenessSeconds", -1, I32_MAX),
    int("minPoolSize", 0, I32_MAX),
    spec("proxyHost", Kind::Str),
    spec("proxyPassword", Kind::Secret),
    int("proxyPort", 0, 65535),
    spec("proxyUsername", Kind::Str),
    spec("readConcernLevel", Kind::Str),
    spec(
        "readPreference",
        Kind::Enum(&[
            "primary",
            "primaryPreferred",
            "secondary",
            "secondaryPreferred",
            "nearest",
        ]),
    ),
    Spec {
        name: "readPreferenceTags",
        kind: Kind::Pairs,
        repeatable: true,
    },
    spec("replicaSet", Kind::Str),
    spec("retryReads", Kind::Bool),
    spec("retryWrites", Kind::Bool),
    spec(
        "serverMonitoringMode",
        Kind::Enum(&["stream", "poll", "auto"]),
    ),
    int("serverSelectionTimeoutMS", 0, I32_MAX),
    spec("serverSelectionTryOnce", Kind::Bool),
    int("socketTimeoutMS", 0, I32_MAX),
    int("srvMaxHosts", 0, I32_MAX),
    spec("srvServiceName", Kind::Str),
    spec("ssl", Kind::Bool),
    int("timeoutMS", 0, i64::MAX),
    spec("tls", Kind::Bool),
    spec("tlsAllowInvalidCertificates", Kind::Bool),
    spec("tlsAllowInvalidHostnames", Kind::Bool),
    spec("tlsCAFile", Kind::Str),
    spec("tlsCertificateKeyFile", Kind::Str),
    spec("tlsCertificateKeyFilePassword", Kind::Secret),
    spec("tlsDisableCertificateRevocationCheck", Kind::Bool),
    spec("tlsDisableOCSPEndpointCheck", Kind::Bool),
    spec("tlsInsecure", Kind::Bool),
    spec(
        "uuidRepresentation",
        Kind::Enum(&["standard", "csharpLegacy", "javaLegacy", "pythonLegacy"]),
    ),
    spec("w", Kind::W),
    int("waitQueueTimeoutMS", 0, I32_MAX),
    spec("wtimeout", Kind::Deprecated("wTimeoutMS")),
    int("wTimeoutMS", 0, i64::MAX),
    int("zlibCompressionLevel", -1, 9),
];

fn lookup(key: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name.eq_ignore_ascii_case(key))
}

/// The canonical (camelCase) name of a known option, looked up case-insensitively.
pub fn canonical_name(key: &str) -> Option<&'static str> {
    lookup(key).map(|s| s.name)
}

/// Options whose repetition with different values is an error: they decide who we are.
const AUTH_OPTIONS: &[&str] = &["authMechanism", "authSource", "authMechanismProperties"];

/// One `key=value` segment of the query, as written and as understood.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// The canonical name for known options, the lower-cased key otherwise.
    pub(crate) name: String,
    /// Whether this option is known to the parser.
    pub(crate) known: bool,
    /// The typed value, or `None` when the option is ignored (unknown, invalid, superseded).
    pub(crate) value: Option<OptionValue>,
    /// The byte range of `key=value` in the full connection string.
    pub(crate) span: Range<usize>,
}

/// Everything the query string says.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedOptions {
    pub(crate) segments: Vec<Segment>,
    pub(crate) warnings: Vec<Warning>,
    /// Set when `authMechanismProperties` was dropped for an entry without `:`.
    pub(crate) dropped_properties: Option<DroppedProperties>,
}

impl ParsedOptions {
    /// The effective value of an option: the last one given that was not ignored.
    pub(crate) fn get(&self, name: &str) -> Option<&OptionValue> {
        let name = canonical_name(name)?;
        self.segments
            .iter()
            .rev()
            .find(|s| s.known && s.name == name && s.value.is_some())
            .and_then(|s| s.value.as_ref())
    }

    /// Every value given for an option (for list options such as `readPreferenceTags`).
    pub(crate) fn get_all(&self, name: &str) -> Vec<&OptionValue> {
        let Some(name) = canonical_name(name) else {
            return Vec::new();
        };
        self.segments
            .iter()
            .filter(|s| s.known && s.name == name)
            .filter_map(|s| s.value.as_ref())
            .collect()
    }

    /// Whether the option appears at all, even with a value that was ignored.
    pub(crate) fn is_given(&self, name: &str) -> bool {
        self.segments.iter().any(|s| s.known && s.name == name)
    }
}

/// Parses the query string `query`, which starts at byte `offset` of the connection string.
pub(crate) fn parse(query: &str, offset: usize) -> Result<ParsedOptions, Error> {
    let mut parsed = ParsedOptions::default();
    let mut start = 0;
    for raw in query.split('&') {
        let span = offset + start..offset + start + raw.len();
        start += raw.len() + 1;
        let Some((raw_key, raw_value)) = raw.split_once('=') else {
            return Err(Error::new(ErrorKind::OptionWithoutValue {
                segment: raw.to_owned(),
            }));
        };
        let segment = parse_segment(raw_key, raw_value, span, &mut parsed)?;
        parsed.segments.push(segment);
    }
    resolve_repeats(&mut parsed)?;
    resolve_deprecated(&mut parsed);
    Ok(parsed)
}

fn parse_segment(
    raw_key: &str,
    raw_value: &str,
    span: Range<usize>,
    parsed: &mut ParsedOptions,
) -> Result<Segment, Error> {
    let key = percent::decode(raw_key).unwrap_or_else(|_| raw_key.to_owned());
    let Some(spec) = lookup(&key) else {
        parsed
            .warnings
            .push(Warning::UnknownOption { key: key.clone() });
        return Ok(Segment {
            name: key.to_ascii_lowercase(),
            known: false,
            value: None,
            span,
        });
    };
    let value = percent::decode(raw_value).map_err(|_| {
        Error::new(ErrorKind::OptionPercentEncoding {
            option: spec.name.to_owned(),
        })
    })?;
    let kind = match spec.kind {
        Kind::Deprecated(replacement) => lookup(replacement).expect("replacement is listed").kind,
        kind => kind,
    };
    let value = match typed_value(spec.name, kind, &value, raw_value) {
        Ok(v) => Some(v),
        Err(warning) => {
            if let Warning::PropertiesIgnored {
                entry,
                encoded_comma,
            } = &warning
            {
                parsed.dropped_properties = Some(DroppedProperties {
                    entry: entry.clone().unwrap_or_default(),
                    encoded_comma: *encoded_comma,
                });
            }
            parsed.warnings.push(warning);
            None
        }
    };
    Ok(Segment {
        name: spec.name.to_owned(),
        known: true,
        value,
        span,
    })
}

fn typed_value(
    name: &'static str,
    kind: Kind,
    value: &str,
    raw_value: &str,
) -> Result<OptionValue, Warning> {
    let invalid = |expected| Warning::InvalidValue {
        option: name,
        value: (!matches!(kind, Kind::Secret)).then(|| value.to_owned()),
        expected,
    };
    match kind {
        Kind::Str => Ok(OptionValue::Str(value.to_owned())),
        Kind::Secret => Ok(OptionValue::Secret(crate::Secret::new(value))),
        Kind::Bool | Kind::Int { .. } if value.is_empty() => {
            Err(Warning::EmptyValue { option: name })
        }
        Kind::Bool => match value {
            "true" => Ok(OptionValue::Bool(true)),
            "false" => Ok(OptionValue::Bool(false)),
            _ => Err(invalid("'true' or 'false'")),
        },
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(i) if (min..=max).contains(&i) => Ok(OptionValue::Int(i)),
            _ => Err(invalid(int_expectation(min, max))),
        },
        Kind::Enum(allowed) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(value))
            .map(|a| OptionValue::Str((*a).to_owned()))
            .ok_or_else(|| invalid("one of the values listed in the URI options spec")),
        Kind::W => match value.parse::<i64>() {
            Ok(i) if (0..=I32_MAX).contains(&i) => Ok(OptionValue::Int(i)),
            Ok(_) => Err(invalid(
                "a non-negative integer or a string such as 'majority'",
            )),
            Err(_) if value.is_empty() => Err(Warning::EmptyValue { option: name }),
            Err(_) => Ok(OptionValue::Str(value.to_owned())),
        },
        Kind::List => Ok(OptionValue::List(
            value.split(',').map(str::to_owned).collect(),
        )),
        Kind::Pairs => parse_pairs(name, value, raw_value),
        Kind::Deprecated(_) => unreachable!("resolved by the caller"),
    }
}

fn int_expectation(min: i64, max: i64) -> &'static str {
    match (min, max) {
        (-1, 9) => "an integer from -1 to 9",
        (-1, _) => "-1 or a whole number of at least 90",
        (0, 65535) => "a whole number from 0 to 65535",
        (0, _) => "a non-negative whole number",
        (1, _) => "a positive whole number",
        (500, _) => "a whole number of at least 500",
        _ => "a whole number",
    }
}

/// Splits a decoded `K:v,K2:v2` value. The whole value is decoded before the split, as every
/// driver does, so an encoded comma (`%2C`) splits too; the spec's warnings test relies on it.
fn parse_pairs(name: &'static str, value: &str, raw_value: &str) -> Result<OptionValue, Warning> {
    if value.is_empty() {
        return if name == "readPreferenceTags" {
            Ok(OptionValue::Pairs(Vec::new()))
        } else {
            Err(Warning::EmptyValue { option: name })
        };
    }
    let mut pairs = Vec::new();
    for entry in value.split(',') {
        match entry.split_once(':') {
            Some((key, value)) => pairs.push(Property {
                key: key.to_owned(),
                value: value.to_owned(),
            }),
            None if name == "authMechanismProperties" => {
                let secret = SECRET_PROPERTY_KEYS.iter().any(|k| value.contains(k));
                return Err(Warning::PropertiesIgnored {
                    entry: (!secret).then(|| entry.to_owned()),
                    encoded_comma: raw_value.to_ascii_uppercase().contains("%2C"),
                });
            }
            None => {
                return Err(Warning::InvalidValue {
                    option: name,
                    value: Some(value.to_owned()),
                    expected: "comma-separated KEY:value pairs",
                });
            }
        }
    }
    Ok(OptionValue::Pairs(pairs))
}

/// Repeated keys: lists accumulate; authentication options must agree; others warn, last wins.
fn resolve_repeats(parsed: &mut ParsedOptions) -> Result<(), Error> {
    for spec in SPECS.iter().filter(|s| !s.repeatable) {
        let given: Vec<&Segment> = parsed
            .segments
            .iter()
            .filter(|s| s.known && s.name == spec.name)
            .collect();
        if given.len() < 2 {
            continue;
        }
        if AUTH_OPTIONS.contains(&spec.name) && given.windows(2).any(|w| w[0].value != w[1].value) {
            return Err(Error::new(ErrorKind::RepeatedAuthOption {
                option: spec.name,
            }));
        }
        parsed
            .warnings
            .push(Warning::RepeatedOption { option: spec.name });
    }
    Ok(())
}

/// A deprecated key is renamed to its replacement, unless the replacement is also given.
fn resolve_deprecated(parsed: &mut ParsedOptions) {
    for spec in SPECS {
        let Kind::Deprecated(replacement) = spec.kind else {
            continue;
        };
        if !parsed
            .segments
            .iter()
            .any(|s| s.known && s.name == spec.name)
        {
            continue;
        }
        let ignored = parsed.is_given(replacement);
        parsed.warnings.push(Warning::DeprecatedOption {
            option: spec.name,
            replacement,
            ignored,
        });
        for segment in parsed
            .segments
            .iter_mut()
            .filter(|s| s.known && s.name == spec.name)
        {
            if ignored {
                segment.value = None;
            } else {
                segment.name = replacement.to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(q: &str) -> ParsedOptions {
        parse(q, 0).unwrap()
    }

    #[test]
    fn keys_are_case_insensitive_and_values_typed() {
        let o = opts("TLS=true&W=1&appname=a%20b&w=majority");
        assert_eq!(o.get("tls"), Some(&OptionValue::Bool(true)));
        assert_eq!(o.get("W"), Some(&OptionValue::Str("majority".into())));
        assert_eq!(o.get("appName"), Some(&OptionValue::Str("a b".into())));
    }

    #[test]
    fn spans_cover_each_segment() {
        let o = opts("a=1&tls=true");
        assert_eq!(o.segments[1].span, 4..12);
    }

    #[test]
    fn invalid_and_empty_values_warn() {
        let o = opts("maxIdleTimeMS=&journal=&connectTimeoutMS=x");
        assert_eq!(o.warnings.len(), 3);
        assert_eq!(o.get("connectTimeoutMS"), None);
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let o = opts("proxyPassword=hunter2&proxyPassword=hunter3");
        let shown = format!("{:?} {}", o, o.warnings[0]);
        assert!(!shown.contains("hunter"), "{shown}");
    }

    #[test]
    fn repeated_auth_options_must_agree() {
        assert!(parse("authSource=a&authSource=b", 0).is_err());
        assert_eq!(opts("authSource=a&authSource=a").warnings.len(), 1);
    }

    #[test]
    fn read_preference_tags_accumulate() {
        let o = opts("readPreferenceTags=dc:ny,rack:1&readPreferenceTags=");
        assert_eq!(o.get_all("readPreferenceTags").len(), 2);
        assert!(o.warnings.is_empty());
    }
}
