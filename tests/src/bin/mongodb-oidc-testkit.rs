//! `mongodb-oidc-testkit serve`: runs the server, the identity provider and the emulators until
//! interrupted, after printing one JSON object that says how to reach each of them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mongodb_oidc_testkit::emulators::ManagedIdentity;
use mongodb_oidc_testkit::{APP_SERVICE_SECRET, DEFAULT_AUDIENCE, TestKit};
use serde_json::json;

const USAGE: &str =
    "usage: mongodb-oidc-testkit serve [--port PORT] [--token-dir DIR] [--token-lifetime SECONDS]

Starts an OIDC-enabled MongoDB wire-protocol server, its identity provider and the Azure IMDS,
App Service and GCP metadata emulators on 127.0.0.1, prints one JSON object describing them and
serves until interrupted (Ctrl-C).";

struct Args {
    port: u16,
    token_dir: Option<PathBuf>,
    lifetime: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("serve") => {}
        Some("-h" | "--help") | None => return Err(USAGE.into()),
        Some(other) => return Err(format!("unknown command '{other}'\n\n{USAGE}")),
    }
    let mut parsed = Args {
        port: 0,
        token_dir: None,
        lifetime: Duration::from_secs(3600),
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        match flag.as_str() {
            "--port" => {
                parsed.port = value
                    .parse()
                    .map_err(|_| format!("--port: '{value}' is not a port number"))?
            }
            "--token-dir" => parsed.token_dir = Some(PathBuf::from(value)),
            "--token-lifetime" => {
                let secs: u64 = value.parse().map_err(|_| {
                    format!("--token-lifetime: '{value}' is not a number of seconds")
                })?;
                parsed.lifetime = Duration::from_secs(secs);
            }
            other => return Err(format!("unknown option '{other}'\n\n{USAGE}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mongodb-oidc-testkit: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    let kit = TestKit::builder().server_port(args.port).start().await?;
    kit.azure().set_token_lifetime(args.lifetime);
    kit.app_service().set_token_lifetime(args.lifetime);
    kit.gcp().set_token_lifetime(args.lifetime);
    let dir = match args.token_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("mongodb-oidc-testkit-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let issuer = kit.issuer(0);
    let signed = |b: mongodb_oidc_testkit::idp::TokenBuilder| {
        b.claim("groups", json!(["app-readers"])).sign()
    };
    let base = || {
        issuer
            .token()
            .subject("test-user")
            .audience(DEFAULT_AUDIENCE)
            .expires_in(args.lifetime)
    };
    let valid = TestKit::write_token_file(&dir.join("valid.jwt"), &signed(base()))?;
    let expired = TestKit::write_token_file(&dir.join("expired.jwt"), &signed(base().expired()))?;
    let wrong = TestKit::write_token_file(
        &dir.join("wrong-audience.jwt"),
        &signed(base().audience("api://not-this-cluster")),
    )?;
    let description = json!({
        "uri": kit.uri(),
        "issuer": issuer.url(),
        "audience": DEFAULT_AUDIENCE,
        "oidcIdentityProviders": kit.server().providers().iter().map(|p| p.to_server_json()).collect::<Vec<_>>(),
        "azure_imds": {
            "endpoint": kit.azure().endpoint(),
            "system_assigned_client_id": ManagedIdentity::system_assigned().client_id,
            "user_assigned_client_id": ManagedIdentity::user_assigned().client_id,
        },
        "app_service": {
            "IDENTITY_ENDPOINT": kit.app_service().identity_endpoint(),
            "IDENTITY_HEADER": APP_SERVICE_SECRET,
        },
        "gcp_metadata": {
            "GCE_METADATA_HOST": kit.gcp().host(),
            "identity_url": kit.gcp().identity_url(),
        },
        "token_files": { "valid": valid, "expired": expired, "wrong_audience": wrong },
    });
    println!("{description}");
    tokio::signal::ctrl_c().await?;
    let stats = kit.server().stats();
    eprintln!(
        "mongodb-oidc-testkit: stopping after {} connections, {} authentications, {} failures",
        stats.connections, stats.authentications, stats.auth_failures
    );
    Ok(())
}
