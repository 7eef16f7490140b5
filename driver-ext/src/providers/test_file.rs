//! `ENVIRONMENT:test`: the token in the file named by `OIDC_TOKEN_FILE`.

use std::path::PathBuf;

use async_trait::async_trait;

use super::file::read_token;
use crate::error::ErrorKind;
use crate::{CallbackContext, Error, OidcCallback, ProviderConfig, TokenResponse};

/// Reads the token from the file named by `OIDC_TOKEN_FILE`, on every fetch.
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
