//! `ENVIRONMENT:test`: the token in the file named by `OIDC_TOKEN_FILE`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::file::read_token;
use crate::error::ErrorKind;
use crate::{CallbackContext, Error, OidcCallback, ProviderConfig, TokenResponse};

/// Reads the token from the file named by `OIDC_TOKEN_FILE`, on every fetch.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
/// # let path = std::env::temp_dir().join(format!("test-doc-{}", std::process::id()));
/// # std::fs::write(&path, kit.token())?;
/// use mongodb_oidc::{Env, OidcOptions, ProviderConfig};
///
/// let env = Env::from_vars([("OIDC_TOKEN_FILE", path.display().to_string())]);
/// let options = OidcOptions::builder().provider_config(ProviderConfig::new().env(env)).build();
/// let uri = format!("{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test", kit.uri());
/// let client = options.client(&uri).await?;
/// client.database("admin").run_command(mongodb::bson::doc! { "connectionStatus": 1 }).await?;
/// # std::fs::remove_file(path)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TestFileProvider {
    path: PathBuf,
}

impl TestFileProvider {
    /// Reads this file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Reads the file named by `OIDC_TOKEN_FILE` in the configured environment.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, Error> {
        match config.env.get("OIDC_TOKEN_FILE") {
            Some(path) => Ok(Self::new(path)),
            None => Err(Error::new(ErrorKind::MissingVariable {
                variable: "OIDC_TOKEN_FILE",
                purpose: "ENVIRONMENT:test reads the token from the file it names; set it to the token file's path",
            })),
        }
    }
}

#[async_trait]
impl OidcCallback for TestFileProvider {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        read_token(&self.path, "OIDC_TOKEN_FILE", context.deadline()).await
    }

    fn cache_key(&self) -> Option<String> {
        Some(format!("test|{}", self.path.display()))
    }
}
