//! Setting up `mongodb-oidc` against the test kit for each token source the prose tests name:
//! a callback reading the token file, `ENVIRONMENT:test`, `azure`, `gcp` and `k8s`.
#![allow(dead_code)] // each suite uses a different subset

pub mod human;
pub mod machine;
pub mod target;

use std::future::Future;
use std::pin::Pin;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mongodb::Client;
use mongodb::bson::{Document, doc};
use mongodb_oidc::{CallbackContext, Env, OidcOptions, ProviderConfig, TokenResponse};
use mongodb_oidc_testkit::server::FailPoint;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};
pub use target::{Layout, Target};

/// Where the token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Callback,
    Test,
    Azure,
    Gcp,
    K8s,
}

/// A prose test that can run against any target.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

pub struct Case {
    pub name: &'static str,
    /// The token sources it runs for (callback-only cases list just the callback).
    pub sources: &'static [Source],
    pub layout: Layout,
    /// Whether it needs the kit's server (its counters or its clock).
    pub needs_kit: bool,
    pub run: for<'a> fn(&'a Target, Source) -> CaseFuture<'a>,
}

impl Case {
    pub fn new(
        name: &'static str,
        sources: &'static [Source],
        layout: Layout,
        needs_kit: bool,
        run: for<'a> fn(&'a Target, Source) -> CaseFuture<'a>,
    ) -> Self {
        Self {
            name,
            sources,
            layout,
            needs_kit,
            run,
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("mongodb-oidc-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for one token source against a target, and the connection string that selects it.
pub struct Setup<'a> {
    pub target: &'a Target,
    pub source: Source,
    pub options: OidcOptions,
    pub uri: String,
    pub app: String,
    pub token_file: PathBuf,
    pub callback_calls: Arc<AtomicUsize>,
    _dir: TempDir,
}

impl<'a> Setup<'a> {
    pub fn new(target: &'a Target, source: Source, app: &str) -> Self {
        Self::with_username(target, source, app, None)
    }

    pub fn with_username(
        target: &'a Target,
        source: Source,
        app: &str,
        username: Option<&str>,
    ) -> Self {
        let kit = &target.kit;
        let dir = TempDir::new(app);
        let token_file = dir.0.join("token");
        TestKit::write_token_file(&token_file, &kit.token()).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let file = token_file.display().to_string();
        let (properties, config) = match source {
            Source::Callback => (None, ProviderConfig::new()),
            Source::Test => (
                Some("ENVIRONMENT:test".to_owned()),
                ProviderConfig::new().env(Env::from_vars([("OIDC_TOKEN_FILE", file)])),
            ),
            Source::K8s => (
                Some("ENVIRONMENT:k8s".to_owned()),
                ProviderConfig::new().env(Env::from_vars([("AZURE_FEDERATED_TOKEN_FILE", file)])),
            ),
            Source::Azure => (
                Some(format!(
                    "ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}"
                )),
                ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint()),
            ),
            Source::Gcp => (
                Some(format!("ENVIRONMENT:gcp,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}")),
                ProviderConfig::new()
                    .env(Env::from_vars([("GCE_METADATA_HOST", kit.gcp().host())])),
            ),
        };
        let mut builder = OidcOptions::builder().provider_config(config);
        if source == Source::Callback {
            let (calls, path) = (calls.clone(), token_file.clone());
            builder = builder.callback(move |_ctx: CallbackContext| {
                calls.fetch_add(1, Ordering::SeqCst);
                let path = path.clone();
                async move {
                    let token = tokio::fs::read_to_string(&path)
                        .await
                        .map_err(mongodb_oidc::Error::callback)?;
                    Ok(TokenResponse::new(token.trim()))
                }
            });
        }
        let user = username.map(|u| format!("{u}@")).unwrap_or_default();
        let mut uri = format!(
            "mongodb://{user}{}/?authMechanism=MONGODB-OIDC&appName={app}&retryReads=false&retryWrites=false&serverSelectionTimeoutMS=5000",
            target.host()
        );
        if let Some(p) = properties {
            uri.push_str("&authMechanismProperties=");
            uri.push_str(&p);
        }
        Self {
            target,
            source,
            options: builder.build(),
            uri,
            app: app.to_owned(),
            token_file,
            callback_calls: calls,
            _dir: dir,
        }
    }

    pub fn kit(&self) -> &TestKit {
        &self.target.kit
    }

    pub async fn client(&self) -> Client {
        self.options.client(&self.uri).await.expect("client")
    }

    /// Times the token source was asked for a token (through this crate).
    pub fn fetches(&self) -> u64 {
        self.options.stats().fetches
    }

    /// Makes every token minted so far invalid: the clock moves past their expiry. File-based
    /// sources then get a fresh file, as a rotating kubelet would provide.
    pub fn expire_tokens(&self) {
        self.kit().clock().advance(Duration::from_secs(2 * 3600));
        TestKit::write_token_file(&self.token_file, &self.kit().token()).unwrap();
    }

    /// Sets a fail point scoped to this setup's application name.
    pub async fn fail(&self, fail_point: FailPoint) {
        self.target.fail(fail_point.for_app(self.app.clone())).await;
    }

    /// Drops the client's pooled connection without any authentication event, so that the
    /// next operation opens a new connection.
    pub async fn drop_pooled_connection(&self, client: &Client) {
        self.fail(FailPoint::error(&["ping"], 0, 1).close()).await;
        let _ = client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await;
    }
}

pub async fn find(client: &Client) -> mongodb::error::Result<Option<Document>> {
    client
        .database("test")
        .collection::<Document>("test")
        .find_one(doc! {})
        .await
}

pub async fn insert(client: &Client) -> mongodb::error::Result<()> {
    client
        .database("test")
        .collection::<Document>("test")
        .insert_one(doc! { "x": 1 })
        .await
        .map(|_| ())
}
