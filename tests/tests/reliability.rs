//! Reliability, end to end through a real `mongodb::Client`: transient failures are retried,
//! permanent ones fail once and fast, a hung endpoint ends at the deadline without stalling
//! other clients, tokens rotate under load, 391 storms heal, kubelet's atomic token swaps are
//! followed, and hostile inputs produce errors, not panics.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mongodb::Client;
use mongodb_oidc::providers::K8sProvider;
use mongodb_oidc::{
    CallbackContext, Env, Error, JwtParts, OidcCallback, OidcOptions, ProviderConfig,
};
use mongodb_oidc_testkit::emulators::ManagedIdentity;
use mongodb_oidc_testkit::http::Fault;
use mongodb_oidc_testkit::server::FailPoint;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
use support::{TempDir, find};

fn azure_options(kit: &TestKit) -> OidcOptions {
    OidcOptions::builder()
        .provider_config(ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint()))
        .build()
}

fn azure_uri(kit: &TestKit, user: Option<&str>, extra: &str) -> String {
    let host = kit
        .uri()
        .trim_start_matches("mongodb://")
        .trim_end_matches('/')
        .to_owned();
    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
    format!(
        "mongodb://{user}{host}/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}&retryReads=false&serverSelectionTimeoutMS=5000{extra}"
    )
}

#[tokio::test]
async fn throttled_then_failing_then_ok_succeeds() {
    let kit = TestKit::start().await.unwrap();
    kit.azure()
        .http()
        .faults()
        .push(Fault::throttled(0))
        .push(Fault::status(500, "internal"));
    let client = azure_options(&kit)
        .client(&azure_uri(&kit, None, ""))
        .await
        .unwrap();
    find(&client).await.unwrap();
    assert_eq!(kit.azure().http().log().count(), 3);
}

#[tokio::test]
async fn a_permanent_400_fails_once_and_fast() {
    let kit = TestKit::start().await.unwrap();
    let client = azure_options(&kit)
        .client(&azure_uri(&kit, Some("no-such-identity"), ""))
        .await
        .unwrap();
    let started = Instant::now();
    let err = find(&client).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let ours = Error::from_driver(&err).unwrap();
    assert!(ours.to_string().contains("Identity not found"), "{ours}");
    assert_eq!(
        (ours.attempts(), kit.azure().http().log().count()),
        (1, 1),
        "no retry storm"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_endpoint_fails_at_connect_timeout_while_other_clients_work() {
    let kit = TestKit::start().await.unwrap();
    // Connected before the endpoint hangs: keeps working on its pooled connections.
    let connected = azure_options(&kit)
        .client(&azure_uri(&kit, None, ""))
        .await
        .unwrap();
    find(&connected).await.unwrap();
    // Another token source entirely.
    let gcp = OidcOptions::builder()
        .provider_config(ProviderConfig::new().gcp_metadata_host(kit.gcp().host()))
        .build();
    let gcp_uri = azure_uri(&kit, None, "").replace("ENVIRONMENT:azure", "ENVIRONMENT:gcp");
    let gcp_client = gcp.client(&gcp_uri).await.unwrap();

    kit.azure().http().faults().set_always(Some(Fault::Hang));
    // A different managed identity, so the shared cache cannot answer for it.
    let user = ManagedIdentity::user_assigned().client_id;
    let hung = azure_options(&kit)
        .client(&azure_uri(&kit, Some(&user), "&connectTimeoutMS=1000"))
        .await
        .unwrap();
    let hung_find = tokio::spawn(async move {
        let started = Instant::now();
        (find(&hung).await, started.elapsed())
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        find(&gcp_client).await.unwrap();
        find(&connected).await.unwrap();
        slowest = slowest.max(started.elapsed());
    }
    let (result, took) = hung_find.await.unwrap();
    let err = result.unwrap_err();
    let ours = Error::from_driver(&err).unwrap_or_else(|| panic!("{err}"));
    assert!(ours.to_string().contains("did not answer within"), "{ours}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "other clients kept working: slowest {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_rotation_under_load() {
    let kit = TestKit::start().await.unwrap();
    kit.azure().set_token_lifetime(Duration::from_secs(20));
    let options = azure_options(&kit);
    let client = options.client(&azure_uri(&kit, None, "")).await.unwrap();
    find(&client).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, stop, ok, failed) =
                (client.clone(), stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    match find(&client).await {
                        Ok(_) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            eprintln!("failed: {e}");
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                }
            })
        })
        .collect();
    // Virtual time: every 50 ms the kit's clock jumps 5 s, so tokens (20 s) expire every 200 ms.
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        kit.clock().advance(Duration::from_secs(5));
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let stats = kit.server().stats();
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no failed operation ({} succeeded)",
        ok.load(Ordering::SeqCst)
    );
    assert!(
        stats.reauthentication_required >= 5,
        "tokens did expire: {stats:?}"
    );
    let fetches = kit.azure().http().log().count() as u64;
    assert!(
        fetches <= stats.reauthentication_required + 1,
        "one fetch per reauthentication at most: {fetches} fetches, {} 391s",
        stats.reauthentication_required
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_391_storm_over_50_connections() {
    let kit = TestKit::start().await.unwrap();
    let options = azure_options(&kit);
    let client = options
        .client(&azure_uri(&kit, None, "&maxPoolSize=50&appName=storm"))
        .await
        .unwrap();
    let run_50 = |client: &Client| {
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { find(&client).await })
            })
            .collect();
        async move {
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        }
    };
    // Hold each find for a moment so that 50 connections open.
    kit.server()
        .set_fail_point(Some(FailPoint::delay(&["find"], 300, 50).for_app("storm")));
    assert!(run_50(&client).await.iter().all(Result::is_ok));
    assert!(kit.server().stats().connections >= 50);

    kit.server()
        .set_fail_point(Some(FailPoint::error(&["find"], 391, 50).for_app("storm")));
    let results = run_50(&client).await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let stats = kit.server().stats();
    assert_eq!(stats.reauthentication_required, 50);
    assert!(options.stats().fetches <= 51, "{:?}", options.stats());
}

/// kubelet's AtomicWriter: `token` -> `..data/token`, `..data` -> a timestamped directory,
/// swapped by renaming a new symlink over `..data`.
fn kubelet_write(dir: &Path, version: u32, token: &str) {
    let versioned = dir.join(format!("..2026_11_22_{version:02}"));
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::write(versioned.join("token"), token).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(versioned.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    if !dir.join("token").exists() {
        std::os::unix::fs::symlink("..data/token", dir.join("token")).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kubelet_token_swap_is_followed() {
    let kit = TestKit::start().await.unwrap();
    let dir = TempDir::new("kubelet");
    kubelet_write(&dir.0, 1, &kit.token_for("pod"));
    let env = Env::from_vars([(
        "AZURE_FEDERATED_TOKEN_FILE",
        dir.0.join("token").display().to_string(),
    )]);
    let options = OidcOptions::builder()
        .provider_config(ProviderConfig::new().env(env))
        .build();
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s",
        kit.uri()
    );
    let client = options.client(&uri).await.unwrap();
    find(&client).await.unwrap();
    kit.clock().advance(Duration::from_secs(2 * 3600)); // the first token expires
    kubelet_write(&dir.0, 2, &kit.token_for("pod"));
    find(&client).await.unwrap();
    // The old token had expired, so only the swapped-in one could authenticate.
    let stats = kit.server().stats();
    assert_eq!(
        (stats.authentications, stats.reauthentication_required),
        (2, 1),
        "{stats:?}"
    );
    assert!(stats.failure_reasons.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn hostile_token_files_are_errors_with_bounded_reads() {
    let dir = TempDir::new("hostile");
    let binary = dir.0.join("binary");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x81]).unwrap();
    let big = dir.0.join("big");
    std::fs::write(&big, vec![b'a'; 4 * 1024 * 1024]).unwrap();
    let deadline = || CallbackContext::new(tokio::time::Instant::now() + Duration::from_secs(5));
    for (path, expected) in [
        (Path::new("/dev/zero"), "larger than 256 KiB"),
        (binary.as_path(), "not UTF-8"),
        (big.as_path(), "larger than 256 KiB"),
        (dir.0.as_path(), "cannot read the token file"),
    ] {
        let err = K8sProvider::builder()
            .with_path(path)
            .build()
            .fetch(&deadline())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{}: {err}",
            path.display()
        );
    }
}

#[tokio::test]
async fn hostile_token_endpoint_bodies_are_errors() {
    let kit = TestKit::start().await.unwrap();
    let provider = mongodb_oidc::providers::AzureProvider::builder(DEFAULT_AUDIENCE)
        .with_endpoint(kit.azure().endpoint())
        .build();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies = [
        deep,
        r#"{"access_token": 12345}"#.to_owned(),
        r#"{"access_token": "t", "expires_in": "-99999999999999999999999"}"#.to_owned(),
        r#"{"access_token": "t", "expires_in": "not a number", "expires_on": {"x": 1}}"#.to_owned(),
        "\u{0}\u{1}\u{2}".to_owned(),
        String::new(),
    ];
    for body in bodies {
        kit.azure()
            .http()
            .faults()
            .push(Fault::status(200, body.clone()));
        let result = provider
            .fetch(&CallbackContext::new(
                tokio::time::Instant::now() + Duration::from_secs(5),
            ))
            .await;
        if let Ok(token) = &result {
            assert!(
                token.lifetime().is_ok_and(|l| l.is_none()),
                "{}: {:?}",
                &body[..body.len().min(40)],
                token.lifetime()
            );
        }
    }
}

#[test]
fn hostile_jwts_never_panic() {
    let huge = "A".repeat(1 << 20);
    let cases = [
        String::new(),
        ".".repeat(10_000),
        format!("{huge}.{huge}.{huge}"),
        "e30.W10.x".to_owned(),       // {} . []
        "bnVsbA.bnVsbA.x".to_owned(), // null . null
        "eyJhIjoi.eyJ9.x".to_owned(),
        "a.b.c.d".to_owned(),
    ];
    for case in cases {
        let _ = JwtParts::decode(&case);
    }
    let nested = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let encoded = base64_url(&nested);
    assert!(JwtParts::decode(&format!("{encoded}.{encoded}.x")).is_none());
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_share_one_token_unless_they_opt_out() {
    let kit = TestKit::start().await.unwrap();
    let uri = azure_uri(&kit, None, "");
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(azure_options(&kit).client(&uri).await.unwrap());
    }
    for client in &clients {
        find(client).await.unwrap();
    }
    assert_eq!(
        kit.azure().http().log().count(),
        1,
        "ten independent OidcOptions, one identity, one fetch"
    );

    let private = || {
        OidcOptions::builder()
            .provider_config(ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint()))
            .shared_cache(false)
            .build()
    };
    for _ in 0..3 {
        find(&private().client(&uri).await.unwrap()).await.unwrap();
    }
    assert_eq!(
        kit.azure().http().log().count(),
        4,
        "opted-out clients fetch their own"
    );
}
