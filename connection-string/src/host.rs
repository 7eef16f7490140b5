//! Host identifiers: host names, IPv4 addresses, `[IPv6]` literals and percent-encoded UNIX
//! domain socket paths, each with an optional port.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind};
use crate::percent;

/// The host part of a host identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name (or anything that is not one of the other kinds, such as `256.0.0.1`).
    Hostname(String),
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// The address inside `[...]`, without the brackets; a zone (`%25eth0`) is kept decoded.
    IpLiteral(String),
    /// A UNIX domain socket path, percent-decoded.
    UnixSocket(String),
}

impl Host {
    /// The spec's name for the kind of host: `hostname`, `ipv4`, `ip_literal` or `unix`.
    pub fn kind(&self) -> &'static str {
        match self {
            Host::Hostname(_) => "hostname",
            Host::Ipv4(_) => "ipv4",
            Host::IpLiteral(_) => "ip_literal",
            Host::UnixSocket(_) => "unix",
        }
    }

    /// The host as a string, without brackets or port.
    pub fn as_string(&self) -> String {
        match self {
            Host::Hostname(s) | Host::IpLiteral(s) | Host::UnixSocket(s) => s.clone(),
            Host::Ipv4(ip) => ip.to_string(),
        }
    }
}

/// One host identifier from the connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    /// The host.
    pub host: Host,
    /// The port, when one is given.
    pub port: Option<u16>,
}

impl fmt::Display for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::IpLiteral(ip) => write!(f, "[{ip}]")?,
            other => f.write_str(&other.as_string())?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// Parses one raw (still percent-encoded) host identifier.
pub(crate) fn parse_host(raw: &str) -> Result<HostAddress, Error> {
    let err = |kind| Err(Error::new(kind));
    if raw.is_empty() {
        return err(ErrorKind::EmptyHost {
            host: raw.to_owned(),
        });
    }
    if raw.starts_with('[') {
        return parse_ip_literal(raw);
    }
    let Ok(decoded) = percent::decode(raw) else {
        return err(ErrorKind::HostPercent {
            host: raw.to_owned(),
        });
    };
    if decoded.contains('/') {
        return parse_socket(decoded);
    }
    let (name, port) = match raw.matches(':').count() {
        0 => (decoded.as_str(), None),
        1 => {
            let (name, port) = decoded.split_once(':').expect("one colon");
            (name, Some(parse_port(name, port)?))
        }
        _ => {
            return err(ErrorKind::TooManyColons {
                host: raw.to_owned(),
            });
        }
    };
    if name.is_empty() {
        return err(ErrorKind::EmptyHost {
            host: raw.to_owned(),
        });
    }
    if let Some(ch) = name.chars().find(|c| is_forbidden_in_hostname(*c)) {
        return err(ErrorKind::HostChar {
            host: name.to_owned(),
            ch,
        });
    }
    let host = match name.parse::<Ipv4Addr>() {
        Ok(ip) => Host::Ipv4(ip),
        Err(_) => Host::Hostname(name.to_owned()),
    };
    Ok(HostAddress { host, port })
}

fn is_forbidden_in_hostname(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '@' | '?' | '#' | '[' | ']' | '\\' | '%')
}

fn parse_ip_literal(raw: &str) -> Result<HostAddress, Error> {
    let invalid = |reason| {
        Err(Error::new(ErrorKind::InvalidIpLiteral {
            host: raw.to_owned(),
            reason,
        }))
    };
    let Some(close) = raw.find(']') else {
        return invalid("the '[' has no closing ']'");
    };
    let port = match &raw[close + 1..] {
        "" => None,
        rest => match rest.strip_prefix(':') {
            Some(port) => Some(parse_port(&raw[..=close], port)?),
            None => return invalid("only ':port' may follow the closing ']'"),
        },
    };
    let Ok(inside) = percent::decode(&raw[1..close]) else {
        return invalid("it has invalid percent-encoding");
    };
    // A zone index (fe80::1%25eth0) is allowed after the address.
    let address = inside.split('%').next().unwrap_or_default();
    if address.parse::<Ipv6Addr>().is_err() {
        return invalid("the text inside the brackets is not an IPv6 address");
    }
    Ok(HostAddress {
        host: Host::IpLiteral(inside),
        port,
    })
}

fn parse_socket(decoded: String) -> Result<HostAddress, Error> {
    if decoded.ends_with(".sock") {
        return Ok(HostAddress {
            host: Host::UnixSocket(decoded),
            port: None,
        });
    }
    let kind = match decoded.rsplit_once(':') {
        Some((path, _)) if path.ends_with(".sock") => ErrorKind::SocketWithPort { host: decoded },
        _ => ErrorKind::SocketWithoutSockSuffix { host: decoded },
    };
    Err(Error::new(kind))
}

fn parse_port(host: &str, port: &str) -> Result<u16, Error> {
    let valid = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if valid && p != 0 => Ok(p),
        _ => Err(Error::new(ErrorKind::InvalidPort {
            host: host.to_owned(),
            port: port.to_owned(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(parse_host("127.0.0.1").unwrap().host.kind(), "ipv4");
        assert_eq!(parse_host("256.0.0.1").unwrap().host.kind(), "hostname");
        assert_eq!(parse_host("[::1]:27018").unwrap().port, Some(27018));
        assert_eq!(
            parse_host("[fe80::1%25eth0]").unwrap().host.as_string(),
            "fe80::1%eth0"
        );
        assert_eq!(parse_host("%2Ftmp%2Fa.sock").unwrap().host.kind(), "unix");
    }

    #[test]
    fn rejects() {
        for bad in [
            "", ":27017", "a::1", "a:0", "a:65536", "a:+1", "[::1", "[::1]x", "[zz]",
        ] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
        let e = parse_host("%2Ftmp%2Fa.sock:27017").unwrap_err().to_string();
        assert!(e.contains("cannot have a port"), "{e}");
    }
}
