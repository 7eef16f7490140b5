//! The standalone `serve` mode prints how to reach everything, and a plain driver client can
//! authenticate with the token file it writes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use mongodb::bson::doc;
use serde_json::Value;

#[tokio::test]
async fn serve_prints_its_endpoints_and_works() {
    let dir = std::env::temp_dir().join(format!("testkit-serve-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongodb-oidc-testkit"))
        .args(["serve", "--token-dir", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    for key in [
        "uri",
        "issuer",
        "audience",
        "oidcIdentityProviders",
        "azure_imds",
        "app_service",
        "gcp_metadata",
        "token_files",
    ] {
        assert!(!info[key].is_null(), "{key} in {info}");
    }
    let token = std::fs::read_to_string(info["token_files"]["valid"].as_str().unwrap()).unwrap();
    assert!(
        token.ends_with('\n'),
        "token files end with a newline, like kubelet's"
    );
    let token = token.trim().to_owned();
    let (client, _) = common::machine_client(info["uri"].as_str().unwrap(), "serve", move |_| {
        token.clone()
    })
    .await;
    let status = client
        .database("admin")
        .run_command(doc! { "connectionStatus": 1 })
        .await
        .unwrap();
    assert!(status.get_document("authInfo").is_ok());
    client
        .database("d")
        .collection::<mongodb::bson::Document>("c")
        .find_one(doc! {})
        .await
        .unwrap();

    let expired = std::fs::read_to_string(info["token_files"]["expired"].as_str().unwrap())
        .unwrap()
        .trim()
        .to_owned();
    let (client, _) =
        common::machine_client(info["uri"].as_str().unwrap(), "serve-expired", move |_| {
            expired.clone()
        })
        .await;
    assert!(
        client
            .database("d")
            .collection::<mongodb::bson::Document>("c")
            .find_one(doc! {})
            .await
            .is_err()
    );
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_mongodb-oidc-testkit"))
        .args(["serve", "--port", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port: 'x' is not a port number"));
}
