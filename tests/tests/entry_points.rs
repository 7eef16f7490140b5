//! The two ways in: a connection string (`Client::with_oidc_uri_str`) and the programmatic
//! `OidcOptions`, with the same validation and the rule that a setting comes from one place.

mod support;

use mongodb::Client;
use mongodb::bson::doc;
use mongodb::options::AuthMechanism;
use mongodb_oidc::{
    CallbackContext, ClientExt, Env, Error, HumanFn, OidcOptions, ProviderConfig, TokenResponse,
};
use mongodb_oidc_testkit::TestKit;
use mongodb_oidc_testkit::server::IdentityProviderConfig;
use support::find;

#[tokio::test]
async fn other_connection_strings_go_to_the_driver_unchanged() {
    let kit = TestKit::start().await.unwrap();
    let client = Client::with_oidc_uri_str(format!("{}?appName=plain", kit.uri()))
        .await
        .unwrap();
    client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    let options = OidcOptions::default()
        .client_options(&format!(
            "mongodb://u:p@{}/?authMechanism=SCRAM-SHA-256",
            kit.server().addr()
        ))
        .await
        .unwrap();
    let credential = options.credential.unwrap();
    assert_eq!(credential.mechanism, Some(AuthMechanism::ScramSha256));
    assert_eq!(credential.password.as_deref(), Some("p"));
}

#[tokio::test]
async fn configuration_errors_come_back_before_any_connection() {
    let cases = [
        (
            "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:Azure,TOKEN_RESOURCE:x",
            "did you mean 'azure'?",
        ),
        (
            "mongodb://h/?authMechanism=MONGODB-OIDC",
            "needs ENVIRONMENT",
        ),
        (
            "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api://a%2Cb",
            "cannot contain a comma",
        ),
        (
            "mongodb://h/?authMechanismProperties=ENVIRONMENT:k8s",
            "add authMechanism=MONGODB-OIDC",
        ),
        ("mongo://h", "must start with 'mongodb://'"),
    ];
    for (uri, expected) in cases {
        let err = Client::with_oidc_uri_str(uri).await.unwrap_err();
        assert!(
            err.is_configuration() && err.to_string().contains(expected),
            "{uri}: {err}"
        );
    }
}

#[tokio::test]
async fn a_missing_token_file_fails_the_operation_with_the_path() {
    let kit = TestKit::start().await.unwrap();
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s&retryReads=false",
        kit.uri()
    );
    let options = OidcOptions::builder()
        .provider_config(ProviderConfig::new().env(Env::from_vars(Vec::<(String, String)>::new())))
        .build();
    let err = find(&options.client(&uri).await.unwrap())
        .await
        .unwrap_err();
    let ours = Error::from_driver(&err).expect("our error inside the driver's");
    assert!(
        ours.to_string()
            .contains("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        "{ours}"
    );
    assert!(
        Error::from(err)
            .to_string()
            .contains("cannot read the token file"),
        "converted errors read as ours"
    );
}

#[tokio::test]
async fn programmatic_options_build_the_credential() {
    let options = OidcOptions::builder()
        .username("principal")
        .human_callback(HumanFn(|_ctx: CallbackContext| async {
            Ok(TokenResponse::new("x"))
        }))
        .allowed_hosts(["*.example.com"])
        .build();
    let client_options = options
        .client_options("mongodb://db.example.com/")
        .await
        .unwrap();
    let credential = client_options.credential.unwrap();
    assert_eq!(credential.mechanism, Some(AuthMechanism::MongoDbOidc));
    assert_eq!(credential.username.as_deref(), Some("principal"));
    let hosts = credential.mechanism_properties.unwrap();
    assert_eq!(hosts.get_array("ALLOWED_HOSTS").unwrap().len(), 1);
}

#[tokio::test]
async fn a_setting_comes_from_one_place() {
    let options = OidcOptions::builder().token_resource("api://b").build();
    let err = options.client("mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:gcp,TOKEN_RESOURCE:api://a").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("TOKEN_RESOURCE is set both in the connection string and in code"),
        "{err}"
    );
    let options = OidcOptions::builder().environment("k8s").build();
    let err = options
        .client("mongodb://u:p@h/?authMechanism=SCRAM-SHA-256")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("asks for authMechanism=SCRAM-SHA-256"),
        "{err}"
    );
}

/// The alternative the comma rule points to works end to end.
#[tokio::test]
async fn a_token_resource_with_a_comma_set_in_code() {
    let audience = "api://orders,inventory";
    let kit = TestKit::builder()
        .provider(0, move |iss| IdentityProviderConfig::machine(iss, audience))
        .start()
        .await
        .unwrap();
    let options = OidcOptions::builder()
        .environment("gcp")
        .token_resource(audience)
        .provider_config(ProviderConfig::new().gcp_metadata_host(kit.gcp().host()))
        .build();
    let client = options.client(&kit.uri()).await.unwrap();
    find(&client).await.unwrap();
    assert_eq!(
        kit.gcp().http().log().last().unwrap().query("audience"),
        Some(audience)
    );
}
