//! Each built-in provider's contract, and its behaviour under every fault the emulators can
//! inject: errors carry the status and a token-free body, deadlines hold, bodies are capped.

mod support;

use std::time::{Duration, Instant};

use mongodb_oidc::providers::{
    AzureIdentity, AzureProvider, GcpProvider, K8sProvider, TestFileProvider,
};
use mongodb_oidc::{
    CallbackContext, Env, Error, OidcCallback, OidcOptions, ProviderConfig, TokenResponse,
};
use mongodb_oidc_testkit::emulators::ManagedIdentity;
use mongodb_oidc_testkit::http::Fault;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
use support::{TempDir, find};

fn context(deadline: Duration) -> CallbackContext {
    CallbackContext::new(tokio::time::Instant::now() + deadline)
}

async fn fetch(provider: &dyn OidcCallback) -> Result<TokenResponse, Error> {
    provider.fetch(&context(Duration::from_secs(5))).await
}

fn azure(kit: &TestKit) -> AzureProvider {
    AzureProvider::builder(DEFAULT_AUDIENCE)
        .with_endpoint(kit.azure().endpoint())
        .build()
}

#[tokio::test]
async fn azure_imds_request_and_expiry() {
    let kit = TestKit::start().await.unwrap();
    let token = fetch(&azure(&kit)).await.unwrap();
    let lifetime = token.lifetime().unwrap().unwrap();
    assert!(
        lifetime > Duration::from_secs(3500) && lifetime <= Duration::from_secs(3600),
        "{lifetime:?}"
    );
    let request = kit.azure().http().log().last().unwrap();
    assert_eq!(request.header("Metadata"), Some("true"));
    assert_eq!(request.header("Accept"), Some("application/json"));
    assert_eq!(
        (request.query("api-version"), request.query("resource")),
        (Some("2018-02-01"), Some(DEFAULT_AUDIENCE))
    );
    assert_eq!(request.query("client_id"), None);

    let user = ManagedIdentity::user_assigned();
    for identity in [
        AzureIdentity::ClientId(user.client_id.clone()),
        AzureIdentity::ObjectId(user.object_id.clone()),
        AzureIdentity::ResourceId(user.resource_id.clone()),
    ] {
        let provider = AzureProvider::builder(DEFAULT_AUDIENCE)
            .with_endpoint(kit.azure().endpoint())
            .identity(identity.clone())
            .build();
        let token = fetch(&provider).await.unwrap();
        let claims = mongodb_oidc::JwtParts::decode(token.access_token().secret())
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], user.object_id.as_str(), "{identity:?}");
    }
}

#[tokio::test]
async fn azure_status_errors_quote_the_body_without_tokens() {
    let kit = TestKit::start().await.unwrap();
    let canary = kit.token();
    let body =
        format!(r#"{{"error":"server_error","access_token":"{canary}","detail":"{canary}"}}"#);
    kit.azure().http().faults().push(Fault::status(500, body));
    let err = fetch(&azure(&kit)).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("Azure IMDS answered HTTP 500") && message.contains("server_error"),
        "{message}"
    );
    assert!(
        !message.contains(&canary) && !format!("{err:?}").contains(&canary),
        "{message}"
    );
    assert!(err.is_transient());
    assert_eq!(err.status(), Some(500));

    let bad = AzureProvider::builder(DEFAULT_AUDIENCE)
        .with_endpoint(kit.azure().endpoint())
        .identity(AzureIdentity::ClientId("nope".into()))
        .build();
    let err = fetch(&bad).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_transient(), "400 is never retried");

    kit.azure()
        .http()
        .faults()
        .push(Fault::status(404, "not yet"));
    assert!(
        fetch(&azure(&kit)).await.unwrap_err().is_transient(),
        "IMDS 404 is transient"
    );
    kit.gcp().http().faults().push(Fault::status(404, "no"));
    let gcp = GcpProvider::builder("a")
        .with_endpoint(kit.gcp().http().base_url())
        .build();
    assert!(
        !fetch(&gcp).await.unwrap_err().is_transient(),
        "GCP 404 is not"
    );

    kit.azure().http().faults().push(Fault::throttled(7));
    assert_eq!(
        fetch(&azure(&kit)).await.unwrap_err().retry_after(),
        Some(Duration::from_secs(7))
    );
}

#[tokio::test]
async fn malformed_missing_and_oversized_bodies() {
    let kit = TestKit::start().await.unwrap();
    let faults = kit.azure().http().faults();
    faults.push(Fault::Malformed);
    assert!(
        fetch(&azure(&kit))
            .await
            .unwrap_err()
            .to_string()
            .contains("the body is not JSON")
    );
    faults.push(Fault::status(200, r#"{"token_type":"Bearer"}"#));
    assert!(
        fetch(&azure(&kit))
            .await
            .unwrap_err()
            .to_string()
            .contains("no 'access_token'")
    );
    faults.push(Fault::status(200, r#"{"access_token":""}"#));
    assert!(
        fetch(&azure(&kit))
            .await
            .unwrap_err()
            .to_string()
            .contains("empty")
    );
    faults.push(Fault::Oversized(1024 * 1024));
    let err = fetch(&azure(&kit)).await.unwrap_err();
    assert!(
        err.to_string().contains("larger than 262144 bytes"),
        "{err}"
    );
    faults.push(Fault::CloseConnection);
    let err = fetch(&azure(&kit)).await.unwrap_err();
    assert!(
        err.to_string().contains("could not reach Azure IMDS") && err.is_transient(),
        "{err}"
    );

    kit.gcp().http().faults().push(Fault::Malformed);
    let gcp = GcpProvider::builder("a")
        .with_endpoint(kit.gcp().http().base_url())
        .build();
    assert!(
        fetch(&gcp)
            .await
            .unwrap_err()
            .to_string()
            .contains("the body is not a JWT")
    );
}

#[tokio::test]
async fn a_hang_ends_at_the_deadline() {
    let kit = TestKit::start().await.unwrap();
    kit.azure().http().faults().push(Fault::Hang);
    let started = Instant::now();
    let err = azure(&kit)
        .fetch(&context(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains("did not answer within") && err.is_transient(),
        "{err}"
    );
}

#[tokio::test]
async fn through_the_driver_connect_timeout_bounds_the_fetch() {
    let kit = TestKit::start().await.unwrap();
    kit.azure().http().faults().set_always(Some(Fault::Hang));
    let options = OidcOptions::builder()
        .provider_config(ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint()))
        .build();
    let base = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}&serverSelectionTimeoutMS=5000",
        kit.uri()
    );
    let client = options
        .client(&format!("{base}&connectTimeoutMS=400"))
        .await
        .unwrap();
    let started = Instant::now();
    let err = find(&client).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let ours = Error::from_driver(&err).unwrap_or_else(|| panic!("{err}"));
    assert!(
        ours.to_string().contains("did not answer within")
            && ours.to_string().contains("connectTimeoutMS"),
        "{ours}"
    );

    // mongodb 3.9 does not implement timeoutMS (CSOT) and rejects it; it is passed through, not
    // silently dropped. The token deadline honours it once the driver accepts it.
    let err = options
        .client(&format!("{base}&timeoutMS=400"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("timeoutms is an invalid option"),
        "{err}"
    );
}

#[tokio::test]
async fn gcp_request_and_expiry() {
    let kit = TestKit::start().await.unwrap();
    let config =
        ProviderConfig::new().env(Env::from_vars([("GCE_METADATA_HOST", kit.gcp().host())]));
    let provider = GcpProvider::builder("api://x,y").config(config).build();
    let token = fetch(&provider).await.unwrap();
    assert!(token.lifetime().unwrap().unwrap() > Duration::from_secs(3500));
    let request = kit.gcp().http().log().last().unwrap();
    assert_eq!(
        (request.header("Metadata-Flavor"), request.query("audience")),
        (Some("Google"), Some("api://x,y"))
    );
}

#[tokio::test]
async fn app_service_is_used_when_its_variables_are_set() {
    let kit = TestKit::start().await.unwrap();
    let app = kit.app_service();
    let env = Env::from_vars([
        ("IDENTITY_ENDPOINT", app.identity_endpoint()),
        ("IDENTITY_HEADER", app.identity_header().to_owned()),
    ]);
    let provider = AzureProvider::builder(DEFAULT_AUDIENCE)
        .config(ProviderConfig::new().env(env))
        .build();
    assert!(provider.uses_app_service());
    assert!(
        !format!("{provider:?}").contains(app.identity_header()),
        "the header secret is not shown"
    );
    fetch(&provider).await.unwrap();
    let request = app.http().log().last().unwrap();
    assert_eq!(
        (
            request.query("api-version"),
            request.header("X-IDENTITY-HEADER")
        ),
        (Some("2019-08-01"), Some(app.identity_header()))
    );

    let wrong = Env::from_vars([
        ("IDENTITY_ENDPOINT", app.identity_endpoint()),
        ("IDENTITY_HEADER", "wrong".to_owned()),
    ]);
    let err = fetch(
        &AzureProvider::builder(DEFAULT_AUDIENCE)
            .config(ProviderConfig::new().env(wrong))
            .build(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("HTTP 401") && err.to_string().contains("check IDENTITY_HEADER"),
        "{err}"
    );
}

#[tokio::test]
async fn k8s_token_files() {
    let kit = TestKit::start().await.unwrap();
    let dir = TempDir::new("k8s");
    let (azure_file, aws_file) = (dir.0.join("azure"), dir.0.join("aws"));
    TestKit::write_token_file(&azure_file, &kit.token_for("azure-pod")).unwrap();
    TestKit::write_token_file(&aws_file, &kit.token_for("aws-pod")).unwrap();
    let subject = |t: TokenResponse| {
        mongodb_oidc::JwtParts::decode(t.access_token().secret())
            .unwrap()
            .claims["sub"]
            .clone()
    };

    let both = Env::from_vars([
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            azure_file.display().to_string(),
        ),
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            aws_file.display().to_string(),
        ),
    ]);
    let provider = K8sProvider::builder()
        .config(ProviderConfig::new().env(both))
        .build();
    assert_eq!(
        subject(fetch(&provider).await.unwrap()),
        "azure-pod",
        "AZURE_FEDERATED_TOKEN_FILE comes first; the newline is trimmed"
    );

    let empty_azure = Env::from_vars([
        ("AZURE_FEDERATED_TOKEN_FILE", String::new()),
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            aws_file.display().to_string(),
        ),
    ]);
    let provider = K8sProvider::builder()
        .config(ProviderConfig::new().env(empty_azure))
        .build();
    assert_eq!(
        subject(fetch(&provider).await.unwrap()),
        "aws-pod",
        "an empty variable counts as unset"
    );

    TestKit::write_token_file(&aws_file, &kit.token_for("rotated")).unwrap();
    assert_eq!(
        subject(fetch(&provider).await.unwrap()),
        "rotated",
        "the file is read again on every fetch"
    );

    let none = K8sProvider::builder()
        .config(ProviderConfig::new().env(Env::from_vars(Vec::<(String, String)>::new())))
        .build();
    assert_eq!(
        none.path(),
        std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token")
    );

    let missing = dir.0.join("missing");
    let provider = K8sProvider::builder()
        .config(ProviderConfig::new().env(Env::from_vars([(
            "AZURE_FEDERATED_TOKEN_FILE",
            missing.display().to_string(),
        )])))
        .build();
    let err = fetch(&provider).await.unwrap_err().to_string();
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );

    std::fs::write(&azure_file, "\n  \n").unwrap();
    let err = fetch(&K8sProvider::builder().with_path(&azure_file).build())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("is empty") && err.is_transient(),
        "{err}"
    );
}

#[tokio::test]
async fn test_environment_needs_oidc_token_file() {
    let err = TestFileProvider::from_config(&ProviderConfig::new().env(Env::from_vars(Vec::<(
        String,
        String,
    )>::new(
    ))))
    .unwrap_err();
    assert!(
        err.to_string().contains("OIDC_TOKEN_FILE is not set"),
        "{err}"
    );
    let kit = TestKit::start().await.unwrap();
    let options = OidcOptions::builder()
        .provider_config(ProviderConfig::new().env(Env::from_vars(Vec::<(String, String)>::new())))
        .build();
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test",
        kit.uri()
    );
    let err = options.client(&uri).await.unwrap_err();
    assert!(err.to_string().contains("OIDC_TOKEN_FILE"), "{err}");
}

#[tokio::test]
async fn azure_identity_by_object_id_through_the_options() {
    let kit = TestKit::start().await.unwrap();
    let user = ManagedIdentity::user_assigned();
    let config = ProviderConfig::new()
        .azure_imds_endpoint(kit.azure().endpoint())
        .azure_identity(AzureIdentity::ObjectId(user.object_id.clone()));
    let options = OidcOptions::builder().provider_config(config).build();
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}",
        kit.uri()
    );
    find(&options.client(&uri).await.unwrap()).await.unwrap();
    assert_eq!(
        kit.server().stats().principals,
        vec![format!("test/{}", user.object_id)]
    );
    assert_eq!(
        kit.azure().http().log().last().unwrap().query("object_id"),
        Some(user.object_id.as_str())
    );

    let with_user = uri.replace("mongodb://", "mongodb://some-client-id@");
    let err = options.client(&with_user).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the managed identity is chosen twice"),
        "{err}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let kit = TestKit::start().await.unwrap();
    let app = kit.app_service();
    let elsewhere = format!("{}/elsewhere", kit.gcp().http().base_url());
    app.http().faults().push(Fault::Status {
        status: 307,
        body: String::new(),
        headers: vec![("Location".into(), elsewhere)],
    });
    let env = Env::from_vars([
        ("IDENTITY_ENDPOINT", app.identity_endpoint()),
        ("IDENTITY_HEADER", app.identity_header().to_owned()),
    ]);
    let err = fetch(
        &AzureProvider::builder(DEFAULT_AUDIENCE)
            .config(ProviderConfig::new().env(env))
            .build(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(307));
    assert_eq!(
        kit.gcp().http().log().count(),
        0,
        "the identity header never left for another host"
    );
}
