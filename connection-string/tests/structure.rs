//! Structure, options and rendering, beyond what the official spec files check.

use mongodb_connection_string::{ConnectionString, Host, OptionValue, Scheme, Warning};

fn parse(uri: &str) -> ConnectionString {
    ConnectionString::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

fn error(uri: &str) -> String {
    match ConnectionString::parse(uri) {
        Ok(cs) => panic!("{uri} parsed: {cs:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn structure_is_typed() {
    let cs =
        parse("mongodb://us%40er:p%3Ass@h1:27018,[::1],%2Ftmp%2Fm.sock,10.0.0.1/my%2Edb?appName=x");
    assert_eq!(cs.scheme(), Scheme::Mongodb);
    assert_eq!(cs.username(), Some("us@er"));
    assert_eq!(cs.password().unwrap().secret(), "p:ss");
    let kinds: Vec<_> = cs.hosts().iter().map(|h| h.host.kind()).collect();
    assert_eq!(kinds, ["hostname", "ip_literal", "unix", "ipv4"]);
    assert_eq!(cs.hosts()[0].port, Some(27018));
    assert_eq!(cs.hosts()[2].host, Host::UnixSocket("/tmp/m.sock".into()));
    assert_eq!(cs.database(), Some("my.db"));
    assert_eq!(cs.option("APPNAME"), Some(&OptionValue::Str("x".into())));
}

#[test]
fn empty_password_counts_as_given() {
    let cs = parse("mongodb://alice:@h");
    assert!(cs.password().is_some_and(|p| p.is_empty()));
}

#[test]
fn srv_rules() {
    assert_eq!(
        parse("mongodb+srv://cluster0.example.net/?tls=true").scheme(),
        Scheme::MongodbSrv
    );
    assert!(error("mongodb+srv://10.0.0.1").contains("must be a DNS name"));
    assert!(
        error("mongodb+srv://a.example.com/?directConnection=true")
            .contains("directConnection=true")
    );
    assert!(error("mongodb://a,b/?directConnection=true").contains("more than one host"));
    assert!(error("mongodb://a/?srvMaxHosts=2").contains("only valid with a mongodb+srv://"));
    assert!(
        error("mongodb://a/?loadBalanced=true&replicaSet=rs")
            .contains("loadBalanced=true cannot be combined with replicaSet")
    );
}

#[test]
fn uri_options_conflicts_are_errors() {
    assert!(
        error("mongodb://a/?tlsInsecure=true&tlsAllowInvalidHostnames=false")
            .contains("'tlsInsecure' and 'tlsAllowInvalidHostnames'")
    );
    assert!(error("mongodb://a/?tls=true&ssl=false").contains("'tls' and 'ssl'"));
    parse("mongodb://a/?tls=true&ssl=true");
}

#[test]
fn malformed_pieces_are_explained() {
    assert!(error("MONGODB://h").contains("starts with 'MONGODB://'"));
    assert!(error("user:pass@h").contains("has no scheme"));
    assert!(
        error("mongodb://us er@h")
            .contains("user name contains an unescaped ' '; percent-encode it as %20")
    );
    assert!(error("mongodb://h/d b").contains("database name 'd b' contains ' '"));
    assert!(
        error("mongodb://h/?appName=%zz").contains("option 'appName' has invalid percent-encoding")
    );
    assert!(error("mongodb://h/?a=1&&b=2").contains("option '' has no '='"));
    assert!(error("mongodb://h,").contains("host '' is empty"));
    assert!(error("mongodb://%2Ftmp%2Fm").contains("does not end in '.sock'"));
}

#[test]
fn warnings_follow_the_spec() {
    let cs = parse("mongodb://h/?wtimeout=5&connectTimeoutMS=abc&readPreference=fastest&foo=1");
    assert_eq!(cs.option("wTimeoutMS"), Some(&OptionValue::Int(5)));
    assert_eq!(cs.warnings().len(), 4, "{:?}", cs.warnings());
    assert!(
        cs.warnings()
            .iter()
            .any(|w| matches!(w, Warning::UnknownOption { key } if key == "foo"))
    );
    assert!(
        cs.warnings()
            .iter()
            .any(|w| matches!(w, Warning::DeprecatedOption { ignored: false, .. }))
    );
}

#[test]
fn timeouts_are_durations() {
    let cs = parse("mongodb://h/?connectTimeoutMS=2500&timeoutMS=0");
    assert_eq!(
        cs.connect_timeout(),
        Some(std::time::Duration::from_millis(2500))
    );
    assert_eq!(cs.timeout(), Some(std::time::Duration::ZERO));
}

/// Rendering removes only our properties, with one '&', and keeps every other byte.
#[test]
fn rendering_for_the_driver() {
    let cases = [
        (
            "mongodb://u@h1,h2:27018/db?appName=a%20b&authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api%3A%2F%2Fx&foo=bar",
            "mongodb://u@h1,h2:27018/db?appName=a%20b&authMechanism=MONGODB-OIDC&foo=bar",
        ),
        (
            "mongodb://h/?authMechanismProperties=ENVIRONMENT:k8s&authMechanism=MONGODB-OIDC",
            "mongodb://h/?authMechanism=MONGODB-OIDC",
        ),
        (
            "mongodb://h?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s&authMechanismProperties=ENVIRONMENT:k8s",
            "mongodb://h?authMechanism=MONGODB-OIDC",
        ),
        (
            "mongodb+srv://c.example.net/?retryWrites=true&w=majority&authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test",
            "mongodb+srv://c.example.net/?retryWrites=true&w=majority&authMechanism=MONGODB-OIDC",
        ),
        (
            "mongodb://h/?authMechanism=GSSAPI&authMechanismProperties=SERVICE_NAME:x",
            "mongodb://h/?authMechanism=GSSAPI&authMechanismProperties=SERVICE_NAME:x",
        ),
        ("mongodb://h", "mongodb://h"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            parse(input).without_oidc_properties().secret(),
            expected,
            "{input}"
        );
    }
}
