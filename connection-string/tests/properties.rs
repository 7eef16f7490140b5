//! Property-based checks: no input makes the parser panic, and rendering for the driver is
//! stable (re-parsing the rendered string gives the same connection, rendered the same way).

use mongodb_connection_string::ConnectionString;
use proptest::prelude::*;

/// Exercises every public entry point on one input; none of them may panic.
fn exercise(input: &str) {
    if let Ok(cs) = ConnectionString::parse(input) {
        let _ = format!("{cs:?}");
        let _ = cs
            .credential()
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.to_string());
        let _ = cs.without_oidc_properties();
        for w in cs.warnings() {
            let _ = w.to_string();
        }
    }
}

/// Characters that matter to the grammar, so random strings reach deep into the parser.
const ALPHABET: &str = "mongdb+srv:/@?&=,%.[]:$_-AEINORTVZK8szgcp0123456789ü ";

fn grammar_string() -> impl Strategy<Value = String> {
    let chars: Vec<char> = ALPHABET.chars().collect();
    prop::collection::vec(prop::sample::select(chars), 0..80).prop_map(|v| v.into_iter().collect())
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,8}(\\.[a-z]{2,5}){0,2}",
        "(1[0-9]{2}|[1-9][0-9]?)\\.[0-9]{1,2}\\.[0-9]{1,2}\\.[1-9]",
        Just("[::1]".to_owned()),
        "%2Ftmp%2F[a-z]{1,6}\\.sock",
    ]
    .prop_flat_map(|h| {
        let socket = h.ends_with(".sock");
        (
            Just(h),
            if socket {
                Just(None).boxed()
            } else {
                proptest::option::of(1u16..).boxed()
            },
        )
    })
    .prop_map(|(h, port)| match port {
        Some(p) => format!("{h}:{p}"),
        None => h,
    })
}

fn option() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("appName=my%20app".to_owned()),
        Just("w=majority".to_owned()),
        Just("retryWrites=false".to_owned()),
        Just("connectTimeoutMS=2000".to_owned()),
        Just("unknownOpt=%41".to_owned()),
        Just("authMechanism=MONGODB-OIDC".to_owned()),
        "authMechanismProperties=ENVIRONMENT:(k8s|test)",
        "authMechanismProperties=ENVIRONMENT:(azure|gcp),TOKEN_RESOURCE:[a-z:/%2F]{1,12}",
    ]
}

fn uri() -> impl Strategy<Value = String> {
    (
        proptest::option::of("[a-z]{1,6}"),
        prop::collection::vec(host(), 1..4),
        proptest::option::of("[a-z]{1,6}"),
        prop::collection::vec(option(), 0..6),
    )
        .prop_map(|(user, hosts, db, options)| {
            let mut s = String::from("mongodb://");
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&hosts.join(","));
            s.push('/');
            s.push_str(&db.unwrap_or_default());
            if !options.is_empty() {
                s.push('?');
                s.push_str(&options.join("&"));
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(input in any::<String>()) {
        exercise(&input);
    }

    #[test]
    fn never_panics_on_grammar_soup(input in grammar_string()) {
        exercise(&input);
        exercise(&format!("mongodb://{input}"));
    }

    #[test]
    fn rendering_is_stable(uri in uri()) {
        // Generated strings may break the auth rules (repeats, mixes); structure must hold.
        let Ok(cs) = ConnectionString::parse(&uri) else { return Ok(()) };
        let rendered = cs.without_oidc_properties().into_secret();
        let again = ConnectionString::parse(&rendered).expect("rendered string parses");
        prop_assert_eq!(again.without_oidc_properties().into_secret(), rendered.clone());
        prop_assert_eq!(again.hosts(), cs.hosts());
        prop_assert_eq!(again.username(), cs.username());
        prop_assert_eq!(again.database(), cs.database());
        let kept = |c: &ConnectionString| -> Vec<String> {
            c.options().filter(|(k, _)| *k != "authMechanismProperties").map(|(k, v)| format!("{k}={v:?}")).collect()
        };
        prop_assert_eq!(kept(&again), kept(&cs));
        if rendered != uri {
            prop_assert!(again.mechanism_properties().is_empty());
        }
    }
}
