//! The `mongodb-oidc` CLI against the test kit: exit codes, JSON shapes, no token printed, and
//! metadata requests that ignore HTTP proxy variables.

use std::process::{Command, Output, Stdio};

use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
use serde_json::Value;
use tokio::net::TcpListener;

async fn cli(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_mongodb-oidc"))
            .args(&args)
            .env_remove("MONGODB_URI")
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn check_uri_reports_valid_and_invalid_strings() {
    let uri = "mongodb://cid@db.example.com/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api://app";
    let out = cli(args(&["check-uri", uri, "--json"]), vec![]).await;
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["valid"], true);
    assert_eq!(
        (report["mechanism"].as_str(), report["username"].as_str()),
        (Some("MONGODB-OIDC"), Some("cid"))
    );
    assert_eq!(
        (
            report["environment"].as_str(),
            report["token_resource"].as_str()
        ),
        (Some("azure"), Some("api://app"))
    );
    assert_eq!(report["source"], "$external");

    let gcp = "mongodb://someone@h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:gcp,TOKEN_RESOURCE:a";
    let report = json(&cli(args(&["check-uri", gcp, "--json"]), vec![]).await);
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("not used by ENVIRONMENT:gcp"),
        "{report}"
    );

    let bad = "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:Azure,TOKEN_RESOURCE:x";
    let out = cli(args(&["check-uri", bad, "--json"]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    let report = json(&out);
    assert_eq!(report["valid"], false);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("did you mean 'azure'?")
    );

    let driver_rejects = "mongodb://h/?w=1&w=2";
    let out = cli(args(&["check-uri", driver_rejects]), vec![]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: false"));
}

#[tokio::test(flavor = "multi_thread")]
async fn token_shows_claims_but_never_the_token() {
    let kit = TestKit::start().await.unwrap();
    let uri = format!(
        "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:gcp,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}"
    );
    let out = cli(
        args(&["token", &uri, "--json"]),
        vec![("GCE_METADATA_HOST".into(), kit.gcp().host())],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["claims"]["aud"], DEFAULT_AUDIENCE);
    assert_eq!(report["header"]["alg"], "RS256");
    assert!(report["expires_in_s"].as_i64().unwrap() > 3500);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("eyJ"),
        "no encoded token part is printed: {stdout}"
    );

    let azure = format!(
        "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}"
    );
    let out = cli(
        args(&[
            "token",
            &azure,
            "--azure-imds-endpoint",
            &kit.azure().endpoint(),
        ]),
        vec![],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("environment: azure"));

    let bad_user = azure.replace("//h", "//bad@h");
    let out = cli(
        args(&[
            "token",
            &bad_user,
            "--json",
            "--azure-imds-endpoint",
            &kit.azure().endpoint(),
        ]),
        vec![],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        json(&out)["error"]
            .as_str()
            .unwrap()
            .contains("Identity not found")
    );
}

/// A listener standing in for an HTTP proxy: it counts connections and never answers.
async fn fake_proxy() -> (String, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut seen = 0;
        while let Ok(Ok((_conn, _))) =
            tokio::time::timeout(std::time::Duration::from_secs(3), listener.accept()).await
        {
            seen += 1;
        }
        seen
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_requests_ignore_proxy_variables() {
    let kit = TestKit::start().await.unwrap();
    let (proxy, seen) = fake_proxy().await;
    let mut env: Vec<(String, String)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .iter()
    .map(|v| (v.to_string(), proxy.clone()))
    .collect();
    env.push(("GCE_METADATA_HOST".into(), kit.gcp().host()));
    env.push((
        "IDENTITY_ENDPOINT".into(),
        kit.app_service().identity_endpoint(),
    ));
    env.push((
        "IDENTITY_HEADER".into(),
        kit.app_service().identity_header().to_owned(),
    ));
    for environment in ["gcp", "azure"] {
        let uri = format!(
            "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:{environment},TOKEN_RESOURCE:{DEFAULT_AUDIENCE}"
        );
        let out = cli(args(&["token", &uri, "--json"]), env.clone()).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{environment}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert_eq!(
        kit.app_service().http().log().count(),
        1,
        "App Service was reached directly"
    );
    assert_eq!(seen.await.unwrap(), 0, "the proxy was never contacted");
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_reports_user_roles_and_timings() {
    let kit = TestKit::start().await.unwrap();
    let file = std::env::temp_dir().join(format!("cli-ping-{}", std::process::id()));
    TestKit::write_token_file(&file, &kit.token()).unwrap();
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s",
        kit.uri()
    );
    let env = vec![(
        "AZURE_FEDERATED_TOKEN_FILE".to_owned(),
        file.display().to_string(),
    )];
    let out = cli(args(&["ping", &uri, "--json"]), env.clone()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = json(&out);
    assert_eq!(report["user"], "test/test-user");
    assert_eq!(report["roles"][0], "test/app-readers");
    assert!(report["token_fetch_ms"].is_u64() && report["total_ms"].is_u64());

    TestKit::write_token_file(&file, &kit.issuer(0).token().subject("x").expired().sign()).unwrap();
    let out = cli(
        args(&[
            "ping",
            &format!("{uri}&serverSelectionTimeoutMS=3000"),
            "--json",
        ]),
        env,
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["ok"], false);
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let out = cli(args(&["frobnicate"]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command 'frobnicate'"));
    let out = cli(args(&["check-uri"]), vec![]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MONGODB_URI"));
}
