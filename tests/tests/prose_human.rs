//! The MONGODB-OIDC human-flow prose tests, through `mongodb-oidc` (`OIDC_HUMAN_CALLBACK`) and
//! a real `mongodb::Client`, against the kit configured with one or two identity providers.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb_oidc::{CallbackContext, HumanFn, OidcOptions, Secret, TokenResponse};
use mongodb_oidc_testkit::TestKit;
use mongodb_oidc_testkit::idp::Minter;
use mongodb_oidc_testkit::server::{FailPoint, IdentityProviderConfig};
use serde_json::json;
use support::find;

const DOMAIN: &str = "testkit.example";

fn user(n: u8) -> String {
    format!("test_user{n}@{DOMAIN}")
}

/// One human provider (users matching `test_user1`) and a machine provider for `test_machine`.
async fn single() -> TestKit {
    TestKit::builder()
        .provider(0, |iss| {
            IdentityProviderConfig::human(iss, "aud-human", "client-1")
                .auth_name_prefix("idp1")
                .match_pattern("test_user1")
        })
        .provider(0, |iss| {
            IdentityProviderConfig::machine(iss, "aud-machine")
                .auth_name_prefix("machine")
                .match_pattern("test_machine")
        })
        .start()
        .await
        .unwrap()
}

/// Two human providers on two issuers, chosen by user name.
async fn multi() -> TestKit {
    TestKit::builder()
        .issuers(2)
        .provider(0, |iss| {
            IdentityProviderConfig::human(iss, "aud-1", "client-1")
                .auth_name_prefix("idp1")
                .match_pattern("test_user1")
        })
        .provider(1, |iss| {
            IdentityProviderConfig::human(iss, "aud-2", "client-2")
                .auth_name_prefix("idp2")
                .match_pattern("test_user2")
        })
        .start()
        .await
        .unwrap()
}

/// What the callback saw on each call.
#[derive(Debug, Clone)]
struct Call {
    issuer: Option<String>,
    client_id: Option<String>,
    refresh_token: Option<String>,
    username: Option<String>,
    remaining: Duration,
    version: u32,
}

/// A human callback that mints a token from the issuer named in IdpInfo, for the configured
/// user, and records each call. `bad_after_first` makes later access tokens invalid.
#[derive(Clone)]
struct Human {
    issuers: Vec<(String, Minter)>,
    audiences: Vec<(String, &'static str)>,
    subject: String,
    refresh: Option<&'static str>,
    bad_after_first: bool,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Human {
    fn new(kit: &TestKit, issuers: usize, subject: &str) -> Self {
        Self {
            issuers: (0..issuers)
                .map(|i| (kit.issuer(i).url(), kit.issuer(i).minter().clone()))
                .collect(),
            audiences: kit
                .server()
                .providers()
                .iter()
                .map(|p| {
                    (
                        p.audience.clone(),
                        if p.supports_human_flows {
                            "human"
                        } else {
                            "machine"
                        },
                    )
                })
                .collect(),
            subject: subject.to_owned(),
            refresh: Some("refresh-1"),
            bad_after_first: false,
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn options(&self) -> OidcOptions {
        let me = self.clone();
        OidcOptions::builder()
            .human_callback(HumanFn(move |ctx: CallbackContext| {
                let me = me.clone();
                async move { Ok(me.fetch(&ctx)) }
            }))
            .build()
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
        let minter = &self
            .issuers
            .iter()
            .find(|(url, _)| *url == issuer)
            .expect("a kit issuer")
            .1;
        let machine = self.subject == "test_machine";
        let audience = self.audience_for(&issuer, machine);
        let audience = if self.bad_after_first && n > 1 {
            "api://wrong".to_owned()
        } else {
            audience
        };
        let token = minter
            .token()
            .subject(&self.subject)
            .audience(audience)
            .claim("groups", json!(["g"]))
            .sign();
        let mut response = TokenResponse::new(token).expires_in(Duration::from_secs(3600));
        if let Some(refresh) = self.refresh {
            response = response.with_refresh_token(Secret::new(refresh));
        }
        response
    }

    fn audience_for(&self, issuer: &str, machine: bool) -> String {
        let index = self
            .issuers
            .iter()
            .position(|(url, _)| url == issuer)
            .unwrap_or(0);
        let wanted = if machine { "machine" } else { "human" };
        let audiences: Vec<&String> = self
            .audiences
            .iter()
            .filter(|(_, kind)| *kind == wanted)
            .map(|(a, _)| a)
            .collect();
        audiences
            .get(index)
            .or(audiences.first())
            .map(|a| (*a).clone())
            .unwrap_or_default()
    }
}

fn uri(kit: &TestKit, username: Option<&str>, app: &str) -> String {
    let host = kit
        .uri()
        .trim_start_matches("mongodb://")
        .trim_end_matches('/')
        .to_owned();
    let user = username
        .map(|u| format!("{}@", u.replace('@', "%40")))
        .unwrap_or_default();
    format!("mongodb://{user}{host}/?authMechanism=MONGODB-OIDC&appName={app}&retryReads=false")
}

async fn client_for(
    kit: &TestKit,
    human: &Human,
    username: Option<&str>,
    app: &str,
) -> mongodb::Client {
    human
        .options()
        .client(&uri(kit, username, app))
        .await
        .unwrap()
}

fn fail(kit: &TestKit, app: &str, fail_point: FailPoint) {
    kit.server().set_fail_point(Some(fail_point.for_app(app)));
}

// ----- (1) authentication -----

#[tokio::test]
async fn h1_1_single_principal_implicit_username() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    find(&client_for(&kit, &human, None, "h11").await)
        .await
        .unwrap();
    assert_eq!(
        kit.server().stats().principals,
        vec![format!("idp1/{}", user(1))]
    );
}

#[tokio::test]
async fn h1_2_single_principal_explicit_username() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    find(&client_for(&kit, &human, Some(&user(1)), "h12").await)
        .await
        .unwrap();
    assert_eq!(human.calls()[0].username.as_deref(), Some(user(1).as_str()));
}

#[tokio::test]
async fn h1_3_and_1_4_multiple_principals() {
    let kit = multi().await;
    for n in [1, 2] {
        let human = Human::new(&kit, 2, &user(n));
        find(&client_for(&kit, &human, Some(&user(n)), &format!("h13-{n}")).await)
            .await
            .unwrap();
        assert_eq!(
            human.calls()[0].issuer.as_deref(),
            Some(kit.issuer(usize::from(n) - 1).url().as_str())
        );
    }
    assert_eq!(
        kit.server().stats().principals,
        vec![format!("idp1/{}", user(1)), format!("idp2/{}", user(2))]
    );
}

#[tokio::test]
async fn h1_5_multiple_principals_without_a_user_fail() {
    let kit = multi().await;
    let human = Human::new(&kit, 2, &user(1));
    assert!(
        find(&client_for(&kit, &human, None, "h15").await)
            .await
            .is_err()
    );
    assert!(human.calls().is_empty());
}

#[tokio::test]
async fn h1_6_allowed_hosts_blocked() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    let empty = OidcOptions::builder()
        .human_callback(HumanFn({
            let human = human.clone();
            move |ctx: CallbackContext| {
                let human = human.clone();
                async move { Ok(human.fetch(&ctx)) }
            }
        }))
        .allowed_hosts(Vec::<String>::new())
        .build();
    let err = find(&empty.client(&uri(&kit, None, "h16")).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not in the allowed list of hosts"),
        "{err}"
    );

    let host_only_in_query = OidcOptions::builder()
        .human_callback(HumanFn({
            let human = human.clone();
            move |ctx: CallbackContext| {
                let human = human.clone();
                async move { Ok(human.fetch(&ctx)) }
            }
        }))
        .allowed_hosts(["example.com"])
        .build();
    let uri = uri(&kit, None, "example.com");
    let err = find(&host_only_in_query.client(&uri).await.unwrap())
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
    let stats = kit.server().stats();
    assert_eq!(
        stats.sasl_start_principal + stats.sasl_start_jwt,
        0,
        "client-side errors: {stats:?}"
    );
}

#[tokio::test]
async fn h1_7_allowed_hosts_in_the_connection_string_is_a_configuration_error() {
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

#[tokio::test]
async fn h1_8_machine_idp_with_a_human_callback() {
    let kit = single().await;
    let human = Human::new(&kit, 1, "test_machine");
    find(&client_for(&kit, &human, Some("test_machine"), "h18").await)
        .await
        .unwrap();
    assert_eq!(
        human.calls()[0].client_id,
        None,
        "a machine IdP announces no clientId"
    );
    assert_eq!(
        kit.server().stats().principals,
        vec!["machine/test_machine".to_owned()]
    );
}

// ----- (2) callback validation -----

#[tokio::test]
async fn h2_1_valid_callback_inputs() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    find(&client_for(&kit, &human, Some(&user(1)), "h21").await)
        .await
        .unwrap();
    let call = &human.calls()[0];
    assert_eq!(call.issuer.as_deref(), Some(kit.issuer(0).url().as_str()));
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

#[tokio::test]
async fn h2_2_missing_data_fails() {
    let kit = single().await;
    let options = OidcOptions::builder()
        .human_callback(HumanFn(|_ctx: CallbackContext| async {
            Ok(TokenResponse::new(""))
        }))
        .build();
    let err = find(&options.client(&uri(&kit, None, "h22")).await.unwrap())
        .await
        .unwrap_err();
    let ours = mongodb_oidc::Error::from_driver(&err).expect("our error");
    assert!(ours.to_string().contains("empty access token"), "{ours}");
}

#[tokio::test]
async fn h2_3_refresh_token_is_passed_to_the_callback() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    let client = client_for(&kit, &human, None, "h23").await;
    find(&client).await.unwrap();
    fail(&kit, "h23", FailPoint::error(&["find"], 391, 1));
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

#[tokio::test]
async fn h3_1_speculative_authentication_with_a_cached_token() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    let client = client_for(&kit, &human, None, "h31").await;
    find(&client).await.unwrap();
    fail(&kit, "h31", FailPoint::error(&["find"], 0, 1).close());
    assert!(find(&client).await.is_err());
    fail(&kit, "h31", FailPoint::error(&["saslStart"], 18, 1));
    find(&client).await.unwrap();
    assert_eq!(kit.server().stats().speculative_succeeded, 1);
}

#[tokio::test]
async fn h3_2_no_speculative_authentication_without_a_cached_token() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    fail(&kit, "h32", FailPoint::error(&["saslStart"], 18, 1));
    assert!(
        find(&client_for(&kit, &human, None, "h32").await)
            .await
            .is_err()
    );
}

// ----- (4) reauthentication -----

#[tokio::test]
async fn h4_1_reauthentication_succeeds() {
    let kit = single().await;
    let human = Human::new(&kit, 1, &user(1));
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = events.clone();
    let mut options = human
        .options()
        .client_options(&uri(&kit, None, "h41"))
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
    fail(&kit, "h41", FailPoint::error(&["find"], 391, 1));
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

#[tokio::test]
async fn h4_2_reauthentication_without_a_refresh_token() {
    let kit = single().await;
    let mut human = Human::new(&kit, 1, &user(1));
    human.refresh = None;
    let client = client_for(&kit, &human, None, "h42").await;
    find(&client).await.unwrap();
    fail(&kit, "h42", FailPoint::error(&["find"], 391, 1));
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 2);
    assert!(human.calls().iter().all(|c| c.refresh_token.is_none()));
}

#[tokio::test]
async fn h4_3_reauthentication_after_a_failed_refresh() {
    let kit = single().await;
    let mut human = Human::new(&kit, 1, &user(1));
    human.refresh = Some("bad-refresh-token");
    let client = client_for(&kit, &human, None, "h43").await;
    find(&client).await.unwrap();
    fail(&kit, "h43", FailPoint::error(&["find"], 391, 1));
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 2);
}

#[tokio::test]
async fn h4_4_reauthentication_fails() {
    let kit = single().await;
    let mut human = Human::new(&kit, 1, &user(1));
    human.refresh = Some("bad-refresh-token");
    human.bad_after_first = true;
    let client = client_for(&kit, &human, None, "h44").await;
    find(&client).await.unwrap();
    assert_eq!(human.calls().len(), 1);
    fail(&kit, "h44", FailPoint::error(&["find"], 391, 1));
    assert!(find(&client).await.is_err());
    assert_eq!(human.calls().len(), 3);
}
