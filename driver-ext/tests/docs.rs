//! The documentation cannot drift from the code: every error message (the `#[error]` texts of
//! both crates and the messages of configuration errors raised in code) appears in
//! docs/troubleshooting.md.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literal that starts at `text` (just after the opening quote).
fn literal(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Every error message template in a source file: `#[error("...")]` and `Error::options("...")`.
fn messages(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in ["#[error(", "Error::options("] {
        for (at, _) in source.match_indices(marker) {
            let rest = source[at + marker.len()..].trim_start();
            let rest = rest
                .strip_prefix("format!(")
                .map(str::trim_start)
                .unwrap_or(rest);
            if let Some(body) = rest.strip_prefix('"') {
                found.push(literal(body));
            }
        }
    }
    found
}

/// The parts of a template between its `{placeholders}`, as the table quotes them.
fn fixed_parts(template: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in template.chars() {
        match c {
            '{' => {
                depth += 1;
                if !current.trim().is_empty() {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
            }
            '}' => depth -= 1,
            c if depth == 0 => current.push(c),
            _ => {}
        }
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| p.len() >= 3)
        .collect()
}

#[test]
fn every_error_message_is_in_the_troubleshooting_table() {
    let doc = std::fs::read_to_string(workspace().join("docs/troubleshooting.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&workspace().join("connection-string/src"), &mut files);
    rust_files(&workspace().join("driver-ext/src"), &mut files);
    let mut checked = 0;
    let mut missing = Vec::new();
    for file in files {
        for template in messages(&std::fs::read_to_string(&file).unwrap()) {
            for part in fixed_parts(&template) {
                checked += 1;
                if !doc.contains(&part) {
                    missing.push(format!("{}: {part:?}", file.display()));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "the scan found the messages ({checked} parts)"
    );
    assert!(
        missing.is_empty(),
        "missing from docs/troubleshooting.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_server_errors_are_documented_too() {
    let doc = std::fs::read_to_string(workspace().join("docs/troubleshooting.md")).unwrap();
    for text in [
        "Authentication failed.",
        "code 18",
        "code 391",
        "code 13",
        "code 334",
    ] {
        assert!(doc.contains(text), "{text}");
    }
}
