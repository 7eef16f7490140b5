//! Cloud identity endpoints, each on its own loopback port, issuing the kit's JWTs: Azure IMDS,
//! Azure App Service / Functions, Microsoft Entra ID's token endpoint (workload identity
//! federation), and the Google Cloud metadata server. Each one can be slowed
//! down, made to fail, hang or send malformed or oversized bodies, and counts its requests
//! (see [`crate::http::HttpServer`]).

mod app_service;
mod azure_imds;
mod entra;
mod gcp;

use std::sync::Mutex;
use std::time::Duration;

pub use app_service::AppService;
pub use azure_imds::AzureImds;
pub use entra::{AppRegistration, Entra, TOKEN_EXCHANGE_AUDIENCE};
pub use gcp::{GcpMetadata, ServiceAccount};

use crate::idp::{DEFAULT_TOKEN_LIFETIME, Minter};

/// An Azure managed identity the emulators can issue tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentity {
    /// The application (client) id: what `client_id` selects, and the connection string's user.
    pub client_id: String,
    /// The service principal's object id: the token's `sub` and `oid`.
    pub object_id: String,
    /// The ARM resource id: what `msi_res_id` / `mi_res_id` selects.
    pub resource_id: String,
    /// Group claims (`groups`), which the server maps to roles.
    pub groups: Vec<String>,
}

impl ManagedIdentity {
    /// The VM's system-assigned identity in the default kit.
    pub fn system_assigned() -> Self {
        Self {
            client_id: "5c1b7a2e-0f1d-4c55-9a3e-7b2f1e0a9d01".into(),
            object_id: "7f0e6a55-3b2c-4e8a-9d1f-2a6b8c4e0f11".into(),
            resource_id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/testkit/providers/Microsoft.Compute/virtualMachines/vm1".into(),
            groups: vec!["app-readers".into()],
        }
    }

    /// A user-assigned identity in the default kit.
    pub fn user_assigned() -> Self {
        Self {
            client_id: "c6a3f8d2-1e4b-4a7c-8f90-3d2e1b0a9c22".into(),
            object_id: "0b9d8c7e-6f5a-4b3c-9d2e-1f0a9b8c7d33".into(),
            resource_id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/testkit/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-identity".into(),
            groups: vec!["app-writers".into()],
        }
    }
}

/// What an Azure endpoint issues tokens from.
#[derive(Debug)]
pub(crate) struct AzureState {
    pub(crate) minter: Minter,
    pub(crate) system: Mutex<Option<ManagedIdentity>>,
    pub(crate) user_assigned: Mutex<Vec<ManagedIdentity>>,
    pub(crate) lifetime: Mutex<Duration>,
}

impl AzureState {
    pub(crate) fn new(minter: Minter) -> Self {
        Self {
            minter,
            system: Mutex::new(Some(ManagedIdentity::system_assigned())),
            user_assigned: Mutex::new(vec![ManagedIdentity::user_assigned()]),
            lifetime: Mutex::new(DEFAULT_TOKEN_LIFETIME),
        }
    }

    /// Picks the identity a request asks for, as IMDS does; `Err` carries the 400 message.
    pub(crate) fn select(
        &self,
        selectors: [(&str, Option<&str>); 3],
    ) -> Result<ManagedIdentity, &'static str> {
        let given: Vec<(&str, &str)> = selectors
            .iter()
            .filter_map(|(k, v)| v.map(|v| (*k, v)))
            .collect();
        let user = self.user_assigned.lock().unwrap();
        let system = self.system.lock().unwrap();
        let all = user.iter().chain(system.iter());
        match given.as_slice() {
            [] => system.clone().or_else(|| (user.len() == 1).then(|| user[0].clone())).ok_or(
                "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
            ),
            [(kind, value)] => all
                .into_iter()
                .find(|id| match *kind {
                    "client_id" => id.client_id == *value,
                    "object_id" => id.object_id == *value,
                    _ => id.resource_id.eq_ignore_ascii_case(value),
                })
                .cloned()
                .ok_or("Identity not found"),
            _ => Err("Only one of client_id, object_id or msi_res_id may be given"),
        }
    }

    /// Signs a token for `identity` and `resource`; returns it with its lifetime in seconds.
    pub(crate) fn issue(&self, identity: &ManagedIdentity, resource: &str) -> (String, u64) {
        let lifetime = *self.lifetime.lock().unwrap();
        let token = self
            .minter
            .token()
            .subject(&identity.object_id)
            .audience(resource)
            .expires_in(lifetime)
            .claim("oid", serde_json::json!(identity.object_id))
            .claim("appid", serde_json::json!(identity.client_id))
            .claim("xms_mirid", serde_json::json!(identity.resource_id))
            .claim("groups", serde_json::json!(identity.groups))
            .sign();
        (token, lifetime.as_secs())
    }
}
