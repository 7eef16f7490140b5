//! `mongodb-oidc`: check a connection string, fetch a token, or connect, to debug a MONGODB-OIDC
//! deployment. Output is text, or one JSON object with `--json`; the token itself is never
//! printed.

mod commands;

use std::io::Read;
use std::process::ExitCode;

use mongodb_oidc::ProviderConfig;

const USAGE: &str = "\
usage: mongodb-oidc <command> [URI] [--json] [--azure-imds-endpoint URL] [--gcp-metadata-host HOST]

commands:
  check-uri   validate the connection string without any network access (exit 0 valid, 2 invalid)
  token       run the configured ENVIRONMENT once and show the token's header and claims
  ping        connect, authenticate, run ping and connectionStatus (exit 0 ok, 1 failed)

URI is the connection string; '-' reads it from standard input, and without it MONGODB_URI is
used (both keep passwords out of the process list). The built-in environments read the usual
variables: IDENTITY_ENDPOINT/IDENTITY_HEADER, GCE_METADATA_HOST, AZURE_FEDERATED_TOKEN_FILE,
AWS_WEB_IDENTITY_TOKEN_FILE, OIDC_TOKEN_FILE.";

/// The parsed command line.
pub(crate) struct Args {
    pub(crate) command: String,
    pub(crate) uri: String,
    pub(crate) json: bool,
    pub(crate) config: ProviderConfig,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let command = match args.next() {
        Some(c) if ["check-uri", "token", "ping"].contains(&c.as_str()) => c,
        Some(c) if c == "--version" => {
            return Err(format!("mongodb-oidc {}", env!("CARGO_PKG_VERSION")));
        }
        Some(c) if c == "-h" || c == "--help" => return Err(USAGE.to_owned()),
        Some(c) => return Err(format!("unknown command '{c}'\n\n{USAGE}")),
        None => return Err(USAGE.to_owned()),
    };
    let (mut uri, mut json, mut config) = (None, false, ProviderConfig::new());
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--json" => json = true,
            "--azure-imds-endpoint" => {
                config = config.azure_imds_endpoint(value("--azure-imds-endpoint")?)
            }
            "--gcp-metadata-host" => {
                config = config.gcp_metadata_host(value("--gcp-metadata-host")?)
            }
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option '{flag}'\n\n{USAGE}"));
            }
            _ if uri.is_some() => {
                return Err(format!(
                    "only one connection string may be given\n\n{USAGE}"
                ));
            }
            _ => uri = Some(arg),
        }
    }
    let uri = match uri.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("cannot read standard input: {e}"))?;
            text.trim().to_owned()
        }
        Some(uri) => uri.to_owned(),
        None => std::env::var("MONGODB_URI").map_err(|_| format!("no connection string: pass it, pass '-' to read it from standard input, or set MONGODB_URI\n\n{USAGE}"))?,
    };
    Ok(Args {
        command,
        uri,
        json,
        config,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            let ok = message.starts_with("mongodb-oidc ") || message == USAGE;
            eprintln!("{message}");
            return if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(commands::run(&args));
    ExitCode::from(code)
}
