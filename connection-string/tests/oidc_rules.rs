//! Every MONGODB-OIDC rule, as a table of cases written for this project: the auth spec's
//! connection-string cases for MONGODB-OIDC, the rules of REFERENCE.md §1, and the places
//! where other drivers go wrong. Each error case also checks which option the error names
//! and that no password ever appears in the message.

use mongodb_connection_string::{
    CallbackKind, ConnectionString, OidcConfig, OidcEnvironment, OidcSettings, Warning,
};

/// A password that must never show up in any message.
const CANARY: &str = "hunter2-canary";

enum Expect {
    /// Valid, with this environment (`None` for a callback-only configuration).
    Env(Option<OidcEnvironment>),
    /// An error whose message contains every fragment and names this option.
    Fails(&'static [&'static str], Option<&'static str>),
}
use Expect::*;

/// Code-side settings for a case: extra properties and a callback kind.
#[derive(Default, Clone, Copy)]
struct Code {
    properties: &'static [(&'static str, &'static str)],
    callbacks: &'static [CallbackKind],
    allowed_hosts: Option<&'static [&'static str]>,
}

const NONE: Code = Code {
    properties: &[],
    callbacks: &[],
    allowed_hosts: None,
};
const MACHINE: Code = Code {
    properties: &[],
    callbacks: &[CallbackKind::Machine],
    allowed_hosts: None,
};
const HUMAN: Code = Code {
    properties: &[],
    callbacks: &[CallbackKind::Human],
    allowed_hosts: None,
};

fn azure(resource: &str, client_id: Option<&str>) -> Expect {
    Env(Some(OidcEnvironment::Azure {
        token_resource: resource.into(),
        client_id: client_id.map(Into::into),
    }))
}

fn gcp(audience: &str) -> Expect {
    Env(Some(OidcEnvironment::Gcp {
        audience: audience.into(),
    }))
}

const P: &str = "mongodb://localhost/?authMechanism=MONGODB-OIDC&authMechanismProperties=";

fn cases() -> Vec<(String, Code, Expect)> {
    let uri = |props: &str| format!("{P}{props}");
    let user_uri = |user: &str, props: &str| {
        format!(
            "mongodb://{user}@localhost/?authMechanism=MONGODB-OIDC&authMechanismProperties={props}"
        )
    };
    vec![
        // --- the auth spec's MONGODB-OIDC connection-string cases ---
        (uri("ENVIRONMENT:test"), NONE, Env(Some(OidcEnvironment::Test))),
        (
            "mongodb://localhost/?authMechanism=MONGODB-OIDC&authSource=$external&authMechanismProperties=ENVIRONMENT:test".into(),
            NONE,
            Env(Some(OidcEnvironment::Test)),
        ),
        (user_uri(&format!("user:{CANARY}"), "ENVIRONMENT:test"), NONE, Fails(&["does not take a password"], None)),
        (user_uri("principalName", "ENVIRONMENT:test"), NONE, Fails(&["ENVIRONMENT:test does not take a user name"], None)),
        (uri("ENVIRONMENT:invalid"), NONE, Fails(&["ENVIRONMENT 'invalid' is not supported", "test, azure, gcp, k8s"], Some("ENVIRONMENT"))),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), NONE, Fails(&["needs ENVIRONMENT", "or a callback set in code"], None)),
        (uri("UnsupportedProperty:unexisted"), NONE, Fails(&["'UnsupportedProperty' is not supported by MONGODB-OIDC"], Some("UnsupportedProperty"))),
        (uri("ENVIRONMENT:azure,TOKEN_RESOURCE:foo"), NONE, azure("foo", None)),
        (user_uri("user", "ENVIRONMENT:azure,TOKEN_RESOURCE:foo"), NONE, azure("foo", Some("user"))),
        (user_uri("user", "ENVIRONMENT:azure,TOKEN_RESOURCE:mongodb%3A%2F%2Ftest-cluster"), NONE, azure("mongodb://test-cluster", Some("user"))),
        (user_uri("user", "ENVIRONMENT:azure,TOKEN_RESOURCE:mongodb://test-cluster"), NONE, azure("mongodb://test-cluster", Some("user"))),
        (user_uri("user", "ENVIRONMENT:azure,TOKEN_RESOURCE:abcd%25ef%3Ag%26hi"), NONE, azure("abcd%ef:g&hi", Some("user"))),
        (user_uri("user", "ENVIRONMENT:azure,TOKEN_RESOURCE:a$b"), NONE, azure("a$b", Some("user"))),
        (user_uri(&format!("user:{CANARY}"), "ENVIRONMENT:azure,TOKEN_RESOURCE:foo"), NONE, Fails(&["does not take a password"], None)),
        (user_uri("username", "ENVIRONMENT:azure"), NONE, Fails(&["ENVIRONMENT:azure needs TOKEN_RESOURCE"], Some("TOKEN_RESOURCE"))),
        (uri("ENVIRONMENT:gcp,TOKEN_RESOURCE:foo"), NONE, gcp("foo")),
        (user_uri(&format!("user:{CANARY}"), "ENVIRONMENT:gcp,TOKEN_RESOURCE:foo"), NONE, Fails(&["does not take a password"], None)),
        (user_uri(&format!("user:{CANARY}"), "ENVIRONMENT:gcp"), NONE, Fails(&["does not take a password"], None)),
        (uri("ENVIRONMENT:k8s"), NONE, Env(Some(OidcEnvironment::K8s))),
        (user_uri(&format!("user:{CANARY}"), "ENVIRONMENT:k8s"), NONE, Fails(&["does not take a password"], None)),
        // --- REFERENCE.md §1 and the rules ---
        (user_uri("user:", "ENVIRONMENT:k8s"), NONE, Fails(&["an empty password after 'user:' still counts"], None)),
        (uri("ENVIRONMENT:azure,TOKEN_RESOURCE:"), NONE, Fails(&["TOKEN_RESOURCE is empty"], Some("TOKEN_RESOURCE"))),
        (uri("ENVIRONMENT:gcp,TOKEN_RESOURCE:a,TOKEN_RESOURCE:b"), NONE, Fails(&["'TOKEN_RESOURCE' is given more than once"], Some("TOKEN_RESOURCE"))),
        (uri("ENVIRONMENT:k8s,ENVIRONMENT:k8s"), NONE, Fails(&["'ENVIRONMENT' is given more than once"], Some("ENVIRONMENT"))),
        (uri("environment:azure,TOKEN_RESOURCE:x"), NONE, Fails(&["'environment' is not supported", "names are case-sensitive: did you mean 'ENVIRONMENT'?"], Some("environment"))),
        (uri("ENVIRONMENT:Azure,TOKEN_RESOURCE:x"), NONE, Fails(&["ENVIRONMENT 'Azure' is not supported; expected one of test, azure, gcp, k8s (values are case-sensitive: did you mean 'azure'?)"], Some("ENVIRONMENT"))),
        (uri("ENVIRONMENT:azrue,TOKEN_RESOURCE:x"), NONE, Fails(&["did you mean 'azure'?"], Some("ENVIRONMENT"))),
        (uri("TOKEN_RESOURCE:mongodb://host1%2Chost2,ENVIRONMENT:azure"), NONE, Fails(&["authMechanismProperties was ignored (it contains %2C)", "'host2'", "cannot contain a comma", "set such a TOKEN_RESOURCE in code"], None)),
        (uri("ENVIRONMENT:azure,TOKEN_RESOURCE:api://a,b"), NONE, Fails(&["authMechanismProperties was ignored", "'b' is not a KEY:value pair", "cannot contain a comma"], None)),
        (uri("TOKEN_RESOURCE:a%2Cb"), Code { properties: &[("ENVIRONMENT", "gcp")], ..NONE }, Fails(&["ENVIRONMENT:gcp needs TOKEN_RESOURCE", "ignored (it contains %2C)"], Some("TOKEN_RESOURCE"))),
        (uri("ENVIRONMENT:azure,OIDC_CALLBACK:x"), NONE, Fails(&["OIDC_CALLBACK cannot be given in a connection string; set it in code"], Some("OIDC_CALLBACK"))),
        (uri("OIDC_HUMAN_CALLBACK:x"), NONE, Fails(&["OIDC_HUMAN_CALLBACK cannot be given in a connection string"], Some("OIDC_HUMAN_CALLBACK"))),
        (uri("ALLOWED_HOSTS:localhost"), HUMAN, Fails(&["ALLOWED_HOSTS cannot be given in a connection string"], Some("ALLOWED_HOSTS"))),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC&authSource=admin&authMechanismProperties=ENVIRONMENT:k8s".into(), NONE, Fails(&["authSource 'admin' is not allowed with MONGODB-OIDC", "$external"], Some("authSource"))),
        ("mongodb://localhost/?authSource=&authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s".into(), NONE, Fails(&["authSource is empty"], Some("authSource"))),
        ("mongodb://localhost/?authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:x".into(), NONE, Fails(&["'ENVIRONMENT' is a MONGODB-OIDC mechanism property, but authMechanism is not set; add authMechanism=MONGODB-OIDC"], Some("ENVIRONMENT"))),
        (format!("mongodb://u:{CANARY}@localhost/?authMechanism=SCRAM-SHA-256&authMechanismProperties=TOKEN_RESOURCE:x"), NONE, Fails(&["'TOKEN_RESOURCE' is a MONGODB-OIDC mechanism property, but authMechanism is SCRAM-SHA-256"], Some("TOKEN_RESOURCE"))),
        ("mongodb://localhost/?authMechanism=mongodb-oidc&authMechanismProperties=ENVIRONMENT:k8s".into(), NONE, Fails(&["authMechanism 'mongodb-oidc' is not supported", "did you mean 'MONGODB-OIDC'?"], Some("authMechanism"))),
        (uri("ENVIRONMENT:k8s,TOKEN_RESOURCE:x"), NONE, Fails(&["TOKEN_RESOURCE is only used with ENVIRONMENT:azure or ENVIRONMENT:gcp, but ENVIRONMENT is k8s"], Some("TOKEN_RESOURCE"))),
        (uri("ENVIRONMENT:test,TOKEN_RESOURCE:x"), NONE, Fails(&["but ENVIRONMENT is test"], Some("TOKEN_RESOURCE"))),
        (uri("ENVIRONMENT:gcp,TOKEN_RESOURCE:https://x.example.com:8443/aud"), NONE, gcp("https://x.example.com:8443/aud")),
        (format!("{P}ENVIRONMENT:k8s&authMechanismProperties=ENVIRONMENT:gcp,TOKEN_RESOURCE:x"), NONE, Fails(&["'authMechanismProperties' is given more than once with different values"], Some("authMechanismProperties"))),
        // --- settings made in code, checked by the same rules ---
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), MACHINE, Env(None)),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), HUMAN, Env(None)),
        (uri("ENVIRONMENT:test"), MACHINE, Fails(&["ENVIRONMENT:test and OIDC_CALLBACK are both set"], Some("ENVIRONMENT"))),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), Code { callbacks: &[CallbackKind::Machine, CallbackKind::Human], ..NONE }, Fails(&["OIDC_CALLBACK and OIDC_HUMAN_CALLBACK are both set"], Some("OIDC_HUMAN_CALLBACK"))),
        (uri("ENVIRONMENT:azure,TOKEN_RESOURCE:x"), Code { allowed_hosts: Some(&[]), ..NONE }, Fails(&["ALLOWED_HOSTS only applies to the human flow", "built-in ENVIRONMENT"], Some("ALLOWED_HOSTS"))),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), Code { allowed_hosts: Some(&["localhost"]), ..MACHINE }, Fails(&["machine callback"], Some("ALLOWED_HOSTS"))),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), Code { allowed_hosts: Some(&["*.*.example.com"]), ..HUMAN }, Fails(&["'*' is only allowed as a leading '*.' wildcard"], Some("ALLOWED_HOSTS"))),
        (uri("ENVIRONMENT:gcp,TOKEN_RESOURCE:a"), Code { properties: &[("TOKEN_RESOURCE", "b")], ..NONE }, Fails(&["TOKEN_RESOURCE is set both in the connection string and in code"], Some("TOKEN_RESOURCE"))),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), Code { properties: &[("ENVIRONMENT", "gcp"), ("TOKEN_RESOURCE", "api://a,b")], ..NONE }, gcp("api://a,b")),
        ("mongodb://localhost/?authMechanism=MONGODB-OIDC".into(), Code { properties: &[("TOKEN_RESOURCE", "x")], ..MACHINE }, Fails(&["TOKEN_RESOURCE is only used with ENVIRONMENT:azure or ENVIRONMENT:gcp"], Some("TOKEN_RESOURCE"))),
    ]
}

fn settings(cs: &ConnectionString, code: Code) -> OidcSettings {
    let mut s = OidcSettings::from_connection_string(cs);
    for (k, v) in code.properties {
        s = s.property(*k, *v);
    }
    for cb in code.callbacks {
        s = s.callback(*cb);
    }
    if let Some(hosts) = code.allowed_hosts {
        s = s.allowed_hosts(hosts.iter().map(|h| h.to_string()).collect());
    }
    s
}

/// The URI-only path (`credential()`) and the combined path must agree whenever no code
/// settings are involved; with code settings only the combined path applies.
fn evaluate(uri: &str, code: Code) -> Result<OidcConfig, mongodb_connection_string::Error> {
    let cs = ConnectionString::parse(uri)?;
    let no_code =
        code.properties.is_empty() && code.callbacks.is_empty() && code.allowed_hosts.is_none();
    if no_code {
        return cs
            .credential()
            .map(|c| c.and_then(|c| c.oidc).expect("an OIDC credential"));
    }
    cs.credential().ok(); // must not panic either way
    settings(&cs, code).validate()
}

#[test]
fn oidc_rules_table() {
    let mut failures = Vec::new();
    for (uri, code, expect) in cases() {
        let result = evaluate(&uri, code);
        let problem = match (&expect, &result) {
            (Env(env), Ok(config)) if config.environment == *env => None,
            (Env(env), Ok(config)) => {
                Some(format!("expected {env:?}, got {:?}", config.environment))
            }
            (Env(_), Err(e)) => Some(format!("expected valid, got: {e}")),
            (Fails(..), Ok(config)) => Some(format!("expected an error, got {config:?}")),
            (Fails(fragments, option), Err(e)) => {
                let message = e.to_string();
                let missing: Vec<_> = fragments.iter().filter(|f| !message.contains(*f)).collect();
                if !missing.is_empty() {
                    Some(format!("message lacks {missing:?}: {message}"))
                } else if e.option() != *option {
                    Some(format!(
                        "option(): expected {option:?}, got {:?} ({message})",
                        e.option()
                    ))
                } else if message.contains(CANARY) || format!("{e:?}").contains(CANARY) {
                    Some(format!("password leaked: {message}"))
                } else {
                    None
                }
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{uri}\n    {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn username_from_code_and_uri() {
    let uri = format!("{P}ENVIRONMENT:azure,TOKEN_RESOURCE:x");
    let cs = ConnectionString::parse(&uri).unwrap();
    let config = OidcSettings::from_connection_string(&cs)
        .username("cid")
        .validate()
        .unwrap();
    assert_eq!(
        config.environment,
        Some(OidcEnvironment::Azure {
            token_resource: "x".into(),
            client_id: Some("cid".into())
        })
    );
    let cs = ConnectionString::parse(&uri.replace("localhost", "uri-user@localhost")).unwrap();
    let err = OidcSettings::from_connection_string(&cs)
        .username("cid")
        .validate()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("user name is set both in the connection string and in code")
    );
}

#[test]
fn unused_username_is_a_warning() {
    let cs = ConnectionString::parse("mongodb://someone@localhost/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:gcp,TOKEN_RESOURCE:a").unwrap();
    let credential = cs.credential().unwrap().unwrap();
    assert_eq!(
        credential.warnings,
        vec![Warning::UnusedUsername { environment: "gcp" }]
    );
}

#[test]
fn comma_case_warns_at_parse_and_keeps_the_mechanism() {
    let cs = ConnectionString::parse(&format!(
        "{P}TOKEN_RESOURCE:mongodb://host1%2Chost2,ENVIRONMENT:azure"
    ))
    .unwrap();
    assert!(matches!(
        cs.warnings(),
        [Warning::PropertiesIgnored {
            encoded_comma: true,
            ..
        }]
    ));
    assert!(cs.mechanism_properties().is_empty());
    assert!(cs.option("authMechanism").is_some());
}

#[test]
fn debug_of_every_public_type_hides_the_password() {
    let cs = ConnectionString::parse(&format!(
        "mongodb://u:{CANARY}@localhost/?authMechanism=SCRAM-SHA-256&proxyPassword={CANARY}&tlsCertificateKeyFilePassword={CANARY}"
    ))
    .unwrap();
    let credential = cs.credential().unwrap().unwrap();
    let shown = format!("{cs:?} {credential:?} {:?}", cs.without_oidc_properties());
    assert!(!shown.contains(CANARY), "{shown}");
    assert_eq!(credential.password.unwrap().secret(), CANARY);
}

#[test]
fn aws_session_token_is_never_echoed() {
    let uri = format!(
        "mongodb://localhost/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:{CANARY},x"
    );
    let cs = ConnectionString::parse(&uri).unwrap();
    let shown = format!(
        "{cs:?} {:?}",
        cs.warnings()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    assert!(!shown.contains(CANARY), "{shown}");
    let uri = format!(
        "mongodb://localhost/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:{CANARY}"
    );
    let err = ConnectionString::parse(&uri)
        .unwrap()
        .credential()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(CANARY));
}
