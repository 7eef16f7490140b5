//! `ENVIRONMENT:k8s`: the projected service-account token file.

use std::path::PathBuf;

use async_trait::async_trait;

use super::file::read_token;
use crate::{CallbackContext, Error, OidcCallback, ProviderConfig, TokenResponse};

/// Where kubelet projects the default service-account token (used by GKE).
pub const DEFAULT_K8S_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Reads the Kubernetes service-account token: `AZURE_FEDERATED_TOKEN_FILE` (AKS), else
/// `AWS_WEB_IDENTITY_TOKEN_FILE` (EKS), else [`DEFAULT_K8S_TOKEN_PATH`] (GKE and others).
/// The file is read on every fetch, because kubelet rotates it, and trimmed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
/// # let dir = std::env::temp_dir().join(format!("k8s-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("token");
/// # std::fs::write(&path, format!("{}\n", kit.token()))?;
/// use std::time::Duration;
/// use mongodb_oidc::providers::K8sProvider;
/// use mongodb_oidc::{CallbackContext, Env, OidcCallback, ProviderConfig};
///
/// // In a pod, the variables come from the environment (ProviderConfig::new()).
/// let env = Env::from_vars([("AZURE_FEDERATED_TOKEN_FILE", path.display().to_string())]);
/// let provider = K8sProvider::builder().config(ProviderConfig::new().env(env)).build();
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
/// let token = provider.fetch(&CallbackContext::new(deadline)).await?;
/// assert!(!token.access_token().secret().ends_with('\n'), "trimmed");
/// # std::fs::remove_dir_all(dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct K8sProvider {
    path: PathBuf,
    chosen_by: String,
}

/// Builds a [`K8sProvider`].
#[derive(Debug, Clone, Default)]
pub struct K8sProviderBuilder {
    path: Option<PathBuf>,
    config: ProviderConfig,
}

impl K8sProvider {
    /// Starts a builder.
    pub fn builder() -> K8sProviderBuilder {
        K8sProviderBuilder::default()
    }

    /// The token file this provider reads.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl K8sProviderBuilder {
    /// Reads environment variables from this configuration.
    pub fn config(mut self, config: ProviderConfig) -> Self {
        self.config = config;
        self
    }

    /// Reads this file instead of the one the environment names.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Resolves the token file.
    pub fn build(self) -> K8sProvider {
        if let Some(path) = self.path {
            return K8sProvider {
                path,
                chosen_by: "K8sProvider::with_path".into(),
            };
        }
        for variable in ["AZURE_FEDERATED_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE"] {
            if let Some(path) = self.config.env.get(variable) {
                return K8sProvider {
                    path: path.into(),
                    chosen_by: variable.into(),
                };
            }
        }
        K8sProvider {
            path: DEFAULT_K8S_TOKEN_PATH.into(),
            chosen_by: "the default service-account token path".into(),
        }
    }
}

#[async_trait]
impl OidcCallback for K8sProvider {
    async fn fetch(&self, context: &CallbackContext) -> Result<TokenResponse, Error> {
        read_token(&self.path, &self.chosen_by, context.deadline()).await
    }

    fn cache_key(&self) -> Option<String> {
        Some(format!("k8s|{}", self.path.display()))
    }
}
