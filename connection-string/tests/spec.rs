//! Conformance with the official spec test files, read from `$MONGODB_SPEC_DIR` when it is set.
//!
//! Prints `spec <relative path>: N passed, M failed, K skipped` per file and fails if any case
//! failed. Without `MONGODB_SPEC_DIR` it says so and passes: the project's own tables cover the
//! same rules without the files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mongodb_connection_string::{ConnectionString, Credential, OptionValue};
use serde_json::Value;

/// Cases decided differently from the file, each with the reason. Nothing else is skipped.
const SKIPS: &[(&str, &str, &str)] = &[
    (
        "auth/connection-string.json",
        "should use username and password if specified (MONGODB-AWS)",
        "stale case contradicted by the same file's 'should throw an exception if username and \
         password provided (MONGODB-AWS)' and by auth.md since DRIVERS-3131: MONGODB-AWS takes no \
         credentials from the connection string",
    ),
    (
        "auth/connection-string.json",
        "should use username, password and session token if specified (MONGODB-AWS)",
        "stale case contradicted by the same file's 'should throw an exception if AWS_SESSION_TOKEN \
         provided (MONGODB-AWS)' and by auth.md since DRIVERS-3131",
    ),
];

fn main() -> ExitCode {
    let Some(dir) = std::env::var_os("MONGODB_SPEC_DIR").map(PathBuf::from) else {
        println!("spec: MONGODB_SPEC_DIR is not set; the official spec files were not run");
        return ExitCode::SUCCESS;
    };
    let mut files = vec![dir.join("auth/connection-string.json")];
    files.extend(json_files(&dir.join("connection-string")));
    let extra = dir.join("uri-options/auth-options.json");
    if extra.exists() {
        files.push(extra);
    }
    let mut any_failed = false;
    for file in files {
        let relative = file
            .strip_prefix(&dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let tally = run_file(&file, &relative);
        println!(
            "spec {relative}: {} passed, {} failed, {} skipped",
            tally.passed, tally.failed, tally.skipped
        );
        any_failed |= tally.failed > 0;
    }
    if any_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

fn run_file(file: &Path, relative: &str) -> Tally {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let doc: Value = serde_json::from_str(&text).expect("spec file is JSON");
    let auth_file = relative.starts_with("auth/");
    let mut tally = Tally::default();
    for case in doc["tests"].as_array().expect("tests array") {
        let description = case["description"].as_str().unwrap_or_default();
        if let Some((_, _, reason)) = SKIPS
            .iter()
            .find(|(f, d, _)| *f == relative && *d == description)
        {
            println!("  skipped: {description}: {reason}");
            tally.skipped += 1;
            continue;
        }
        let outcome = if auth_file {
            check_auth_case(case)
        } else {
            check_uri_case(case)
        };
        match outcome {
            Ok(()) => tally.passed += 1,
            Err(why) => {
                println!("  FAILED: {description}: {why}");
                tally.failed += 1;
            }
        }
    }
    tally
}

/// The auth spec: a case is valid when the string parses and yields a valid credential.
fn check_auth_case(case: &Value) -> Result<(), String> {
    let uri = case["uri"].as_str().unwrap_or_default();
    let result = ConnectionString::parse(uri).and_then(|cs| cs.credential());
    match (case["valid"].as_bool() == Some(true), result) {
        (true, Ok(credential)) => compare_credential(&case["credential"], credential.as_ref()),
        (true, Err(e)) => Err(format!("expected valid, got error: {e}")),
        (false, Ok(_)) => Err("expected an error, parsed fine".into()),
        (false, Err(_)) => Ok(()),
    }
}

fn compare_credential(expected: &Value, actual: Option<&Credential>) -> Result<(), String> {
    let Some(actual) = actual else {
        return match expected.is_null() {
            true => Ok(()),
            false => Err("expected a credential, got none".into()),
        };
    };
    if expected.is_null() {
        return Err(format!("expected no credential, got {actual:?}"));
    }
    same(
        "username",
        &expected["username"],
        actual.username.as_deref(),
    )?;
    same(
        "password",
        &expected["password"],
        actual.password.as_ref().map(|p| p.secret()),
    )?;
    same("source", &expected["source"], Some(&actual.source))?;
    same(
        "mechanism",
        &expected["mechanism"],
        actual.mechanism.map(|m| m.as_str()),
    )?;
    let properties: serde_json::Map<String, Value> = actual
        .mechanism_properties
        .iter()
        .map(|p| (p.key.clone(), Value::String(p.value.clone())))
        .collect();
    let expected_properties = match &expected["mechanism_properties"] {
        Value::Null => serde_json::Map::new(),
        other => other.as_object().cloned().unwrap_or_default(),
    };
    if properties != expected_properties {
        return Err(format!(
            "mechanism_properties: expected {expected_properties:?}, got {properties:?}"
        ));
    }
    Ok(())
}

fn same(field: &str, expected: &Value, actual: Option<&str>) -> Result<(), String> {
    if expected.as_str() == actual {
        Ok(())
    } else {
        Err(format!("{field}: expected {expected}, got {actual:?}"))
    }
}

/// The connection-string and URI-options specs: structure, warnings and option values.
fn check_uri_case(case: &Value) -> Result<(), String> {
    let uri = case["uri"].as_str().unwrap_or_default();
    let cs = match (
        case["valid"].as_bool() == Some(true),
        ConnectionString::parse(uri),
    ) {
        (true, Ok(cs)) => cs,
        (true, Err(e)) => return Err(format!("expected valid, got error: {e}")),
        (false, Ok(_)) => return Err("expected an error, parsed fine".into()),
        (false, Err(_)) => return Ok(()),
    };
    if let Some(warning) = case["warning"].as_bool()
        && warning == cs.warnings().is_empty()
    {
        return Err(format!(
            "warning expected: {warning}, got {:?}",
            cs.warnings()
        ));
    }
    compare_hosts(&case["hosts"], &cs)?;
    compare_auth(&case["auth"], &cs)?;
    compare_options(&case["options"], &cs)
}

fn compare_hosts(expected: &Value, cs: &ConnectionString) -> Result<(), String> {
    let Some(expected) = expected.as_array() else {
        return Ok(());
    };
    if expected.len() != cs.hosts().len() {
        return Err(format!(
            "hosts: expected {expected:?}, got {:?}",
            cs.hosts()
        ));
    }
    for (e, a) in expected.iter().zip(cs.hosts()) {
        let kind_ok = e["type"].as_str().is_none_or(|t| t == a.host.kind());
        let host_ok = e["host"].as_str() == Some(a.host.as_string().as_str());
        let port_ok = e["port"].is_null() || e["port"].as_u64() == a.port.map(u64::from);
        if !(kind_ok && host_ok && port_ok) {
            return Err(format!("host: expected {e}, got {a:?}"));
        }
    }
    Ok(())
}

fn compare_auth(expected: &Value, cs: &ConnectionString) -> Result<(), String> {
    if expected.is_null() {
        return Ok(());
    }
    same("username", &expected["username"], cs.username())?;
    same(
        "password",
        &expected["password"],
        cs.password().map(|p| p.secret()),
    )?;
    same("db", &expected["db"], cs.database())
}

fn compare_options(expected: &Value, cs: &ConnectionString) -> Result<(), String> {
    let Some(expected) = expected.as_object() else {
        return Ok(());
    };
    for (key, value) in expected {
        let actual = cs.option(key);
        if !option_matches(value, actual) {
            return Err(format!("option {key}: expected {value}, got {actual:?}"));
        }
    }
    Ok(())
}

fn option_matches(expected: &Value, actual: Option<&OptionValue>) -> bool {
    match (expected, actual) {
        (Value::Bool(e), Some(OptionValue::Bool(a))) => e == a,
        (Value::Number(e), Some(OptionValue::Int(a))) => e.as_i64() == Some(*a),
        (Value::String(e), Some(OptionValue::Str(a))) => e == a,
        (Value::Object(e), Some(OptionValue::Pairs(a))) => {
            e.len() == a.len()
                && a.iter()
                    .all(|p| e.get(&p.key).and_then(Value::as_str) == Some(p.value.as_str()))
        }
        _ => false,
    }
}
