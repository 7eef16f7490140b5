//! MongoDB Enterprise in Docker, configured to trust this kit's identity providers, for
//! running the same tests against the real server (feature `docker`).
//!
//! The container uses host networking so that the server reaches the kit's issuers on
//! 127.0.0.1 (the server accepts `http://` issuers when test commands are enabled). The first
//! user is created through the localhost exception; it then creates one role per
//! `<authNamePrefix>/app-readers` with `readWrite` on the `test` database.

use mongodb::Client;
use mongodb::bson::doc;
use mongodb::options::{ClientOptions, Credential};
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::server::IdentityProviderConfig;

/// The image used unless `MONGODB_OIDC_E2E_IMAGE` names another (`name:tag`).
pub const DEFAULT_IMAGE: &str = "mongodb/mongodb-enterprise-server:8.0-ubuntu2204";
const ADMIN_USER: &str = "testkit-admin";
const ADMIN_PASSWORD: &str = "testkit-admin-password";

/// A running MongoDB Enterprise container; it stops when dropped.
pub struct EnterpriseServer {
    uri: String,
    admin: Client,
    _container: ContainerAsync<GenericImage>,
}

impl std::fmt::Debug for EnterpriseServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterpriseServer")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl EnterpriseServer {
    /// Starts the server with these identity providers. Errors say why (no Docker, no image).
    pub async fn start(providers: &[IdentityProviderConfig]) -> Result<Self, String> {
        let image =
            std::env::var("MONGODB_OIDC_E2E_IMAGE").unwrap_or_else(|_| DEFAULT_IMAGE.to_owned());
        let (name, tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let json: Vec<serde_json::Value> = providers
            .iter()
            .map(IdentityProviderConfig::to_server_json)
            .collect();
        let args = [
            "mongod".to_owned(),
            "--port".to_owned(),
            port.to_string(),
            "--bind_ip".to_owned(),
            "127.0.0.1".to_owned(),
            "--setParameter".to_owned(),
            "enableTestCommands=1".to_owned(),
            "--setParameter".to_owned(),
            "authenticationMechanisms=SCRAM-SHA-256,MONGODB-OIDC".to_owned(),
            "--setParameter".to_owned(),
            format!("oidcIdentityProviders={}", serde_json::Value::Array(json)),
        ];
        let container = GenericImage::new(name, tag)
            .with_wait_for(WaitFor::message_on_stdout("Waiting for connections"))
            .with_network("host")
            .with_cmd(args)
            .start()
            .await
            .map_err(|e| format!("could not start {image}: {e}"))?;
        let uri = format!("mongodb://127.0.0.1:{port}/");
        let admin = Self::create_admin(&uri)
            .await
            .map_err(|e| format!("setting up {image}: {e}"))?;
        let server = Self {
            uri,
            admin,
            _container: container,
        };
        for provider in providers {
            server
                .create_role(&format!("{}/app-readers", provider.auth_name_prefix))
                .await?;
        }
        Ok(server)
    }

    async fn create_admin(uri: &str) -> mongodb::error::Result<Client> {
        let anonymous = Client::with_uri_str(format!("{uri}?directConnection=true")).await?;
        let create = doc! { "createUser": ADMIN_USER, "pwd": ADMIN_PASSWORD, "roles": ["root"] };
        anonymous.database("admin").run_command(create).await?;
        let mut options = ClientOptions::parse(format!("{uri}?directConnection=true")).await?;
        options.credential = Some(
            Credential::builder()
                .username(ADMIN_USER.to_owned())
                .password(ADMIN_PASSWORD.to_owned())
                .build(),
        );
        Client::with_options(options)
    }

    async fn create_role(&self, role: &str) -> Result<(), String> {
        let command = doc! { "createRole": role, "privileges": [], "roles": [{ "role": "readWrite", "db": "test" }] };
        match self.admin.database("admin").run_command(command).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("already exists") => Ok(()),
            Err(e) => Err(format!("creating role {role}: {e}")),
        }
    }

    /// `mongodb://127.0.0.1:<port>/`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// A privileged (SCRAM) client, for fail points and set-up.
    pub fn admin(&self) -> &Client {
        &self.admin
    }
}
