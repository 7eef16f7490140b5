//! The entry points: `Client::with_oidc_uri_str` and the `OidcOptions` builder, which turn a
//! connection string (plus settings made in code) into driver options with a token provider.

use std::future::Future;
use std::sync::Arc;

use mongodb::Client;
use mongodb::bson::doc;
use mongodb::options::{AuthMechanism, ClientOptions, Credential};
use mongodb_connection_string::{
    CallbackKind, ConnectionString, OidcConfig, OidcSettings, OptionValue,
};

use crate::cache::{ClientCache, TokenCache};
use crate::driver::{self, Bridge, Limits};
use crate::retry::Retrying;
use crate::stats::{Counted, FetchStats, StatsCell};
use crate::{Error, OidcCallback, OidcHumanCallback, ProviderConfig, RetryPolicy, providers};

/// MONGODB-OIDC settings made in code, applied to any number of connection strings.
///
/// Each setting may come from the connection string or from here, not both; the same rules
/// apply to both places (see the `mongodb-connection-string` crate).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use mongodb_oidc_testkit::{TestKit, server::IdentityProviderConfig};
/// # let kit = TestKit::builder()
/// #     .provider(0, |iss| IdentityProviderConfig::machine(iss, "api://orders,inventory"))
/// #     .start().await?;
/// # let metadata_emulator = kit.gcp().host();
/// # let uri = kit.uri();
/// use mongodb_oidc::{OidcOptions, ProviderConfig};
///
/// // A TOKEN_RESOURCE with a comma cannot be written in a connection string; in code it can.
/// let options = OidcOptions::builder()
///     .environment("gcp")
///     .token_resource("api://orders,inventory")
///     .provider_config(ProviderConfig::new().gcp_metadata_host(metadata_emulator)) // not on GCE
///     .build();
/// let client = options.client(&uri).await?;
/// client.database("test").collection::<mongodb::bson::Document>("c").find_one(mongodb::bson::doc! {}).await?;
/// assert_eq!(options.stats().fetches, 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct OidcOptions {
    environment: Option<String>,
    token_resource: Option<String>,
    username: Option<String>,
    machine: Option<Arc<dyn OidcCallback>>,
    human: Option<Arc<dyn OidcHumanCallback>>,
    allowed_hosts: Option<Vec<String>>,
    config: ProviderConfig,
    retry: RetryPolicy,
    private_cache: bool,
    stats: Arc<StatsCell>,
}

impl std::fmt::Debug for OidcOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcOptions")
            .field("environment", &self.environment)
            .field("token_resource", &self.token_resource)
            .field("username", &self.username)
            .field("callback", &self.machine.is_some())
            .field("human_callback", &self.human.is_some())
            .field("allowed_hosts", &self.allowed_hosts)
            .field("config", &self.config)
            .field("retry", &self.retry)
            .field("shared_cache", &!self.private_cache)
            .finish()
    }
}

/// Builds [`OidcOptions`].
#[derive(Debug, Clone, Default)]
pub struct OidcOptionsBuilder {
    options: OidcOptions,
}

impl OidcOptionsBuilder {
    /// `ENVIRONMENT`: `azure`, `gcp`, `k8s` or `test`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.options.environment = Some(environment.into());
        self
    }

    /// `TOKEN_RESOURCE`: the audience for azure and gcp. Unlike in a connection string, it may
    /// contain a comma.
    pub fn token_resource(mut self, resource: impl Into<String>) -> Self {
        self.options.token_resource = Some(resource.into());
        self
    }

    /// The user name (azure: the managed identity's client id; human flow: the principal).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.options.username = Some(username.into());
        self
    }

    /// `OIDC_CALLBACK`: a machine callback (a closure works).
    pub fn callback(mut self, callback: impl OidcCallback + 'static) -> Self {
        self.options.machine = Some(Arc::new(callback));
        self
    }

    /// `OIDC_HUMAN_CALLBACK`: a human-flow callback.
    pub fn human_callback(mut self, callback: impl OidcHumanCallback + 'static) -> Self {
        self.options.human = Some(Arc::new(callback));
        self
    }

    /// `ALLOWED_HOSTS` for the human flow (the driver checks it before calling the callback).
    pub fn allowed_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.options.allowed_hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Environment variables and endpoints for the built-in providers.
    pub fn provider_config(mut self, config: ProviderConfig) -> Self {
        self.options.config = config;
        self
    }

    /// How token fetches are retried (default: [`RetryPolicy::default`]; `RetryPolicy::none()`
    /// turns retries off). Applies to built-in environments and to `OIDC_CALLBACK` callbacks,
    /// whose errors opt in with [`Error::transient`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Whether clients share tokens through the process-wide cache (default: true). With
    /// `false`, every request from the driver calls the token source, as the driver alone does.
    pub fn shared_cache(mut self, enabled: bool) -> Self {
        self.options.private_cache = !enabled;
        self
    }

    /// Finishes the options.
    pub fn build(self) -> OidcOptions {
        self.options
    }
}

/// What [`OidcOptions::check`] found, without touching the network.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Checked {
    /// The parsed connection string.
    pub connection_string: ConnectionString,
    /// The MONGODB-OIDC configuration, when the mechanism is MONGODB-OIDC.
    pub oidc: Option<OidcConfig>,
    /// Every warning, as text.
    pub warnings: Vec<String>,
}

impl OidcOptions {
    /// Starts a builder.
    pub fn builder() -> OidcOptionsBuilder {
        OidcOptionsBuilder::default()
    }

    /// Token fetches made for clients built from these options.
    pub fn stats(&self) -> FetchStats {
        self.stats.snapshot()
    }

    fn sets_anything(&self) -> bool {
        self.environment.is_some()
            || self.token_resource.is_some()
            || self.username.is_some()
            || self.machine.is_some()
            || self.human.is_some()
            || self.allowed_hosts.is_some()
    }

    /// Parses and validates `uri` with these settings, without any network access.
    ///
    /// ```
    /// let checked = mongodb_oidc::OidcOptions::default().check(
    ///     "mongodb://app-client-id@db.example.com/?authMechanism=MONGODB-OIDC\
    ///      &authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:api://my-app",
    /// )?;
    /// let environment = checked.oidc.unwrap().environment.unwrap();
    /// assert_eq!(environment.token_resource(), Some("api://my-app"));
    ///
    /// let err = mongodb_oidc::OidcOptions::default()
    ///     .check("mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:Azure")
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("did you mean 'azure'?"));
    /// # Ok::<(), mongodb_oidc::Error>(())
    /// ```
    pub fn check(&self, uri: &str) -> Result<Checked, Error> {
        let cs = ConnectionString::parse(uri)?;
        let mut warnings: Vec<String> = cs.warnings().iter().map(ToString::to_string).collect();
        let mechanism = match cs.option("authMechanism") {
            Some(OptionValue::Str(m)) => Some(m.clone()),
            _ => None,
        };
        let oidc = match mechanism.as_deref() {
            Some("MONGODB-OIDC") => true,
            None => self.sets_anything(),
            Some(other) if self.sets_anything() => {
                return Err(Error::options(format!(
                    "MONGODB-OIDC settings are made in code, but the connection string asks for authMechanism={other}; remove authMechanism or set it to MONGODB-OIDC"
                )));
            }
            Some(_) => false,
        };
        if !oidc {
            // Not ours: the auth spec's rules still catch OIDC properties without the mechanism.
            cs.credential()?;
            return Ok(Checked {
                connection_string: cs,
                oidc: None,
                warnings,
            });
        }
        let config = self.settings(&cs).validate()?;
        warnings.extend(config.warnings.iter().map(ToString::to_string));
        Ok(Checked {
            connection_string: cs,
            oidc: Some(config),
            warnings,
        })
    }

    fn settings(&self, cs: &ConnectionString) -> OidcSettings {
        let mut settings = OidcSettings::from_connection_string(cs);
        if let Some(environment) = &self.environment {
            settings = settings.property("ENVIRONMENT", environment);
        }
        if let Some(resource) = &self.token_resource {
            settings = settings.property("TOKEN_RESOURCE", resource);
        }
        if let Some(username) = &self.username {
            settings = settings.username(username);
        }
        if self.machine.is_some() {
            settings = settings.callback(CallbackKind::Machine);
        }
        if self.human.is_some() {
            settings = settings.callback(CallbackKind::Human);
        }
        if let Some(hosts) = &self.allowed_hosts {
            settings = settings.allowed_hosts(hosts.clone());
        }
        settings
    }

    /// Driver options for `uri`: for MONGODB-OIDC, with this crate's token provider in the
    /// credential; for anything else, exactly what the driver makes of `uri`.
    pub async fn client_options(&self, uri: &str) -> Result<ClientOptions, Error> {
        let checked = self.check(uri)?;
        for warning in &checked.warnings {
            tracing::warn!(%warning, "connection string");
        }
        let Some(config) = checked.oidc else {
            return Ok(ClientOptions::parse(uri).await?);
        };
        let cs = &checked.connection_string;
        let mut options = ClientOptions::parse(cs.without_oidc_properties().secret()).await?;
        options.credential = Some(self.credential(cs, config)?);
        Ok(options)
    }

    /// A client for `uri` (see [`OidcOptions::client_options`]).
    pub async fn client(&self, uri: &str) -> Result<Client, Error> {
        Ok(Client::with_options(self.client_options(uri).await?)?)
    }

    fn credential(&self, cs: &ConnectionString, config: OidcConfig) -> Result<Credential, Error> {
        let bridge = |name| Bridge {
            name,
            limits: Limits::from_connection_string(cs),
            username: config.username.clone(),
            stats: self.stats.clone(),
        };
        let callback = match (&config.environment, &self.machine, &self.human) {
            (Some(environment), _, _) => {
                let provider = providers::for_environment(environment, &self.config)?;
                let name = environment.name();
                driver::machine(self.token_source(provider, name, &config), bridge(name))
            }
            (None, Some(machine), _) => driver::machine(
                self.token_source(machine.clone(), "callback", &config),
                bridge("callback"),
            ),
            (None, None, Some(human)) => driver::human(human.clone(), bridge("human callback")),
            (None, None, None) => unreachable!("validated: an environment or a callback is set"),
        };
        let mut credential = Credential::builder()
            .mechanism(AuthMechanism::MongoDbOidc)
            .oidc_callback(callback)
            .build();
        credential.username = config.username.clone();
        if let Some(hosts) = &config.allowed_hosts {
            credential.mechanism_properties = Some(doc! { "ALLOWED_HOSTS": hosts.clone() });
        }
        Ok(credential)
    }
}

impl OidcOptions {
    /// A machine token source with its layers: counted, retried, and shared through the
    /// process-wide cache unless that is turned off.
    fn token_source(
        &self,
        source: Arc<dyn OidcCallback>,
        name: &'static str,
        config: &OidcConfig,
    ) -> Arc<dyn OidcCallback> {
        let username = config.username.clone();
        let identity = source
            .cache_key()
            .unwrap_or_else(|| format!("callback@{:p}", Arc::as_ptr(&source)));
        let key = format!("{identity}|user={username:?}");
        let layered = Retrying::wrap(Counted::wrap(source, self.stats.clone()), self.retry);
        if self.private_cache {
            return layered;
        }
        Arc::new(ClientCache::new(TokenCache::shared(
            key,
            name,
            username,
            move || layered,
        )))
    }
}

/// `Client::with_oidc_uri_str`: like `Client::with_uri_str`, with MONGODB-OIDC handled by this
/// crate and every other connection string passed to the driver unchanged. Built-in
/// environments read the process environment.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let token_file = std::env::temp_dir().join(format!("ext-doc-{}", std::process::id()));
/// # // Before any thread exists: what kubelet and the workload identity webhook provide in a pod.
/// # unsafe { std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", &token_file) };
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// # let kit = mongodb_oidc_testkit::TestKit::start().await?;
/// # mongodb_oidc_testkit::TestKit::write_token_file(&token_file, &kit.token())?;
/// # let host = kit.server().addr();
/// use mongodb::bson::{Document, doc};
/// use mongodb_oidc::ClientExt;
///
/// let client = mongodb::Client::with_oidc_uri_str(format!(
///     "mongodb://{host}/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s"
/// ))
/// .await?;
/// client.database("shop").collection::<Document>("orders").insert_one(doc! { "item": 1 }).await?;
/// # std::fs::remove_file(&token_file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
pub trait ClientExt: Sized {
    /// Creates a client from any connection string.
    fn with_oidc_uri_str(
        uri: impl AsRef<str> + Send,
    ) -> impl Future<Output = Result<Self, Error>> + Send;
}

impl ClientExt for Client {
    async fn with_oidc_uri_str(uri: impl AsRef<str> + Send) -> Result<Self, Error> {
        OidcOptions::default().client(uri.as_ref()).await
    }
}
