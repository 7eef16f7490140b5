//! Warnings: what the connection-string spec says to report and ignore rather than reject.

use std::fmt;

/// Something in the connection string that was ignored, or that works but deserves attention.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// An option this parser does not know; it is ignored here and passed on unchanged.
    UnknownOption {
        /// The key as written.
        key: String,
    },
    /// A known option with a value of the wrong type or out of range; the option is ignored.
    InvalidValue {
        /// The option's canonical name.
        option: &'static str,
        /// The value as decoded, or `None` when the option holds a secret.
        value: Option<String>,
        /// What the option accepts.
        expected: &'static str,
    },
    /// An integer or boolean option with an empty value; the option is ignored.
    EmptyValue {
        /// The option's canonical name.
        option: &'static str,
    },
    /// An option given more than once; the last value is used.
    RepeatedOption {
        /// The option's canonical name.
        option: &'static str,
    },
    /// A deprecated option name.
    DeprecatedOption {
        /// The deprecated name.
        option: &'static str,
        /// The name to use instead.
        replacement: &'static str,
        /// Whether the deprecated option was ignored because its replacement is also given.
        ignored: bool,
    },
    /// `authMechanismProperties` could not be split into `KEY:value` pairs and was ignored.
    PropertiesIgnored {
        /// The entry without a `:`, when it is safe to show.
        entry: Option<String>,
        /// Whether the raw value contained `%2C`.
        encoded_comma: bool,
    },
    /// A user name that the chosen MONGODB-OIDC environment does not use.
    UnusedUsername {
        /// The environment (`gcp` or `k8s`).
        environment: &'static str,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownOption { key } => {
                write!(f, "unsupported option '{key}' is ignored by this parser")
            }
            Warning::InvalidValue {
                option,
                value: Some(v),
                expected,
            } => {
                write!(
                    f,
                    "unsupported value '{v}' for option '{option}' is ignored; expected {expected}"
                )
            }
            Warning::InvalidValue {
                option,
                value: None,
                expected,
            } => {
                write!(
                    f,
                    "unsupported value for option '{option}' is ignored; expected {expected}"
                )
            }
            Warning::EmptyValue { option } => {
                write!(f, "option '{option}' has an empty value and is ignored")
            }
            Warning::RepeatedOption { option } => {
                write!(
                    f,
                    "option '{option}' is given more than once; the last value is used"
                )
            }
            Warning::DeprecatedOption {
                option,
                replacement,
                ignored: true,
            } => write!(
                f,
                "deprecated option '{option}' is ignored because its replacement '{replacement}' is also given"
            ),
            Warning::DeprecatedOption {
                option,
                replacement,
                ignored: false,
            } => {
                write!(
                    f,
                    "option '{option}' is deprecated; use '{replacement}' instead"
                )
            }
            Warning::PropertiesIgnored {
                entry,
                encoded_comma,
            } => {
                f.write_str("authMechanismProperties is ignored: ")?;
                match entry {
                    Some(e) => write!(
                        f,
                        "after percent-decoding, entry '{e}' is not a KEY:value pair"
                    )?,
                    None => {
                        f.write_str("after percent-decoding, an entry is not a KEY:value pair")?
                    }
                }
                if *encoded_comma {
                    f.write_str(" (a %2C in a value is decoded to ',' and splits the list)")?;
                }
                Ok(())
            }
            Warning::UnusedUsername { environment } => write!(
                f,
                "the user name is not used by ENVIRONMENT:{environment} (only azure uses it, as the managed identity's client id)"
            ),
        }
    }
}
