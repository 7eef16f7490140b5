//! A snapshot of each published crate's public items, so that nothing is exported by accident:
//! any change to the public surface shows up as a diff of `public-api.txt`, to be reviewed and
//! recorded in CHANGELOG.md. Regenerate with `UPDATE_PUBLIC_API=1 cargo test --test public_api`.

use std::path::{Path, PathBuf};

const KINDS: &[&str] = &[
    "fn ",
    "async fn ",
    "struct ",
    "enum ",
    "trait ",
    "type ",
    "const ",
    "static ",
    "mod ",
    "use ",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file: item` for every `pub` item (not `pub(crate)`), its signature up to the first `{` or `=`.
fn public_items(crate_dir: &Path) -> String {
    let mut files = Vec::new();
    rust_files(&crate_dir.join("src"), &mut files);
    let mut lines = Vec::new();
    for file in files {
        let relative = file.strip_prefix(crate_dir).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        let source: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < source.len() {
            let trimmed = source[i].trim_start();
            if trimmed.starts_with("#[cfg(test)]") {
                break;
            }
            i += 1;
            let Some(rest) = trimmed.strip_prefix("pub ") else {
                continue;
            };
            if !KINDS.iter().any(|k| rest.starts_with(k)) {
                continue;
            }
            // The whole item head: `use` lists and signatures may span lines.
            let mut head = rest.to_owned();
            let is_value = head.starts_with("const ")
                || head.starts_with("static ")
                || head.starts_with("type ");
            let ends = |h: &str| match h.starts_with("use ") {
                true => h.contains(';'),
                false => h.contains(['{', ';']) || (is_value && h.contains(" = ")),
            };
            while !ends(&head) && i < source.len() {
                head.push(' ');
                head.push_str(source[i].trim());
                i += 1;
            }
            let cut = match head.starts_with("use ") {
                true => head.split(';').next().unwrap_or(&head),
                false if is_value => head.split(" = ").next().unwrap_or(&head),
                false => head.split(['{', ';']).next().unwrap_or(&head),
            };
            let signature = cut
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace("( ", "(")
                .replace(" )", ")")
                .replace(", }", " }");
            lines.push(format!("{relative}: {signature}"));
        }
    }
    lines.join("\n") + "\n"
}

fn check(crate_dir: &Path) {
    let actual = public_items(crate_dir);
    let snapshot = crate_dir.join("public-api.txt");
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&snapshot, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if expected != actual {
        let added: Vec<&str> = actual
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .collect();
        let removed: Vec<&str> = expected
            .lines()
            .filter(|l| !actual.lines().any(|a| a == *l))
            .collect();
        panic!(
            "the public API of {} changed; review, record it in CHANGELOG.md and run UPDATE_PUBLIC_API=1 cargo test --test public_api\n+ {}\n- {}",
            crate_dir.display(),
            added.join("\n+ "),
            removed.join("\n- ")
        );
    }
}

#[test]
fn public_api_matches_the_snapshot() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    check(here);
    check(&here.parent().unwrap().join("connection-string"));
}
