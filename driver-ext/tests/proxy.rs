//! Proxy handling, which needs proxy variables in the environment, so it runs in a child
//! process: metadata endpoints never use a proxy (see cli.rs); Entra ID, a public endpoint,
//! does.

use std::process::Command;
use std::time::Duration;

use mongodb_oidc::providers::AzureWorkloadIdentity;
use mongodb_oidc::{CallbackContext, Env, OidcCallback, ProviderConfig};
use tokio::net::TcpListener;

const CHILD: &str = "entra_request_child";

#[tokio::test(flavor = "multi_thread")]
async fn entra_requests_go_through_the_proxy() {
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = seen.clone();
    // Accepts and holds connections without answering, like a stalled proxy.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = proxy.accept().await {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let exe = std::env::current_exe().unwrap();
    let status = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args([CHILD, "--exact", "--ignored", "--nocapture"])
            .env("HTTP_PROXY", &proxy_url)
            .env("http_proxy", &proxy_url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    holder.abort();
    assert!(status.success(), "the child test failed");
    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy received the Entra request"
    );
}

/// Run by `entra_requests_go_through_the_proxy` with HTTP_PROXY set.
#[tokio::test]
#[ignore = "run in a child process by entra_requests_go_through_the_proxy"]
async fn entra_request_child() {
    let dir = std::env::temp_dir().join(format!("proxy-child-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "a.b.c\n").unwrap();
    let env = Env::from_vars([
        ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ("AZURE_CLIENT_ID", "client".to_owned()),
        ("AZURE_TENANT_ID", "tenant".to_owned()),
        // A non-proxied request here would be refused at once (nothing listens on port 9).
        ("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9/".to_owned()),
    ]);
    let callback = AzureWorkloadIdentity::builder("api://x")
        .config(ProviderConfig::new().env(env))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let err = callback
        .fetch(&CallbackContext::new(deadline))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("did not answer within"),
        "the silent proxy held the request: {err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
