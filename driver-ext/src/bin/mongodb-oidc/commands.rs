//! The three commands. Each prints a report (text or JSON) and returns the exit code.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mongodb::bson::{Document, doc};
use mongodb_oidc::connection_string::{ConnectionString, OidcEnvironment};
use mongodb_oidc::{CallbackContext, Error, JwtParts, OidcOptions};
use serde_json::{Value, json};

use crate::Args;

/// Exit codes: 0 success; 1 an operation failed; 2 the connection string is invalid.
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_INVALID: u8 = 2;
/// connectTimeoutMS's default, which bounds the token fetch as it does inside the driver.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(args: &Args) -> u8 {
    let options = OidcOptions::builder()
        .provider_config(args.config.clone())
        .build();
    let (code, report) = match args.command.as_str() {
        "check-uri" => check_uri(&options, &args.uri).await,
        "token" => token(&options, args).await,
        _ => ping(&options, &args.uri).await,
    };
    print(&report, args.json);
    code
}

fn print(report: &Value, json: bool) {
    if json {
        println!("{report}");
        return;
    }
    let Some(fields) = report.as_object() else {
        return;
    };
    for (key, value) in fields {
        match value {
            Value::String(s) => println!("{key}: {s}"),
            Value::Array(items) if items.is_empty() => println!("{key}: none"),
            Value::Array(items) => {
                println!("{key}:");
                for item in items {
                    println!(
                        "  - {}",
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_owned)
                    );
                }
            }
            Value::Object(_) => println!(
                "{key}: {}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            ),
            other => println!("{key}: {other}"),
        }
    }
}

fn failure(key: &str, error: &Error) -> Value {
    failure_message(key, &error.to_string())
}

fn failure_message(key: &str, message: &str) -> Value {
    json!({ key: false, "error": message })
}

async fn check_uri(options: &OidcOptions, uri: &str) -> (u8, Value) {
    let checked = match options.check(uri) {
        Ok(checked) => checked,
        Err(e) => return (EXIT_INVALID, failure("valid", &e)),
    };
    let cs = &checked.connection_string;
    let mut warnings = checked.warnings.clone();
    if uri.starts_with("mongodb+srv://") {
        warnings.push("mongodb+srv:// was not resolved (no network access); the driver checks the options found in DNS when it connects".into());
    } else if let Err(e) =
        mongodb::options::ClientOptions::parse(cs.without_oidc_properties().secret()).await
    {
        // The driver has its own rules (unknown and repeated options are errors there).
        return (EXIT_INVALID, failure("valid", &Error::from(e)));
    }
    let credential = match cs.credential() {
        Ok(c) => c,
        Err(_) if checked.oidc.is_some() => None,
        Err(e) => return (EXIT_INVALID, failure("valid", &Error::from(e))),
    };
    let environment = checked.oidc.as_ref().and_then(|o| o.environment.as_ref());
    let report = json!({
        "valid": true,
        "mechanism": if checked.oidc.is_some() { Some("MONGODB-OIDC") } else { credential.as_ref().and_then(|c| c.mechanism).map(|m| m.as_str()) },
        "username": checked.oidc.as_ref().and_then(|o| o.username.clone()).or_else(|| credential.as_ref().and_then(|c| c.username.clone())),
        "source": if checked.oidc.is_some() { Some("$external".to_owned()) } else { credential.as_ref().map(|c| c.source.clone()) },
        "environment": environment.map(OidcEnvironment::name),
        "token_resource": environment.and_then(OidcEnvironment::token_resource),
        "warnings": warnings,
    });
    (EXIT_OK, report)
}

fn deadline(cs: &ConnectionString) -> tokio::time::Instant {
    let limit = match cs.connect_timeout() {
        Some(d) if d.is_zero() => Duration::from_secs(60),
        Some(d) => d,
        None => DEFAULT_CONNECT_TIMEOUT,
    };
    tokio::time::Instant::now() + limit
}

async fn token(options: &OidcOptions, args: &Args) -> (u8, Value) {
    let checked = match options.check(&args.uri) {
        Ok(checked) => checked,
        Err(e) => return (EXIT_INVALID, failure("ok", &e)),
    };
    let Some(environment) = checked.oidc.as_ref().and_then(|o| o.environment.clone()) else {
        let message = "the token command runs a built-in ENVIRONMENT (azure, gcp, k8s, test); this connection string sets none";
        return (EXIT_INVALID, failure_message("ok", message));
    };
    let started = Instant::now();
    let fetched = async {
        let provider = mongodb_oidc::providers::for_environment(&environment, &args.config)?;
        let username = checked.oidc.as_ref().and_then(|o| o.username.clone());
        let context =
            CallbackContext::new(deadline(&checked.connection_string)).with_username(username);
        provider.fetch(&context).await
    }
    .await;
    let fetch_ms = started.elapsed().as_millis() as u64;
    let token = match fetched {
        Ok(token) => token,
        Err(e) => return (EXIT_FAILED, failure("ok", &e)),
    };
    let mut report = json!({ "ok": true, "environment": environment.name(), "fetch_ms": fetch_ms });
    match JwtParts::decode(token.access_token().secret()) {
        Some(parts) => {
            report["header"] = Value::Object(parts.header.clone());
            report["claims"] = Value::Object(parts.claims.clone());
            if let Some(exp) = parts.expires_at() {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                report["expires_in_s"] = json!(exp - now);
            }
        }
        None => {
            report["note"] = json!(format!(
                "the token is not a JWT ({} bytes); it is not shown",
                token.access_token().secret().len()
            ))
        }
    }
    if let Ok(Some(lifetime)) = token.lifetime() {
        report["expires_in_s"] = json!(lifetime.as_secs());
    }
    (EXIT_OK, report)
}

async fn ping(options: &OidcOptions, uri: &str) -> (u8, Value) {
    let started = Instant::now();
    let result = async {
        let client = options.client(uri).await?;
        let admin = client.database("admin");
        admin.run_command(doc! { "ping": 1 }).await?;
        let status = admin.run_command(doc! { "connectionStatus": 1 }).await?;
        Ok::<_, Error>(status)
    }
    .await;
    let total_ms = started.elapsed().as_millis() as u64;
    let status = match result {
        Ok(status) => status,
        Err(e) => return (EXIT_FAILED, failure("ok", &e)),
    };
    let info = status.get_document("authInfo").cloned().unwrap_or_default();
    let names = |field: &str, key: &str| -> Vec<String> {
        info.get_array(field)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_document())
                    .filter_map(|d: &Document| d.get_str(key).ok().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let report = json!({
        "ok": true,
        "user": names("authenticatedUsers", "user").into_iter().next(),
        "roles": names("authenticatedUserRoles", "role"),
        "token_fetch_ms": options.stats().total_duration.as_millis() as u64,
        "total_ms": total_ms,
    });
    (EXIT_OK, report)
}
