//! Built-in token providers, one per `ENVIRONMENT`. Each is an [`OidcCallback`] with a builder,
//! so it can also be used directly or wrapped by user code.

mod azure;
mod azure_workload;
mod file;
mod gcp;
mod k8s;
mod test_file;

use std::sync::Arc;

pub use azure::{AzureIdentity, AzureProvider, AzureProviderBuilder, IMDS_TOKEN_URL};
pub use azure_workload::{
    AzureWorkloadIdentity, AzureWorkloadIdentityBuilder, DEFAULT_AUTHORITY_HOST,
};
pub use gcp::{DEFAULT_METADATA_HOST, GcpProvider, GcpProviderBuilder};
pub use k8s::{DEFAULT_K8S_TOKEN_PATH, K8sProvider, K8sProviderBuilder};
pub use test_file::TestFileProvider;

use mongodb_connection_string::OidcEnvironment;

use crate::{Error, OidcCallback, ProviderConfig};

/// The provider for a validated `ENVIRONMENT` (what a connection string with that environment
/// uses), for running it directly.
pub fn for_environment(
    environment: &OidcEnvironment,
    config: &ProviderConfig,
) -> Result<Arc<dyn OidcCallback>, Error> {
    Ok(match environment {
        OidcEnvironment::Azure {
            token_resource,
            client_id,
        } => {
            let identity = match (client_id, &config.azure_identity) {
                (Some(_), Some(_)) => {
                    return Err(Error::options(
                        "the managed identity is chosen twice: by the user name (its client id) and by ProviderConfig::azure_identity; keep one",
                    ));
                }
                (Some(id), None) => AzureIdentity::ClientId(id.clone()),
                (None, Some(identity)) => identity.clone(),
                (None, None) => AzureIdentity::Default,
            };
            let builder = AzureProvider::builder(token_resource).config(config.clone());
            Arc::new(builder.identity(identity).build())
        }
        OidcEnvironment::Gcp { audience } => Arc::new(
            GcpProvider::builder(audience)
                .config(config.clone())
                .build(),
        ),
        OidcEnvironment::K8s => Arc::new(K8sProvider::builder().config(config.clone()).build()),
        OidcEnvironment::Test => Arc::new(TestFileProvider::from_config(config)?),
        other => {
            return Err(Error::options(format!(
                "ENVIRONMENT:{} is not supported by this version",
                other.name()
            )));
        }
    })
}
