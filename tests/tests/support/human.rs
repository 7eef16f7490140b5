//! The MONGODB-OIDC human-flow prose tests, written once for any [`Target`], through
//! `mongodb-oidc` (`OIDC_HUMAN_CALLBACK`) and a real `mongodb::Client`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb_oidc::{CallbackContext, HumanFn, OidcOptions, Secret, TokenResponse};
use mongodb_oidc_testkit::idp::Minter;
use mongodb_oidc_testkit::server::FailPoint;
use serde_json::json;

use super::{Case, Layout, Source, Target, find};

const DOMAIN: &str = "testkit.example";
/// Human-flow cases run once, with a human callback.
const CALLBACK_ONLY: &[Source] = &[Source::Callback];

/// Every case, with the server layout it needs.
pub fn cases() -> Vec<Case> {
    use Layout::{Multi, Single};
    vec![
        Case::new("1.1", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h1_1(t))
        }),
        Case::new("1.2", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h1_2(t))
        }),
        Case::new("1.3/1.4", CALLBACK_ONLY, Multi, false, |t, _| {
            Box::pin(h1_3_and_1_4(t))
        }),
        Case::new("1.5", CALLBACK_ONLY, Multi, false, |t, _| Box::pin(h1_5(t))),
        Case::new("1.6", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h1_6(t))
        }),
        Case::new("1.7", CALLBACK_ONLY, Single, false, |_, _| Box::pin(h1_7())),
        Case::new("1.8", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h1_8(t))
        }),
        Case::new("2.1", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h2_1(t))
        }),
        Case::new("2.2", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h2_2(t))
        }),
        Case::new("2.3", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h2_3(t))
        }),
        Case::new("3.1", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h3_1(t))
        }),
        Case::new("3.2", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h3_2(t))
        }),
        Case::new("4.1", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h4_1(t))
        }),
        Case::new("4.2", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h4_2(t))
        }),
        Case::new("4.3", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h4_3(t))
        }),
        Case::new("4.4", CALLBACK_ONLY, Single, false, |t, _| {
            Box::pin(h4_4(t))
        }),
    ]
}

pub fn user(n: u8) -> String {
    format!("test_user{n}@{DOMAIN}")
}

/// What the callback saw on each call.
#[derive(Debug, Clone)]
pub struct Call {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub refresh_token: Option<String>,
    pub username: Option<String>,
    pub remaining: Duration,
    pub version: u32,
}

/// A human callback that mints a token from the issuer named in IdpInfo, with that
/// provider's audience, for the configured subject, and records each call.
#[derive(Clone)]
pub struct Human {
    issuers: Vec<(String, Minter, String)>,
    subject: String,
    refresh: Option<&'static str>,
    bad_after_first: bool,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Human {
    pub fn new(target: &Target, subject: &str) -> Self {
        let issuers = target
            .providers()
            .iter()
            .filter_map(|p| {
                let index = (0..3).find(|i| target.kit.issuer(*i).url() == p.issuer)?;
                Some((
                    p.issuer.clone(),
                    target.kit.issuer(index).minter().clone(),
                    p.audience.clone(),
                ))
            })
            .collect();
        Self {
            issuers,
            subject: subject.to_owned(),
            refresh: Some("refresh-1"),
            bad_after_first: false,
            calls: Arc::default(),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn options(&self) -> OidcOptions {
        self.builder().build()
    }

    fn builder(&self) -> mongodb_oidc::OidcOptionsBuilder {
        let me = self.clone();
        OidcOptions::builder().human_callback(HumanFn(move |ctx: CallbackContext| {
            let me = me.clone();
            async move { Ok(me.fetch(&ctx)) }
        }))
    }

    fn fetch(&self, ctx: &CallbackContext) -> TokenResponse {
        let info = ctx.idp_info().cloned();
        let n = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                issuer: info.as_ref().map(|i| i.issuer.clone()),
                client_id: info.as_ref().and_then(|i| i.client_id.clone()),
                refresh_token: ctx.refresh_token().map(|r| r.secret().to_owned()),
                username: ctx.username().map(str::to_owned),
                remaining: ctx.remaining(),
                version: ctx.version(),
            });
            calls.len()
        };
        let issuer = info
            .map(|i| i.issuer)
            .unwrap_or_else(|| self.issuers[0].0.clone());
        let (_, minter, audience) = self
            .issuers
            .iter()
            .find(|(url, _, _)| *url == issuer)
            .expect("a configured issuer");
        let audience = if self.bad_after_first && n > 1 {
            "api://wrong".to_owned()
        } else {
            audience.clone()
        };
        let token = minter
            .token()
            .subject(&self.subject)
            .audience(audience)
            .claim("groups", json!(["app-readers"]))
            .sign();
        let mut response = TokenResponse::new(token).expires_in(Duration::from_secs(3600));
        if let Some(refresh) = self.refresh {
            response = response.with_refresh_token(Secret::new(refresh));
        }
        response
    }
}

pub fn uri(target: &Target, username: Option<&str>, app: &str) -> String {
    let user = username
        .map(|u| format!("{}@", u.replace('@', "%40")))
        .unwrap_or_default();
    format!(
        "mongodb://{user}{}/?authMechanism=MONGODB-OIDC&appName={app}&retryReads=false",
        target.host()
    )
}

async fn client_for(
    target: &Target,
    human: &Human,
    username: Option<&str>,
    app: &str,
) -> mongodb::Client {
    human
        .options()
        .client(&uri(target, username, app))
        .await
        .unwrap()
}

async fn fail(target: &Target, app: &str, fail_point: FailPoint) {
    target.fail(fail_point.for_app(app)).await;
}

// ----- (1) authentication -----

/// 1.1 One human provider, no user name.
pub async fn h1_1(target: &Target) {
    let human = Human::new(target, &user(1));
    find(&client_for(target, &human, None, "h11").await)
        .await
        .unwrap();
    if let Some(stats) = target.stats() {
        assert!(
            stats.principals.contains(&format!("idp1/{}", user(1))),
            "{stats:?}"
        );
    }
}

/// 1.2 One human provider, explicit user name.
pub async fn h1_2(target: &Target) {
    let human = Human::new(target, &user(1));
    find(&client_for(target, &human, Some(&user(1)), "h12").await)
        .await
        .unwrap();
    assert_eq!(human.calls()[0].username.as_deref(), Some(user(1).as_str()));
}

/// 1.3 and 1.4 Two human providers, chosen by user name.
pub async fn h1_3_and_1_4(target: &Target) {
    for n in [1, 2] {
        let human = Human::new(target, &user(n));
        find(&client_for(target, &human, Some(&user(n)), &format!("h13-{n}")).await)
            .await
            .unwrap();
        assert_eq!(
            human.calls()[0].issuer.as_deref(),
            Some(target.kit.issuer(usize::from(n)).url().as_str())
        );
    }
}

/// 1.5 Two human providers and no user name fail.
pub async fn h1_5(target: &Target) {
    let human = Human::new(target, &user(1));
    assert!(
        find(&client_for(target, &human, None, "h15").await)
            .await
            .is_err()
    );
    assert!(human.calls().is_empty());
}

/// 1.6 ALLOWED_HOSTS blocks: an empty list, and a host that is only in the query string.
pub async fn h1_6(target: &Target) {
    let human = Human::new(target, &user(1));
    let empty = human.builder().allowed_hosts(Vec::<String>::new()).build();
    let err = find(&empty.client(&uri(target, None, "h16")).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not in the allowed list of hosts"),
        "{err}"
    );
    let query_only = human.builder().allowed_hosts(["example.com"]).build();
    let err = find(
        &query_only
            .client(&uri(target, None, "example.com"))
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("not in the allowed list of hosts"),
        "{err}"
    );
    assert!(
        human.calls().is_empty(),
        "the callback is never called for a blocked host"
    );
}

/// 1.7 ALLOWED_HOSTS in the connection string is a configuration error.
pub async fn h1_7() {
    let options = OidcOptions::builder()
        .human_callback(HumanFn(|_ctx: CallbackContext| async {
            Ok(TokenResponse::new("x"))
        }))
        .build();
    let uri = "mongodb+srv://example.com/?authMechanism=MONGODB-OIDC&authMechanismProperties=ALLOWED_HOSTS:%5B%22example.com%22%5D";
    let err = options.client(uri).await.unwrap_err();
    assert!(
        err.is_configuration()
            && err
                .to_string()
                .contains("ALLOWED_HOSTS cannot be given in a connection string"),
        "{err}"
    );
}

/// 1.8 A machine provider (no clientId in IdpInfo) with a human callback.
pub async fn h1_8(target: &Target) {
    let human = Human::new(target, "test_machine");
    find(&client_for(target, &human, Some("test_machine"), "h18").await)
        .await
        .unwrap();
    assert_eq!(
        human.calls()[0].client_id,
        None,
        "a machine provider announces no clientId"
    );
}

// ----- (2) callback validation -----

/// 2.1 The callback receives IdpInfo, version 1 and a five-minute deadline.
pub async fn h2_1(target: &Target) {
    let human = Human::new(target, &user(1));
    find(&client_for(target, &human, Some(&user(1)), "h21").await)
        .await
        .unwrap();
    let call = &human.calls()[0];
    assert_eq!(
        call.issuer.as_deref(),
        Some(target.kit.issuer(1).url().as_str())
    );
    assert_eq!(
        (call.client_id.as_deref(), call.version),
        (Some("client-1"), 1)
    );
    assert!(
        call.remaining > Duration::from_secs(4 * 60)
            && call.remaining <= Duration::from_secs(5 * 60),
        "{:?}",
        call.remaining
    );
}

/// 2.2 A callback that returns no token fails the find.
pub async fn h2_2(target: &Target) {
    let options = OidcOptions::builder()
        .human_callback(HumanFn(|_ctx: CallbackContext| async {
            Ok(TokenResponse::new(""))
        }))
        .build();
    let err = find(&options.client(&uri(target, None, "h22")).await.unwrap())
        .await
        .unwrap_err();
    let ours = mongodb_oidc::Error::from_driver(&err).expect("our error");
    assert!(ours.to_string().contains("empty access token"), "{ours}");
}

/// 2.3 The refresh token is passed to the callback on reauthentication.
pub async fn h2_3(target: &Target) {
    let human = Human::new(target, &user(1));
    let client = client_for(target, &human, None, "h23").await;
    find(&client).await.unwrap();
    fail(target, "h23", FailPoint::error(&["find"], 391, 1)).await;
    find(&client).await.unwrap();
    let calls = human.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.refresh_token.as_deref() == Some("refresh-1"))
            .count(),
        1
    );
}

// ----- (3) speculative authentication -----

/// 3.1 A cached token is used speculatively: a saslStart fail point does not matter.
pub async fn h3_1(target: &Target) {
    let human = Human::new(target, &user(1));
    let client = client_for(target, &human, None, "h31").await;
    find(&client).await.unwrap();
    fail(target, "h31", FailPoint::error(&["find"], 0, 1).close()).await;
    assert!(find(&client).await.is_err());
    fail(target, "h31", FailPoint::error(&["saslStart"], 18, 1)).await;
    find(&client).await.unwrap();
}

/// 3.2 Without a cached token there is no speculative authentication.
pub async fn h3_2(target: &Target) {
    let human = Human::new(target, &user(1));
    fail(target, "h32", FailPoint::error(&["saslStart"], 18, 1)).await;
    assert!(
        find(&client_for(target, &human, None, "h32").await)
            .await
            .is_err()
    );
}

// ----- (4) reauthentication -----

/// 4.1 Reauthentication succeeds; the command events show one failed and one retried find.
pub async fn h4_1(target: &Target) {
    let human = Human::new(target, &user(1));
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = events.clone();
    let mut options = human
        .options()
        .client_options(&uri(target, None, "h41"))
        .await
        .unwrap();
    options.command_event_handler = Some(EventHandler::callback(move |event: CommandEvent| {
        let entry = match event {
            CommandEvent::Started(e) => format!("started {}", e.command_name),
            CommandEvent::Succeeded(e) => format!("succeeded {}", e.command_name),
            CommandEvent::Failed(e) => format!("failed {}", e.command_name),
            _ => return,
        };
        record.lock().unwrap().push(entry);
    }));
    let client = mongodb::Client::with_options(options).unwrap();
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 1);
    events.lock().unwrap().clear();
    fail(target, "h41", FailPoint::error(&["find"], 391, 1)).await;
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 2);
    let finds: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.ends_with(" find"))
        .cloned()
        .collect();
    assert_eq!(
        finds,
        [
            "started find",
            "failed find",
            "started find",
            "succeeded find"
        ]
    );
}

/// 4.2 Reauthentication succeeds without a refresh token.
pub async fn h4_2(target: &Target) {
    let mut human = Human::new(target, &user(1));
    human.refresh = None;
    let client = client_for(target, &human, None, "h42").await;
    find(&client).await.unwrap();
    fail(target, "h42", FailPoint::error(&["find"], 391, 1)).await;
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 2);
    assert!(human.calls().iter().all(|c| c.refresh_token.is_none()));
}

/// 4.3 Reauthentication succeeds after a failed refresh.
pub async fn h4_3(target: &Target) {
    let mut human = Human::new(target, &user(1));
    human.refresh = Some("bad-refresh-token");
    let client = client_for(target, &human, None, "h43").await;
    find(&client).await.unwrap();
    fail(target, "h43", FailPoint::error(&["find"], 391, 1)).await;
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 2);
}

/// 4.4 Reauthentication fails after three calls.
pub async fn h4_4(target: &Target) {
    let mut human = Human::new(target, &user(1));
    human.refresh = Some("bad-refresh-token");
    human.bad_after_first = true;
    let client = client_for(target, &human, None, "h44").await;
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 1);
    fail(target, "h44", FailPoint::error(&["find"], 391, 1)).await;
    assert!(find(&client).await.is_err());
    assert_eq!(human.calls().len(), 3);
}
