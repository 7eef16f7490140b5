//! AKS workload identity: the pod's service-account token exchanged at Entra ID, end to end.

mod support;

use mongodb_oidc::providers::AzureWorkloadIdentity;
use mongodb_oidc::{Env, Error, OidcOptions, ProviderConfig};
use mongodb_oidc_testkit::http::Fault;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, ENTRA_TENANT, TestKit, WORKLOAD_CLIENT_ID};
use support::{TempDir, find};

fn env(kit: &TestKit, file: &std::path::Path, client_id: &str) -> Env {
    Env::from_vars([
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ("AZURE_CLIENT_ID", client_id.to_owned()),
        ("AZURE_TENANT_ID", ENTRA_TENANT.to_owned()),
        ("AZURE_AUTHORITY_HOST", kit.entra().authority_host()),
    ])
}

async fn options(kit: &TestKit, file: &std::path::Path, client_id: &str) -> OidcOptions {
    let callback = AzureWorkloadIdentity::builder(DEFAULT_AUDIENCE)
        .config(ProviderConfig::new().env(env(kit, file, client_id)))
        .build()
        .unwrap();
    OidcOptions::builder().callback(callback).build()
}

#[tokio::test]
async fn the_service_account_token_is_exchanged_at_entra() {
    let kit = TestKit::start().await.unwrap();
    let dir = TempDir::new("wi");
    let file = dir.0.join("azure-identity-token");
    TestKit::write_token_file(&file, &kit.service_account_token()).unwrap();
    kit.entra()
        .http()
        .faults()
        .push(Fault::status(503, "temporarily unavailable"));
    let options = options(&kit, &file, WORKLOAD_CLIENT_ID).await;
    let uri = format!("{}?authMechanism=MONGODB-OIDC", kit.uri());
    find(&options.client(&uri).await.unwrap()).await.unwrap();

    let requests = kit.entra().http().log().requests();
    assert_eq!(requests.len(), 2, "one 503, retried once");
    let request = requests.last().unwrap();
    assert_eq!(request.path, format!("/{ENTRA_TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        request.form("scope").as_deref(),
        Some("api://mongodb-oidc-testkit/.default")
    );
    assert_eq!(
        request.form("client_id").as_deref(),
        Some(WORKLOAD_CLIENT_ID)
    );
    assert_eq!(
        kit.server().stats().principals,
        vec!["test/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9".to_owned()]
    );
}

#[tokio::test]
async fn entra_rejections_are_explained() {
    let kit = TestKit::start().await.unwrap();
    let dir = TempDir::new("wi-bad");
    let file = dir.0.join("token");
    let uri = format!("{}?authMechanism=MONGODB-OIDC&retryReads=false", kit.uri());

    let other_pod = kit
        .issuer(0)
        .token()
        .subject("system:serviceaccount:other:pod")
        .audience("api://AzureADTokenExchange")
        .sign();
    TestKit::write_token_file(&file, &other_pod).unwrap();
    let ours = exchange_failure(&kit, &file, WORKLOAD_CLIENT_ID, &uri).await;
    assert!(
        ours.contains("AADSTS70021") && ours.contains("federated credential must name"),
        "{ours}"
    );

    TestKit::write_token_file(&file, &kit.service_account_token()).unwrap();
    let ours = exchange_failure(&kit, &file, "not-registered", &uri).await;
    assert!(
        ours.contains("AADSTS700016") && ours.contains("AZURE_CLIENT_ID"),
        "{ours}"
    );
}

/// The message of the (permanent) error a find fails with.
async fn exchange_failure(
    kit: &TestKit,
    file: &std::path::Path,
    client_id: &str,
    uri: &str,
) -> String {
    let client = options(kit, file, client_id)
        .await
        .client(uri)
        .await
        .unwrap();
    let err = find(&client).await.unwrap_err();
    let ours = Error::from_driver(&err).unwrap();
    assert!(!ours.is_transient());
    ours.to_string()
}

#[test]
fn missing_variables_are_named() {
    let err = AzureWorkloadIdentity::builder("api://x")
        .config(ProviderConfig::new().env(Env::from_vars([("AZURE_FEDERATED_TOKEN_FILE", "/t")])))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("AZURE_CLIENT_ID is not set"),
        "{err}"
    );
}
