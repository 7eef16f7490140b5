//! `configureFailPoint: "failCommand"`, set through the driver as driver test suites do.

mod common;

use std::time::{Duration, Instant};

use common::{code, machine_client};
use mongodb::Client;
use mongodb::bson::{Document, doc};
use mongodb_oidc_testkit::TestKit;

async fn setup(app: &str) -> (TestKit, Client) {
    let kit = TestKit::start().await.unwrap();
    let token = kit.token();
    let (client, _) = machine_client(&kit.uri(), app, move |_| token.clone()).await;
    client
        .database("app")
        .collection::<Document>("c")
        .insert_one(doc! { "x": 1 })
        .await
        .unwrap();
    (kit, client)
}

async fn fail_point(client: &Client, mode: mongodb::bson::Bson, data: Document) {
    let command = doc! { "configureFailPoint": "failCommand", "mode": mode, "data": data };
    client.database("admin").run_command(command).await.unwrap();
}

async fn find(client: &Client) -> mongodb::error::Result<Option<Document>> {
    client
        .database("app")
        .collection::<Document>("c")
        .find_one(doc! {})
        .await
}

#[tokio::test]
async fn times_fails_exactly_n_commands() {
    let (_kit, client) = setup("times").await;
    fail_point(
        &client,
        doc! { "times": 2 }.into(),
        doc! { "failCommands": ["find"], "errorCode": 20 },
    )
    .await;
    for _ in 0..2 {
        assert_eq!(code(&find(&client).await.unwrap_err()), Some(20));
    }
    find(&client).await.unwrap();
}

#[tokio::test]
async fn always_on_until_turned_off() {
    let (_kit, client) = setup("always").await;
    fail_point(
        &client,
        "alwaysOn".into(),
        doc! { "failCommands": ["find"], "errorCode": 91 },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(code(&find(&client).await.unwrap_err()), Some(91));
    }
    fail_point(&client, "off".into(), doc! { "failCommands": ["find"] }).await;
    find(&client).await.unwrap();
}

#[tokio::test]
async fn app_name_scopes_the_fail_point() {
    let (kit, client) = setup("scoped-a").await;
    let token = kit.token();
    let (other, _) = machine_client(&kit.uri(), "scoped-b", move |_| token.clone()).await;
    fail_point(
        &client,
        "alwaysOn".into(),
        doc! { "failCommands": ["find"], "errorCode": 20, "appName": "scoped-b" },
    )
    .await;
    find(&client).await.unwrap();
    assert_eq!(code(&find(&other).await.unwrap_err()), Some(20));
}

#[tokio::test]
async fn error_labels_are_attached() {
    let (_kit, client) = setup("labels").await;
    fail_point(
        &client,
        doc! { "times": 1 }.into(),
        doc! { "failCommands": ["find"], "errorCode": 91, "errorLabels": ["RetryableError"] },
    )
    .await;
    let err = find(&client).await.unwrap_err();
    assert!(err.contains_label("RetryableError"), "{err}");
}

#[tokio::test]
async fn close_connection_drops_the_socket() {
    let (kit, client) = setup("close").await;
    let before = kit.server().stats().connections;
    fail_point(
        &client,
        doc! { "times": 1 }.into(),
        doc! { "failCommands": ["find"], "closeConnection": true },
    )
    .await;
    let err = find(&client).await.unwrap_err();
    assert!(
        matches!(err.kind.as_ref(), mongodb::error::ErrorKind::Io(_)),
        "{err}"
    );
    find(&client).await.unwrap();
    assert!(kit.server().stats().connections > before);
}

#[tokio::test]
async fn block_connection_delays_the_answer() {
    let (_kit, client) = setup("block").await;
    fail_point(
        &client,
        doc! { "times": 1 }.into(),
        doc! { "failCommands": ["find"], "blockConnection": true, "blockTimeMS": 300 },
    )
    .await;
    let started = Instant::now();
    find(&client).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn sasl_start_can_be_failed() {
    let (kit, client) = setup("sasl").await;
    fail_point(
        &client,
        doc! { "times": 1 }.into(),
        doc! { "failCommands": ["saslStart"], "errorCode": 20 },
    )
    .await;
    // Force a fresh authentication on a new connection without a cached-token handshake.
    let token = kit.token();
    let (fresh, _) = machine_client(&kit.uri(), "sasl", move |_| token.clone()).await;
    let err = find(&fresh).await.unwrap_err();
    // The driver reports an authentication error whose source is the command error 20.
    let shown = format!("{err:?}");
    assert!(
        shown.contains("code: 20") && shown.contains("failCommand"),
        "{shown}"
    );
    find(&fresh).await.unwrap();
    drop(client);
}

#[tokio::test]
async fn invalid_fail_points_are_rejected() {
    let (_kit, client) = setup("invalid").await;
    let bad = doc! { "configureFailPoint": "failCommand", "mode": "sometimes", "data": { "failCommands": ["find"] } };
    assert_eq!(
        code(&client.database("admin").run_command(bad).await.unwrap_err()),
        Some(2)
    );
    let other = doc! { "configureFailPoint": "otherFailPoint", "mode": "alwaysOn", "data": {} };
    assert_eq!(
        code(
            &client
                .database("admin")
                .run_command(other)
                .await
                .unwrap_err()
        ),
        Some(2)
    );
}
