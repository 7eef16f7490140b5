//! The MONGODB-OIDC machine-flow prose tests, written once for any [`Target`]: through
//! `mongodb-oidc` and a real `mongodb::Client`, for every token source (a callback, `test`,
//! `azure`, `gcp`, `k8s`). "Callback calls" are counted by this crate's fetch statistics,
//! which see every call into a token source, built-in or not.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mongodb::bson::{Document, doc};
use mongodb_oidc::{CallbackContext, Error, OidcOptions, TokenResponse};
use mongodb_oidc_testkit::emulators::ManagedIdentity;
use mongodb_oidc_testkit::server::FailPoint;

use super::{Case, Layout, Setup, Source, Target, find, insert};

const ALL: &[Source] = &[
    Source::Callback,
    Source::Test,
    Source::Azure,
    Source::Gcp,
    Source::K8s,
];
const CALLBACK: &[Source] = &[Source::Callback];
const AZURE: &[Source] = &[Source::Azure];

/// Every case, with the sources it runs for and whether it needs the kit's own server.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("1.1", ALL, Layout::Single, false, |t, s| {
            Box::pin(case_1_1(t, s))
        }),
        Case::new("1.2", ALL, Layout::Single, false, |t, s| {
            Box::pin(case_1_2(t, s))
        }),
        Case::new("2.1", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_2_1(t))
        }),
        Case::new("2.2", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_2_2(t))
        }),
        Case::new("2.3", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_2_3(t))
        }),
        Case::new("2.4", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_2_4(t))
        }),
        Case::new("2.5", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_2_5(t))
        }),
        Case::new("3.1", ALL, Layout::Single, true, |t, s| {
            Box::pin(case_3_1(t, s))
        }),
        Case::new("3.2", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_3_2(t))
        }),
        Case::new("3.3", ALL, Layout::Single, false, |t, s| {
            Box::pin(case_3_3(t, s))
        }),
        Case::new("4.1", ALL, Layout::Single, false, |t, s| {
            Box::pin(case_4_1(t, s))
        }),
        Case::new("4.2", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_4_2(t))
        }),
        Case::new("4.3", CALLBACK, Layout::Single, false, |t, _| {
            Box::pin(case_4_3(t))
        }),
        Case::new("4.4", ALL, Layout::Single, true, |t, s| {
            Box::pin(case_4_4(t, s))
        }),
        Case::new("4.5", ALL, Layout::Single, false, |t, s| {
            Box::pin(case_4_5(t, s))
        }),
        Case::new("5.1", AZURE, Layout::Single, false, |t, _| {
            Box::pin(case_5_1(t))
        }),
        Case::new("5.2", AZURE, Layout::Single, false, |t, _| {
            Box::pin(case_5_2(t))
        }),
    ]
}

fn app(case: &str, source: Source) -> String {
    format!("m{case}-{source:?}").replace('.', "")
}

/// 1.1 Callback is called during authentication.
pub async fn case_1_1(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("1.1", source));
    find(&s.client().await).await.unwrap();
    assert_eq!(s.fetches(), 1);
    if source == Source::Callback {
        assert_eq!(s.callback_calls.load(Ordering::SeqCst), 1);
    }
}

/// 1.2 Callback is called once for multiple connections: 10 tasks × 100 finds.
pub async fn case_1_2(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("1.2", source));
    let client = s.client().await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    find(&client).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(s.fetches(), 1);
}

/// 3.1 Authentication failure with cached tokens fetches a new token and retries: the cached
/// token is poisoned by moving the kit's clock past its expiry, then a new connection must
/// authenticate.
pub async fn case_3_1(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("3.1", source));
    let client = s.client().await;
    find(&client).await.unwrap();
    s.drop_pooled_connection(&client).await;
    s.expire_tokens();
    find(&client).await.unwrap();
    assert_eq!(
        s.fetches(),
        2,
        "exactly one new token after the cached one was rejected"
    );
    if let Some(stats) = target.stats() {
        assert!(
            stats.failure_reasons.iter().any(|r| r.contains("expired")),
            "{stats:?}"
        );
    }
}

/// 3.3 Unexpected error code does not clear the cache. The prose test expects one callback call
/// in all; with `mongodb` 3.9 it is two, because the driver caches a token only after a
/// successful saslStart (the driver's own suite omits 3.3). What holds: the first find fails
/// with the injected error, the second succeeds, and no extra token is fetched.
pub async fn case_3_3(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("3.3", source));
    s.fail(FailPoint::error(&["saslStart"], 20, 1)).await;
    let client = s.client().await;
    let err = find(&client).await.unwrap_err();
    assert!(format!("{err:?}").contains("code: 20"), "{err:?}");
    find(&client).await.unwrap();
    assert_eq!(s.fetches(), 2);
}

/// 4.1 Reauthentication succeeds after a 391.
pub async fn case_4_1(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("4.1", source));
    s.fail(FailPoint::error(&["find"], 391, 1)).await;
    find(&s.client().await).await.unwrap();
    assert_eq!(s.fetches(), 2);
}

/// 4.4 Speculative authentication is used with a cached token, and not during
/// reauthentication (counted by the kit's server).
pub async fn case_4_4(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("4.4", source));
    let client = s.client().await;
    find(&client).await.unwrap();
    s.drop_pooled_connection(&client).await;
    target.reset_stats();
    insert(&client).await.unwrap();
    let stats = target.stats().expect("the kit's counters");
    assert_eq!(s.fetches(), 1, "the cached token was used");
    assert_eq!(
        (stats.speculative_succeeded, stats.sasl_start_jwt),
        (1, 0),
        "{stats:?}"
    );

    s.fail(FailPoint::error(&["insert"], 391, 1)).await;
    insert(&client).await.unwrap();
    let stats = target.stats().expect("the kit's counters");
    assert_eq!(s.fetches(), 2);
    assert!(
        stats.sasl_start_jwt >= 1,
        "reauthentication used saslStart: {stats:?}"
    );
    assert_eq!(
        stats.speculative_succeeded + stats.speculative_failed,
        1,
        "no speculative attempt during reauthentication"
    );
}

/// 4.5 Reauthentication succeeds when a session is involved.
pub async fn case_4_5(target: &Target, source: Source) {
    let s = Setup::new(target, source, &app("4.5", source));
    s.fail(FailPoint::error(&["find"], 391, 1)).await;
    let client = s.client().await;
    let mut session = client.start_session().await.unwrap();
    let coll = client.database("test").collection::<Document>("test");
    coll.find_one(doc! {}).session(&mut session).await.unwrap();
    assert_eq!(s.fetches(), 2);
}

// ----- [callback-only] cases -----

/// A callback whose first token is good and later ones are for the wrong audience (or always
/// bad when `good_first` is false).
fn with_tokens<'a>(
    target: &'a Target,
    app: &str,
    good_first: bool,
) -> (Setup<'a>, OidcOptions, Arc<AtomicUsize>) {
    let s = Setup::new(target, Source::Callback, app);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let good = target.kit.token();
    let bad = target
        .kit
        .issuer(0)
        .token()
        .subject("x")
        .audience("api://wrong")
        .sign();
    let options = OidcOptions::builder()
        .callback(move |_ctx: CallbackContext| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let token = if n == 0 && good_first {
                good.clone()
            } else {
                bad.clone()
            };
            async move { Ok(TokenResponse::new(token)) }
        })
        .build();
    (s, options, calls)
}

/// 2.1 The callback receives a deadline bounded by connectTimeoutMS, version 1 and the user.
pub async fn case_2_1(target: &Target) {
    let s = Setup::new(target, Source::Callback, "m21");
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let token = target.kit.token();
    let options = OidcOptions::builder()
        .username("user1")
        .callback(move |ctx: CallbackContext| {
            *record.lock().unwrap() = Some((
                ctx.version(),
                ctx.username().map(str::to_owned),
                ctx.remaining(),
            ));
            let token = token.clone();
            async move { Ok(TokenResponse::new(token).expires_in(Duration::from_secs(3600))) }
        })
        .build();
    find(&options.client(&s.uri).await.unwrap()).await.unwrap();
    let (version, username, remaining) = seen.lock().unwrap().clone().unwrap();
    assert_eq!((version, username.as_deref()), (1, Some("user1")));
    assert!(
        remaining > Duration::from_secs(8) && remaining <= Duration::from_secs(10),
        "connectTimeoutMS bounds the deadline: {remaining:?}"
    );
}

#[derive(Debug)]
struct VaultDown;

impl std::fmt::Display for VaultDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the secret vault is down")
    }
}

impl std::error::Error for VaultDown {}

/// 2.2 A callback that fails fails the find; its own error comes back through the driver.
pub async fn case_2_2(target: &Target) {
    let s = Setup::new(target, Source::Callback, "m22");
    let options = OidcOptions::builder()
        .callback(|_ctx: CallbackContext| async {
            Err::<TokenResponse, _>(Error::callback(VaultDown))
        })
        .build();
    let err = find(&options.client(&s.uri).await.unwrap())
        .await
        .unwrap_err();
    let ours = Error::from_driver(&err).expect("our error travels through the driver");
    assert!(
        ours.callback_source()
            .unwrap()
            .downcast_ref::<VaultDown>()
            .is_some()
    );
    assert!(ours.to_string().contains("the secret vault is down"));
    assert!(!ours.is_transient());
}

/// 2.3 Missing data (an empty token, a negative expiry) fails the find.
pub async fn case_2_3(target: &Target) {
    let s = Setup::new(target, Source::Callback, "m23");
    for (name, response) in [
        ("empty token", TokenResponse::new("")),
        (
            "negative expiry",
            TokenResponse::new(target.kit.token()).expires_in_secs(-30),
        ),
    ] {
        let options = OidcOptions::builder()
            .callback(move |_ctx: CallbackContext| {
                let response = response.clone();
                async move { Ok(response) }
            })
            .build();
        let err = find(&options.client(&s.uri).await.unwrap())
            .await
            .unwrap_err();
        let message = Error::from_driver(&err).expect(name).to_string();
        assert!(
            message.contains("empty access token") || message.contains("must not be negative"),
            "{name}: {message}"
        );
    }
}

/// 2.4 A callback together with `ENVIRONMENT:test` is a configuration error.
pub async fn case_2_4(target: &Target) {
    let s = Setup::new(target, Source::Test, "m24");
    let options = OidcOptions::builder()
        .callback(|_ctx: CallbackContext| async { Ok(TokenResponse::new("x")) })
        .build();
    let err = options.client(&s.uri).await.unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert!(
        err.to_string()
            .contains("ENVIRONMENT:test and OIDC_CALLBACK are both set"),
        "{err}"
    );
}

/// 2.5 `ALLOWED_HOSTS` with `ENVIRONMENT:azure` is a configuration error.
pub async fn case_2_5(target: &Target) {
    let s = Setup::new(target, Source::Azure, "m25");
    let options = OidcOptions::builder()
        .allowed_hosts(Vec::<String>::new())
        .build();
    let err = options.client(&s.uri).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("ALLOWED_HOSTS only applies to the human flow"),
        "{err}"
    );
}

/// 3.2 A callback that always returns bad tokens fails the find after one call.
pub async fn case_3_2(target: &Target) {
    let (s, options, calls) = with_tokens(target, "m32", false);
    assert!(find(&options.client(&s.uri).await.unwrap()).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// 4.2 A read fails if reauthentication fails.
pub async fn case_4_2(target: &Target) {
    let (s, options, calls) = with_tokens(target, "m42", true);
    let client = options.client(&s.uri).await.unwrap();
    find(&client).await.unwrap();
    s.fail(FailPoint::error(&["find"], 391, 1)).await;
    assert!(find(&client).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// 4.3 A write fails if reauthentication fails.
pub async fn case_4_3(target: &Target) {
    let (s, options, calls) = with_tokens(target, "m43", true);
    let client = options.client(&s.uri).await.unwrap();
    insert(&client).await.unwrap();
    s.fail(FailPoint::error(&["insert"], 391, 1)).await;
    assert!(insert(&client).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

// ----- (5) Azure -----

/// 5.1 Azure without a user name uses the system-assigned identity.
pub async fn case_5_1(target: &Target) {
    let s = Setup::new(target, Source::Azure, "m51");
    find(&s.client().await).await.unwrap();
    if let Some(stats) = target.stats() {
        assert!(stats.principals[0].ends_with(&ManagedIdentity::system_assigned().object_id));
    }
}

/// 5.2 Azure with the user name "bad" fails with IMDS's 400, explained.
pub async fn case_5_2(target: &Target) {
    let s = Setup::with_username(target, Source::Azure, "m52", Some("bad"));
    let err = find(&s.client().await).await.unwrap_err();
    let ours = Error::from_driver(&err).expect("the IMDS error");
    assert_eq!(ours.status(), Some(400));
    assert!(ours.to_string().contains("Identity not found"), "{ours}");
    assert!(
        ours.to_string().contains("client id of a managed identity"),
        "{ours}"
    );
    assert_eq!(
        target
            .kit
            .azure()
            .http()
            .log()
            .last()
            .unwrap()
            .query("client_id"),
        Some("bad")
    );
}
