//! Quickstart: MONGODB-OIDC end to end on your machine, with no cloud and no MongoDB Enterprise.
//!
//! Starts the test kit in this process (an OIDC-enabled MongoDB wire-protocol server, its
//! identity provider and an Azure IMDS emulator), then connects through `mongodb-oidc` with
//! `ENVIRONMENT:azure` exactly as a service on an Azure VM would, and inserts and reads a
//! document. Each step prints what happened and how long it took.
//!
//! ```sh
//! cargo run -p mongodb-oidc --example quickstart
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mongodb::bson::{Document, doc};
use mongodb_oidc::providers::AzureProvider;
use mongodb_oidc::{CallbackContext, JwtParts, OidcCallback, OidcOptions, ProviderConfig};
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};

fn step(started: Instant, what: &str) {
    println!(
        "[{:>7.1} ms] {what}",
        started.elapsed().as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let kit = TestKit::start().await?;
    step(
        t,
        &format!(
            "test kit started: MongoDB at {}, Azure IMDS at {}",
            kit.uri(),
            kit.azure().endpoint()
        ),
    );

    // What a service on Azure writes: the managed identity's token for the cluster's audience.
    let uri = format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}&appName=quickstart",
        kit.uri()
    );
    // On a real VM this line is not needed: IMDS lives at 169.254.169.254.
    let config = ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint());

    // 1. The token, fetched once by hand to show what the server will see (never the token itself).
    let t = Instant::now();
    let provider = AzureProvider::builder(DEFAULT_AUDIENCE)
        .config(config.clone())
        .build();
    let token = provider
        .fetch(&CallbackContext::new(
            tokio::time::Instant::now() + Duration::from_secs(10),
        ))
        .await?;
    let claims = JwtParts::decode(token.access_token().secret())
        .map(|p| p.claims)
        .unwrap_or_default();
    let exp = claims
        .get("exp")
        .and_then(|e| e.as_i64())
        .unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    step(t, "token fetched from Azure IMDS:");
    for name in ["iss", "sub", "aud", "groups"] {
        println!(
            "              {name}: {}",
            claims.get(name).map(|v| v.to_string()).unwrap_or_default()
        );
    }
    println!("              exp: {exp} (expires in {} s)", exp - now);

    // 2. Connect: the driver fetches a token through mongodb-oidc and authenticates.
    let t = Instant::now();
    let options = OidcOptions::builder().provider_config(config).build();
    let client = options.client(&uri).await?;
    let admin = client.database("admin");
    admin.run_command(doc! { "ping": 1 }).await?;
    let stats = kit.server().stats();
    step(
        t,
        &format!(
            "handshake and MONGODB-OIDC authentication done ({} token fetch, {} saslStart, token fetch took {} ms)",
            options.stats().fetches,
            stats.sasl_start_jwt,
            options.stats().total_duration.as_millis()
        ),
    );

    // 3. Who the server says we are.
    let t = Instant::now();
    let status = admin.run_command(doc! { "connectionStatus": 1 }).await?;
    let info = status.get_document("authInfo")?;
    let user = info.get_array("authenticatedUsers")?[0]
        .as_document()
        .map(|d| d.get_str("user").unwrap_or("?").to_owned());
    let roles: Vec<String> = info
        .get_array("authenticatedUserRoles")?
        .iter()
        .filter_map(|r| {
            r.as_document()
                .and_then(|d| d.get_str("role").ok())
                .map(str::to_owned)
        })
        .collect();
    step(
        t,
        &format!(
            "authenticated as {} with roles {roles:?}",
            user.unwrap_or_default()
        ),
    );

    // 4. Real work.
    let t = Instant::now();
    let orders = client.database("shop").collection::<Document>("orders");
    orders
        .insert_one(doc! { "item": "coffee", "qty": 2 })
        .await?;
    let found = orders
        .find_one(doc! { "item": "coffee" })
        .await?
        .ok_or("the document was not found")?;
    step(t, &format!("inserted and found: {found}"));
    println!(
        "done: the service authenticated with its Azure managed identity, no password anywhere."
    );
    Ok(())
}
