//! The official `mongodb` driver authenticates against the kit over TCP: one-step, speculative,
//! two-step (human), several identity providers, session expiry with 391, and every way the
//! server rejects a token.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{client, machine_client};
use futures_util::FutureExt;
use mongodb::bson::{Document, doc};
use mongodb::options::oidc::{Callback, IdpServerResponse};
use mongodb_oidc_testkit::server::{FailPoint, IdentityProviderConfig};
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
use serde_json::json;

async fn find_one(client: &mongodb::Client) -> mongodb::error::Result<Option<Document>> {
    client
        .database("app")
        .collection::<Document>("items")
        .find_one(doc! {})
        .await
}

#[tokio::test]
async fn one_step_machine_flow() {
    let kit = TestKit::start().await.unwrap();
    let token = kit.token();
    let (client, calls) = machine_client(&kit.uri(), "one-step", move |_| token.clone()).await;
    let coll = client.database("app").collection::<Document>("items");
    coll.insert_one(doc! { "k": 1 }).await.unwrap();
    assert!(coll.find_one(doc! { "k": 1 }).await.unwrap().is_some());
    assert_eq!(calls.count(), 1);
    let stats = kit.server().stats();
    assert_eq!(stats.sasl_start_jwt, 1, "{stats:?}");
    assert_eq!(stats.principals, vec!["test/test-user".to_string()]);
}

#[tokio::test]
async fn speculative_authentication_with_a_cached_token() {
    let kit = TestKit::start().await.unwrap();
    let token = kit.token();
    let (client, calls) = machine_client(&kit.uri(), "speculative", move |_| token.clone()).await;
    find_one(&client).await.unwrap();
    // Drop the pooled connection: the next one authenticates inside the handshake.
    kit.server()
        .set_fail_point(Some(FailPoint::error(&["find"], 0, 1).close()));
    assert!(find_one(&client).await.is_err());
    find_one(&client).await.unwrap();
    let stats = kit.server().stats();
    assert_eq!(stats.speculative_succeeded, 1, "{stats:?}");
    assert_eq!(
        stats.sasl_start_jwt, 1,
        "no saslStart after the handshake: {stats:?}"
    );
    assert_eq!(calls.count(), 1);
}

#[tokio::test]
async fn connection_status_reports_user_and_roles() {
    let kit = TestKit::start().await.unwrap();
    let token = kit.token();
    let (client, _) = machine_client(&kit.uri(), "status", move |_| token.clone()).await;
    find_one(&client).await.unwrap();
    let status = client
        .database("admin")
        .run_command(doc! { "connectionStatus": 1 })
        .await
        .unwrap();
    let info = status.get_document("authInfo").unwrap();
    let users = info.get_array("authenticatedUsers").unwrap();
    assert_eq!(
        users[0].as_document().unwrap().get_str("user").unwrap(),
        "test/test-user"
    );
    let roles = info.get_array("authenticatedUserRoles").unwrap();
    assert_eq!(
        roles[0].as_document().unwrap().get_str("role").unwrap(),
        "test/app-readers"
    );
}

#[tokio::test]
async fn session_expiry_answers_391_and_reauthentication_recovers() {
    let kit = TestKit::start().await.unwrap();
    let issuer = kit.issuer(0).minter().clone();
    let (client, calls) = machine_client(&kit.uri(), "expiry", move |_| {
        issuer
            .token()
            .subject("short-lived")
            .audience(DEFAULT_AUDIENCE)
            .expires_in(Duration::from_secs(60))
            .claim("groups", json!(["g"]))
            .sign()
    })
    .await;
    find_one(&client).await.unwrap();
    kit.clock().advance(Duration::from_secs(120));
    find_one(&client).await.unwrap();
    let stats = kit.server().stats();
    assert_eq!(stats.reauthentication_required, 1, "{stats:?}");
    assert_eq!(calls.count(), 2);
    assert_eq!(stats.authentications, 2);
}

#[tokio::test]
async fn unauthenticated_commands_get_13_and_ping_needs_no_auth() {
    let kit = TestKit::start().await.unwrap();
    let client = mongodb::Client::with_uri_str(kit.uri()).await.unwrap();
    client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    let err = find_one(&client).await.unwrap_err();
    assert_eq!(common::code(&err), Some(13), "{err}");
    assert_eq!(kit.server().stats().unauthorized, 1);
}

#[tokio::test]
async fn mechanism_not_enabled_gets_334() {
    let kit = TestKit::builder()
        .oidc_enabled(false)
        .start()
        .await
        .unwrap();
    let token = kit.token();
    let (client, _) = machine_client(&kit.uri(), "disabled", move |_| token.clone()).await;
    let err = find_one(&client).await.unwrap_err();
    assert!(err.to_string().contains("which is not enabled"), "{err}");
}

#[tokio::test]
async fn sasl_continue_without_a_conversation_gets_17() {
    let kit = TestKit::start().await.unwrap();
    let client = mongodb::Client::with_uri_str(kit.uri()).await.unwrap();
    let command = doc! { "saslContinue": 1, "conversationId": 1, "payload": mongodb::bson::Binary { subtype: mongodb::bson::spec::BinarySubtype::Generic, bytes: vec![5, 0, 0, 0, 0] } };
    let err = client
        .database("$external")
        .run_command(command)
        .await
        .unwrap_err();
    assert_eq!(common::code(&err), Some(17), "{err}");
}

/// Every rejection rule, each with the reason the kit records.
#[tokio::test]
async fn the_server_rejects_bad_tokens_with_18() {
    let kit = TestKit::start().await.unwrap();
    let issuer = kit.issuer(0);
    let base = || {
        issuer
            .token()
            .subject("u")
            .audience(DEFAULT_AUDIENCE)
            .claim("groups", json!(["g"]))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", base().expired().sign(), "expired"),
        (
            "wrong audience",
            base().audience("api://other").sign(),
            "'aud' is not",
        ),
        (
            "two audiences",
            base().audiences(&[DEFAULT_AUDIENCE, "x"]).sign(),
            "single audience",
        ),
        (
            "wrong issuer",
            base().wrong_issuer().sign(),
            "no identity provider is configured for issuer",
        ),
        (
            "bad signature",
            base().bad_signature().sign(),
            "signature does not verify",
        ),
        ("no kid", base().without_kid().sign(), "no 'kid'"),
        (
            "HS256",
            base().algorithm("HS256").sign(),
            "signature does not verify",
        ),
        (
            "alg none",
            base().algorithm("none").sign(),
            "signature does not verify",
        ),
        ("no sub", base().without("sub").sign(), "no 'sub'"),
        ("no exp", base().without("exp").sign(), "no numeric 'exp'"),
        (
            "nbf in 5 minutes",
            base().not_before_in(300).sign(),
            "'nbf'",
        ),
        (
            "no groups",
            issuer
                .token()
                .subject("u")
                .audience(DEFAULT_AUDIENCE)
                .sign(),
            "authorization claim 'groups'",
        ),
        ("not a JWT", "not-a-jwt".to_owned(), "compact JWS"),
    ];
    for (name, token, reason) in cases {
        kit.server().reset_stats();
        let (client, _) = machine_client(&kit.uri(), name, move |_| token.clone()).await;
        let err = find_one(&client).await.expect_err(name);
        assert!(
            err.to_string().contains("Authentication failed"),
            "{name}: {err}"
        );
        let stats = kit.server().stats();
        assert!(
            stats.failure_reasons.iter().any(|r| r.contains(reason)),
            "{name}: expected a reason with {reason:?}, got {:?}",
            stats.failure_reasons
        );
    }
    // nbf within the 60 s skew is accepted.
    let token = base().not_before_in(30).sign();
    let (client, _) = machine_client(&kit.uri(), "nbf-skew", move |_| token.clone()).await;
    find_one(&client).await.unwrap();
}

fn human_kit() -> mongodb_oidc_testkit::TestKitBuilder {
    TestKit::builder()
        .issuers(2)
        .provider(0, |iss| {
            IdentityProviderConfig::human(iss, "aud-1", "client-1")
                .auth_name_prefix("idp1")
                .match_pattern("user1")
        })
        .provider(1, |iss| {
            IdentityProviderConfig::human(iss, "aud-2", "client-2")
                .auth_name_prefix("idp2")
                .match_pattern("user2")
        })
}

#[tokio::test]
async fn two_step_human_flow_picks_the_provider_by_principal() {
    let kit = human_kit().start().await.unwrap();
    let issuer = kit.issuer(1).minter().clone();
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    let callback = Callback::human(move |ctx| {
        *record.lock().unwrap() = ctx.idp_info.clone();
        let token = issuer
            .token()
            .subject("user2")
            .audience("aud-2")
            .claim("groups", json!(["g"]))
            .sign();
        async move { Ok(IdpServerResponse::builder().access_token(token).build()) }.boxed()
    });
    let client = client(&kit.uri(), "human", Some("user2"), callback).await;
    find_one(&client).await.unwrap();
    let info = seen
        .lock()
        .unwrap()
        .clone()
        .expect("IdpInfo given to the callback");
    assert_eq!(info.issuer, kit.issuer(1).url());
    assert_eq!(info.client_id.as_deref(), Some("client-2"));
    let stats = kit.server().stats();
    assert_eq!(
        (stats.sasl_start_principal, stats.sasl_continue),
        (1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.principals, vec!["idp2/user2".to_string()]);
}

#[tokio::test]
async fn two_step_without_a_principal_and_two_human_providers_fails() {
    let kit = human_kit().start().await.unwrap();
    let callback = Callback::human(|_| {
        async { Ok(IdpServerResponse::builder().access_token("x").build()) }.boxed()
    });
    let client = client(&kit.uri(), "human-none", None, callback).await;
    assert!(find_one(&client).await.is_err());
    assert!(
        kit.server().stats().failure_reasons[0]
            .contains("several identity providers support human flows")
    );
}

#[tokio::test]
async fn two_step_principal_must_match_the_token() {
    let kit = human_kit().start().await.unwrap();
    let issuer = kit.issuer(0).minter().clone();
    let callback = Callback::human(move |_| {
        let token = issuer
            .token()
            .subject("someone-else")
            .audience("aud-1")
            .claim("groups", json!(["g"]))
            .sign();
        async move { Ok(IdpServerResponse::builder().access_token(token).build()) }.boxed()
    });
    let client = client(&kit.uri(), "human-mismatch", Some("user1"), callback).await;
    assert!(find_one(&client).await.is_err());
    assert!(kit.server().stats().failure_reasons[0].contains("is not the requested 'user1'"));
}
