//! Each emulator's HTTP contract, each fault mode, and the identity provider's documents, over
//! real HTTP; and emulator-issued tokens authenticate against the server.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use mongodb::bson::{Document, doc};
use mongodb_oidc_testkit::emulators::ManagedIdentity;
use mongodb_oidc_testkit::http::Fault;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
use serde_json::Value;

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn imds(kit: &TestKit, query: &str, metadata: bool) -> (u16, Value) {
    let mut request = http().get(format!("{}?{query}", kit.azure().endpoint()));
    if metadata {
        request = request.header("Metadata", "true");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn azure_imds_contract() {
    let kit = TestKit::start().await.unwrap();
    let q = imds_query();
    let (status, body) = imds(&kit, &q, false).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Required metadata header not specified"))
    );
    let (status, body) = imds(&kit, "api-version=2018-02-01", true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, body) = imds(&kit, &q, true).await;
    assert_eq!(status, 200);
    for field in [
        "access_token",
        "expires_in",
        "expires_on",
        "resource",
        "token_type",
    ] {
        assert!(body[field].is_string(), "{field} is a string: {body}");
    }
    assert_eq!(body["expires_in"], "3600");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], DEFAULT_AUDIENCE);
    assert_eq!(
        c["sub"].as_str(),
        Some(ManagedIdentity::system_assigned().object_id.as_str())
    );
    assert_eq!(
        body["expires_on"].as_str().unwrap().parse::<i64>().unwrap(),
        c["exp"].as_i64().unwrap()
    );

    let user = ManagedIdentity::user_assigned();
    for selector in [
        format!("client_id={}", user.client_id),
        format!("object_id={}", user.object_id),
        format!("msi_res_id={}", urlencode(&user.resource_id)),
    ] {
        let (status, body) = imds(&kit, &format!("{q}&{selector}"), true).await;
        assert_eq!(status, 200, "{selector}");
        assert_eq!(
            claims(body["access_token"].as_str().unwrap())["sub"].as_str(),
            Some(user.object_id.as_str())
        );
    }
    let (status, body) = imds(&kit, &format!("{q}&client_id=bad"), true).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Identity not found"))
    );

    kit.azure().remove_system_identity();
    kit.azure().add_identity(ManagedIdentity {
        client_id: "second".into(),
        ..ManagedIdentity::user_assigned()
    });
    let (status, body) = imds(&kit, &q, true).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Multiple user assigned identities")
    );
    assert_eq!(kit.azure().http().log().count(), 8);
    assert_eq!(
        kit.azure().http().log().last().unwrap().query("resource"),
        Some(DEFAULT_AUDIENCE)
    );
}

#[tokio::test]
async fn app_service_contract() {
    let kit = TestKit::start().await.unwrap();
    let app = kit.app_service();
    let url = |q: &str| format!("{}?{q}", app.identity_endpoint());
    let q = format!(
        "api-version=2019-08-01&resource={}",
        urlencode(DEFAULT_AUDIENCE)
    );
    let r = http().get(url(&q)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .get(url("api-version=2017-09-01&resource=x"))
        .header("X-IDENTITY-HEADER", app.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http()
        .get(url(&q))
        .header("X-IDENTITY-HEADER", app.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        DEFAULT_AUDIENCE
    );
}

#[tokio::test]
async fn gcp_metadata_contract() {
    let kit = TestKit::start().await.unwrap();
    let url = format!(
        "{}?audience={}",
        kit.gcp().identity_url(),
        urlencode(DEFAULT_AUDIENCE)
    );
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http()
        .get(kit.gcp().identity_url())
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http()
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwt = r.text().await.unwrap();
    let c = claims(&jwt);
    assert_eq!(
        (c["aud"].as_str(), c["sub"].as_str()),
        (Some(DEFAULT_AUDIENCE), Some("104882912345678901234"))
    );
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    assert!(kit.gcp().host().starts_with("127.0.0.1:"));
}

#[tokio::test]
async fn faults_in_sequence_then_success() {
    let kit = TestKit::start().await.unwrap();
    let faults = kit.gcp().http().faults();
    faults
        .push(Fault::throttled(2))
        .push(Fault::status(500, "internal"));
    let url = format!("{}?audience=a", kit.gcp().identity_url());
    let get = || http().get(&url).header("Metadata-Flavor", "Google").send();
    let first = get().await.unwrap();
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "2");
    let second = get().await.unwrap();
    assert_eq!(
        (second.status().as_u16(), second.text().await.unwrap()),
        (500, "internal".to_owned())
    );
    assert_eq!(get().await.unwrap().status(), 200);
    assert_eq!(kit.gcp().http().log().count(), 3);
}

#[tokio::test]
async fn hang_malformed_oversized_close_latency_and_always() {
    let kit = TestKit::start().await.unwrap();
    let endpoint = kit.app_service();
    let url = format!(
        "{}?api-version=2019-08-01&resource=a",
        endpoint.identity_endpoint()
    );
    let get = || {
        http()
            .get(&url)
            .header("X-IDENTITY-HEADER", endpoint.identity_header())
            .timeout(Duration::from_millis(500))
            .send()
    };
    let faults = endpoint.http().faults();

    faults.push(Fault::Hang);
    let err = get().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");

    faults.push(Fault::Malformed);
    let body = get().await.unwrap().text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    faults.push(Fault::Oversized(2 * 1024 * 1024));
    assert_eq!(
        get().await.unwrap().bytes().await.unwrap().len(),
        2 * 1024 * 1024
    );

    faults.push(Fault::CloseConnection);
    assert!(get().await.is_err());

    faults.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(get().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));

    faults.clear();
    faults.set_always(Some(Fault::status(503, "down")));
    assert_eq!(get().await.unwrap().status(), 503);
    assert_eq!(get().await.unwrap().status(), 503);
    faults.set_always(None);
    assert_eq!(get().await.unwrap().status(), 200);
}

#[tokio::test]
async fn identity_provider_serves_discovery_and_jwks() {
    let kit = TestKit::start().await.unwrap();
    let issuer = kit.issuer(0);
    let discovery = get_json(&format!(
        "{}/.well-known/openid-configuration",
        issuer.url()
    ))
    .await;
    assert_eq!(discovery["issuer"].as_str(), Some(issuer.url().as_str()));
    let jwks = get_json(discovery["jwks_uri"].as_str().unwrap()).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["kid"].as_str()),
        (Some("RSA"), Some(issuer.kid()))
    );
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["n"].as_str().unwrap())
        .unwrap();
    assert!(n.len() * 8 >= 2048);
}

/// The chain end to end: a token from each emulator authenticates against the server.
#[tokio::test]
async fn emulator_tokens_authenticate() {
    let kit = TestKit::start().await.unwrap();
    let q = imds_query();
    let (_, body) = imds(&kit, &q, true).await;
    let azure_token = body["access_token"].as_str().unwrap().to_owned();
    let gcp_token = http()
        .get(format!(
            "{}?audience={}",
            kit.gcp().identity_url(),
            urlencode(DEFAULT_AUDIENCE)
        ))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (name, token) in [("azure", azure_token), ("gcp", gcp_token)] {
        let (client, _) = common::machine_client(&kit.uri(), name, move |_| token.clone()).await;
        client
            .database("d")
            .collection::<Document>("c")
            .find_one(doc! {})
            .await
            .unwrap();
    }
    let principals = kit.server().stats().principals;
    assert_eq!(
        principals,
        vec![
            format!("test/{}", ManagedIdentity::system_assigned().object_id),
            "test/104882912345678901234".to_owned(),
        ]
    );
}

async fn get_json(url: &str) -> Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}

fn imds_query() -> String {
    format!(
        "api-version=2018-02-01&resource={}",
        urlencode(DEFAULT_AUDIENCE)
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
