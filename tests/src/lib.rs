//! # mongodb-oidc-testkit
//!
//! Everything a MONGODB-OIDC client needs to be tested end to end on one machine, with no cloud
//! and no MongoDB Enterprise:
//!
//! - an identity provider that signs RS256 JWTs and serves its discovery document and JWKS;
//! - a MongoDB wire-protocol server (real TCP) configured like `oidcIdentityProviders`, which
//!   validates those JWTs as MongoDB does, supports speculative, one-step and two-step
//!   authentication, expires sessions with error 391, and implements `failCommand`;
//! - Azure IMDS, Azure App Service and Google Cloud metadata emulators issuing the same JWTs,
//!   with injectable latency and failures.
//!
//! Every part shares one [`clock::Clock`] that tests advance instead of sleeping.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let kit = mongodb_oidc_testkit::TestKit::start().await?;
//! let token = kit.token();                     // valid for the default provider
//! assert!(kit.uri().starts_with("mongodb://127.0.0.1:"));
//! assert_eq!(token.split('.').count(), 3);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod clock;
mod crypto;
#[cfg(feature = "docker")]
pub mod docker;
pub mod emulators;
pub mod http;
pub mod idp;
pub mod server;

use std::path::{Path, PathBuf};

use clock::Clock;
use emulators::{AppRegistration, AppService, AzureImds, Entra, GcpMetadata};
use idp::Issuer;
use server::{IdentityProviderConfig, MongoServer, ServerConfig};

/// The default provider's audience; use it as `TOKEN_RESOURCE`.
pub const DEFAULT_AUDIENCE: &str = "api://mongodb-oidc-testkit";
/// The subject of [`TestKit::token`].
pub const DEFAULT_SUBJECT: &str = "test-user";
/// The Entra emulator's tenant (`AZURE_TENANT_ID`).
pub const ENTRA_TENANT: &str = "72f988bf-0000-4000-8000-00000000beef";
/// The workload's app registration in the Entra emulator (`AZURE_CLIENT_ID`).
pub const WORKLOAD_CLIENT_ID: &str = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
/// The service account the workload's app trusts (`system:serviceaccount:<ns>:<name>`).
pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:default:workload";

/// The App Service emulator's `IDENTITY_HEADER` secret.
pub const APP_SERVICE_SECRET: &str = "testkit-identity-header-secret";

type ProviderFactory = Box<dyn FnOnce(&str) -> IdentityProviderConfig + Send>;

/// Configures a [`TestKit`].
pub struct TestKitBuilder {
    issuers: usize,
    providers: Vec<(usize, ProviderFactory)>,
    server: ServerConfig,
}

impl std::fmt::Debug for TestKitBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKitBuilder")
            .field("issuers", &self.issuers)
            .field("providers", &self.providers.len())
            .finish_non_exhaustive()
    }
}

impl TestKitBuilder {
    /// How many independent issuers (each with its own URL) to start; at least one.
    pub fn issuers(mut self, count: usize) -> Self {
        self.issuers = count.max(1);
        self
    }

    /// Adds an identity provider for issuer `issuer`; `make` receives the issuer URL. Without
    /// any, the kit configures one machine provider for issuer 0 and [`DEFAULT_AUDIENCE`].
    pub fn provider(
        mut self,
        issuer: usize,
        make: impl FnOnce(&str) -> IdentityProviderConfig + Send + 'static,
    ) -> Self {
        self.providers.push((issuer, Box::new(make)));
        self
    }

    /// `maxWireVersion` (21: MongoDB 7.0, 25: 8.0).
    pub fn max_wire_version(mut self, version: i32) -> Self {
        self.server.max_wire_version = version;
        self
    }

    /// Whether MONGODB-OIDC is enabled on the server (otherwise `saslStart` gets 334).
    pub fn oidc_enabled(mut self, enabled: bool) -> Self {
        self.server.oidc_enabled = enabled;
        self
    }

    /// The server's port (default: a free one).
    pub fn server_port(mut self, port: u16) -> Self {
        self.server.port = port;
        self
    }

    /// Starts everything on loopback.
    pub async fn start(mut self) -> std::io::Result<TestKit> {
        let clock = Clock::new();
        let mut issuers = Vec::with_capacity(self.issuers);
        for _ in 0..self.issuers {
            issuers.push(Issuer::start(clock.clone()).await?);
        }
        if self.providers.is_empty() {
            self = self.provider(0, |iss| {
                IdentityProviderConfig::machine(iss, DEFAULT_AUDIENCE)
            });
        }
        for (index, make) in self.providers {
            let issuer = issuers.get(index).ok_or_else(|| {
                std::io::Error::other(format!(
                    "provider refers to issuer {index}, but only {} exist",
                    issuers.len()
                ))
            })?;
            self.server.providers.push(make(&issuer.url()));
        }
        let minter = issuers[0].minter().clone();
        Ok(TestKit {
            server: MongoServer::start(self.server, clock.clone()).await?,
            azure: AzureImds::start(minter.clone()).await?,
            app_service: AppService::start(minter.clone(), APP_SERVICE_SECRET).await?,
            gcp: GcpMetadata::start(minter.clone()).await?,
            entra: start_entra(minter, &issuers[0].url()).await?,
            issuers,
            clock,
        })
    }
}

/// A running test kit; everything stops when it is dropped.
#[derive(Debug)]
pub struct TestKit {
    clock: Clock,
    issuers: Vec<Issuer>,
    server: MongoServer,
    azure: AzureImds,
    app_service: AppService,
    gcp: GcpMetadata,
    entra: Entra,
}

/// Entra with one app whose federated credential trusts issuer 0 as the cluster's issuer.
async fn start_entra(minter: idp::Minter, cluster_issuer: &str) -> std::io::Result<Entra> {
    let entra = Entra::start(minter, ENTRA_TENANT).await?;
    entra.register(AppRegistration {
        client_id: WORKLOAD_CLIENT_ID.into(),
        object_id: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9".into(),
        issuer: cluster_issuer.into(),
        subject: WORKLOAD_SUBJECT.into(),
        groups: vec!["app-readers".into()],
    });
    Ok(entra)
}

impl TestKit {
    /// Starts the default kit: one issuer, one machine provider, every emulator.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// Configures a kit.
    pub fn builder() -> TestKitBuilder {
        TestKitBuilder {
            issuers: 1,
            providers: Vec::new(),
            server: ServerConfig::default(),
        }
    }

    /// `mongodb://127.0.0.1:<port>/` (no authentication options).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The wire-protocol server.
    pub fn server(&self) -> &MongoServer {
        &self.server
    }

    /// The shared clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Issuer `index` (0 is the default one).
    pub fn issuer(&self, index: usize) -> &Issuer {
        &self.issuers[index]
    }

    /// The Azure IMDS emulator.
    pub fn azure(&self) -> &AzureImds {
        &self.azure
    }

    /// The Azure App Service / Functions emulator.
    pub fn app_service(&self) -> &AppService {
        &self.app_service
    }

    /// The Google Cloud metadata emulator.
    pub fn gcp(&self) -> &GcpMetadata {
        &self.gcp
    }

    /// The Microsoft Entra ID token endpoint emulator.
    pub fn entra(&self) -> &Entra {
        &self.entra
    }

    /// A projected service-account token for the workload, as kubelet writes it for AKS
    /// workload identity (audience `api://AzureADTokenExchange`).
    pub fn service_account_token(&self) -> String {
        self.issuers[0]
            .token()
            .subject(WORKLOAD_SUBJECT)
            .audience(emulators::TOKEN_EXCHANGE_AUDIENCE)
            .sign()
    }

    /// The first provider's audience.
    pub fn audience(&self) -> &str {
        &self.server.providers()[0].audience
    }

    /// A valid token for the first provider: subject [`DEFAULT_SUBJECT`], one hour.
    pub fn token(&self) -> String {
        self.token_for(DEFAULT_SUBJECT)
    }

    /// A valid token for the first provider with this subject.
    pub fn token_for(&self, subject: &str) -> String {
        self.issuers[0]
            .token()
            .subject(subject)
            .audience(self.audience())
            .claim("groups", serde_json::json!(["app-readers"]))
            .sign()
    }

    /// Writes `token` to `path` followed by a newline, as kubelet and CI scripts do.
    pub fn write_token_file(path: &Path, token: &str) -> std::io::Result<PathBuf> {
        std::fs::write(path, format!("{token}\n"))?;
        Ok(path.to_path_buf())
    }
}
