//! A MongoDB that trusts the kit's identity providers: the kit's own server (every
//! `cargo test`), or MongoDB Enterprise in Docker (feature `docker`, `MONGODB_OIDC_E2E=docker`).
//! The prose suites run against either; assertions on server counters and on the kit's clock
//! apply only where the target has them.

use mongodb_oidc_testkit::server::{FailPoint, IdentityProviderConfig, StatsSnapshot};
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};

/// Which identity providers the server trusts, as the prose tests' two server set-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A machine provider (issuer 0, principals matching `test_machine` in the two-step flow)
    /// and one human provider (issuer 1, `test_user1`): `MONGODB_URI_SINGLE`.
    Single,
    /// Two human providers (issuers 1 and 2, `test_user1` and `test_user2`): `MONGODB_URI_MULTI`.
    Multi,
}

pub struct Target {
    pub kit: TestKit,
    uri: String,
    #[cfg(feature = "docker")]
    server: Option<mongodb_oidc_testkit::docker::EnterpriseServer>,
}

fn human(issuer: &str, n: u8) -> IdentityProviderConfig {
    IdentityProviderConfig::human(issuer, format!("aud-{n}"), format!("client-{n}"))
        .auth_name_prefix(format!("idp{n}"))
        .match_pattern(format!("test_user{n}"))
}

async fn layout_kit(layout: Layout) -> TestKit {
    let builder = TestKit::builder().issuers(3);
    let builder = match layout {
        Layout::Single => builder
            .provider(0, |iss| {
                IdentityProviderConfig::machine(iss, DEFAULT_AUDIENCE).match_pattern("test_machine")
            })
            .provider(1, |iss| human(iss, 1)),
        Layout::Multi => builder
            .provider(1, |iss| human(iss, 1))
            .provider(2, |iss| human(iss, 2)),
    };
    builder.start().await.unwrap()
}

impl Target {
    /// The kit's own server.
    pub async fn kit(layout: Layout) -> Self {
        let kit = layout_kit(layout).await;
        let uri = kit.uri();
        Self {
            kit,
            uri,
            #[cfg(feature = "docker")]
            server: None,
        }
    }

    /// MongoDB Enterprise in Docker, trusting a fresh kit's providers.
    #[cfg(feature = "docker")]
    pub async fn docker(layout: Layout) -> Result<Self, String> {
        let kit = layout_kit(layout).await;
        let server =
            mongodb_oidc_testkit::docker::EnterpriseServer::start(kit.server().providers()).await?;
        Ok(Self {
            uri: server.uri().to_owned(),
            kit,
            server: Some(server),
        })
    }

    /// `mongodb://host:port/`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// `host:port`.
    pub fn host(&self) -> &str {
        self.uri
            .trim_start_matches("mongodb://")
            .trim_end_matches('/')
    }

    fn is_kit(&self) -> bool {
        #[cfg(feature = "docker")]
        if self.server.is_some() {
            return false;
        }
        true
    }

    /// The server's counters, when the target is the kit.
    pub fn stats(&self) -> Option<StatsSnapshot> {
        self.is_kit().then(|| self.kit.server().stats())
    }

    pub fn reset_stats(&self) {
        self.kit.server().reset_stats();
    }

    pub fn providers(&self) -> &[IdentityProviderConfig] {
        self.kit.server().providers()
    }

    /// Sets a fail point on the target's server.
    pub async fn fail(&self, fail_point: FailPoint) {
        #[cfg(feature = "docker")]
        if let Some(server) = &self.server {
            server
                .admin()
                .database("admin")
                .run_command(fail_point.to_command())
                .await
                .expect("configureFailPoint");
            return;
        }
        self.kit.server().set_fail_point(Some(fail_point));
    }
}
