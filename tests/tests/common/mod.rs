//! Helpers shared by the kit's own tests: a driver client with a closure callback.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use mongodb::Client;
use mongodb::options::oidc::{Callback, CallbackContext, IdpServerResponse};
use mongodb::options::{AuthMechanism, ClientOptions, Credential};

/// Counts callback calls.
#[derive(Clone, Default)]
pub struct Calls(Arc<AtomicUsize>);

impl Calls {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A client whose machine callback returns `token()` each time it is called.
pub async fn machine_client(
    uri: &str,
    app: &str,
    token: impl Fn(&CallbackContext) -> String + Send + Sync + 'static,
) -> (Client, Calls) {
    let calls = Calls::default();
    let counter = calls.clone();
    let token = Arc::new(token);
    let callback = Callback::machine(move |ctx| {
        counter.0.fetch_add(1, Ordering::SeqCst);
        let token = token(&ctx);
        async move { Ok(IdpServerResponse::builder().access_token(token).build()) }.boxed()
    });
    (client(uri, app, None, callback).await, calls)
}

/// A client with MONGODB-OIDC, this callback and retries off (as the prose tests set it).
pub async fn client(uri: &str, app: &str, username: Option<&str>, callback: Callback) -> Client {
    let mut options = ClientOptions::parse(uri).await.expect("kit URI parses");
    options.app_name = Some(app.to_owned());
    options.retry_reads = Some(false);
    options.retry_writes = Some(false);
    options.server_selection_timeout = Some(Duration::from_secs(5));
    let mut credential = Credential::builder()
        .mechanism(AuthMechanism::MongoDbOidc)
        .oidc_callback(callback)
        .build();
    credential.username = username.map(str::to_owned);
    options.credential = Some(credential);
    Client::with_options(options).expect("client")
}

/// The server's error code, when the error is a command error.
pub fn code(err: &mongodb::error::Error) -> Option<i32> {
    match err.kind.as_ref() {
        mongodb::error::ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}
