//! A canary token goes through every path — success, endpoint errors, malformed bodies, user
//! callback errors, reauthentication — with every tracing event and span captured at TRACE
//! level; then the `Debug` of every public type that can hold a secret is checked. The canary
//! must appear nowhere.

mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mongodb_oidc::providers::{AzureProvider, K8sProvider, TestFileProvider};
use mongodb_oidc::{
    CallbackContext, ConnectionString, Env, Error, HumanFn, IdpInfo, OidcCallback, OidcOptions,
    ProviderConfig, Secret, TokenResponse,
};
use mongodb_oidc_testkit::http::Fault;
use mongodb_oidc_testkit::server::FailPoint;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
use support::find;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every span field and event field, as text.
struct Capture {
    out: Arc<Mutex<String>>,
    next: AtomicU64,
}

struct Writer<'a>(&'a mut String);

impl Visit for Writer<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut out = self.out.lock().unwrap();
        let _ = write!(out, "\nspan {}", span.metadata().name());
        span.record(&mut Writer(&mut out));
        Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Writer(&mut self.out.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut out = self.out.lock().unwrap();
        let _ = write!(
            out,
            "\nevent {} {}",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Writer(&mut out));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn captured() -> Arc<Mutex<String>> {
    static OUT: OnceLock<Arc<Mutex<String>>> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = Arc::new(Mutex::new(String::new()));
        let capture = Capture {
            out: out.clone(),
            next: AtomicU64::new(0),
        };
        tracing::subscriber::set_global_default(capture).expect("only this binary installs one");
        out
    })
    .clone()
}

fn assert_absent(what: &str, haystack: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(
            !haystack.contains(canary),
            "{what} contains a secret: …{}…",
            &canary[..12.min(canary.len())]
        );
    }
}

/// The signature part of a JWT: enough to identify the token if any part of it leaked.
fn signature(jwt: &str) -> &str {
    jwt.rsplit('.').next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_never_reach_tracing_errors_or_debug() {
    let out = captured();
    let kit = TestKit::start().await.unwrap();
    let canary = kit.token_for("canary");
    let refresh = "refresh-canary-5d2f";
    let secrets = [canary.as_str(), signature(&canary), refresh];
    let mut texts = Vec::new();

    // Success through a callback, then a 391 and reauthentication, with a refresh token.
    let token = canary.clone();
    let options = OidcOptions::builder()
        .callback(move |_ctx: CallbackContext| {
            let token = token.clone();
            async move {
                Ok(TokenResponse::new(token)
                    .expires_in(Duration::from_secs(600))
                    .with_refresh_token(refresh))
            }
        })
        .build();
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&appName=leak&retryReads=false",
        kit.uri()
    );
    let client = options.client(&uri).await.unwrap();
    find(&client).await.unwrap();
    kit.server()
        .set_fail_point(Some(FailPoint::error(&["find"], 391, 1).for_app("leak")));
    find(&client).await.unwrap();
    texts.push(format!("{options:?}"));

    // IMDS failures whose bodies carry the canary, and a success whose body is the canary.
    let azure_options = OidcOptions::builder()
        .provider_config(ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint()))
        .build();
    let azure_uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}&retryReads=false",
        kit.uri()
    );
    for fault in [
        Fault::status(
            500,
            format!(r#"{{"error":"boom","access_token":"{canary}"}}"#),
        ),
        Fault::status(400, format!("bad request for {canary}")),
        Fault::status(200, format!("<html>{canary}")),
        Fault::status(
            200,
            format!(r#"{{"access_token":"{canary}","expires_in":"-100"}}"#),
        ),
        Fault::status(
            200,
            format!(r#"{{"access_token":"{canary}","expires_in":"3600"}}"#),
        ),
    ] {
        kit.azure().http().faults().push(fault);
        let client = azure_options.client(&azure_uri).await.unwrap();
        let result = find(&client).await;
        if let Err(e) = result {
            texts.push(format!("{e} {e:?}"));
            if let Some(ours) = Error::from_driver(&e) {
                texts.push(format!("{ours} {ours:?}"));
            }
        }
    }

    // A user callback whose own error message contains the token.
    let leaky = canary.clone();
    let options =
        OidcOptions::builder()
            .callback(move |_ctx: CallbackContext| {
                let leaky = leaky.clone();
                async move {
                    Err::<TokenResponse, _>(Error::callback(format!("IdP said no to {leaky}")))
                }
            })
            .build();
    let err = find(&options.client(&uri).await.unwrap())
        .await
        .unwrap_err();
    let ours = Error::from_driver(&err).unwrap();
    texts.push(format!("{ours:?}"));

    let logs = out.lock().unwrap().clone();
    assert!(
        logs.contains("mongodb_oidc.token_fetch") && logs.contains("token fetch failed"),
        "the capture works: {logs}"
    );
    for field in [
        "source=\"callback\"",
        "source=\"azure\"",
        "outcome=\"ok\"",
        "outcome=\"error\"",
        "expires_in_s=",
        "duration_ms=",
    ] {
        assert!(
            logs.contains(field),
            "every fetch is traced with {field}: {logs}"
        );
    }
    assert_absent("tracing output", &logs, &secrets);
    for text in &texts {
        assert_absent("an error or Debug output", text, &secrets);
    }
}

#[tokio::test]
async fn debug_of_every_public_type_hides_secrets() {
    let _ = captured();
    let secret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ";
    let header = "identity-header-canary";
    let password = "password-canary";
    let env = Env::from_vars([
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
        ("IDENTITY_HEADER", header),
    ]);
    let config = ProviderConfig::new().env(env.clone());
    let azure = AzureProvider::builder("aud").config(config.clone()).build();
    let context = CallbackContext::new(tokio::time::Instant::now())
        .with_human(Some(IdpInfo::new("https://idp")), Some(Secret::new(secret)));
    let token = TokenResponse::new(secret).with_refresh_token(secret);
    let options = OidcOptions::builder()
        .human_callback(HumanFn(|_ctx: CallbackContext| async {
            Ok(TokenResponse::new("x"))
        }))
        .provider_config(config.clone())
        .build();
    let cs = ConnectionString::parse(&format!(
        "mongodb://u:{password}@h/?authMechanism=SCRAM-SHA-256&proxyPassword={password}"
    ))
    .unwrap();
    let credential = cs.credential().unwrap();
    let checked = OidcOptions::default()
        .check(&format!("mongodb://u:{password}@h/"))
        .unwrap();
    let all = format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        Secret::new(secret),
        token,
        context,
        env,
        config,
        azure,
        options,
        cs,
        credential,
        checked,
        K8sProvider::builder().with_path("/p").build(),
        TestFileProvider::new("/p"),
        cs.without_oidc_properties(),
    );
    assert_absent("Debug output", &all, &[secret, header, password]);
    let fetched = azure
        .fetch(&CallbackContext::new(
            tokio::time::Instant::now() + Duration::from_millis(200),
        ))
        .await;
    assert_absent(
        "an error",
        &format!("{:?}", fetched.map(|_| ())),
        &[secret, header],
    );
}
