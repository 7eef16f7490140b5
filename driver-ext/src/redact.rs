//! Removing tokens from text that is about to become part of an error message: bodies of
//! failed responses are quoted to help users, but a body may carry a token.

/// The longest part of a response body quoted in an error.
pub(crate) const MAX_QUOTED_BODY: usize = 512;

/// Replaces anything that looks like a JWT (`eyJ...`) and the value of any `access_token`,
/// `refresh_token`, `id_token` or `token` JSON field with `<redacted>`, then truncates.
pub(crate) fn for_message(text: &str) -> String {
    let redacted = redact_json_fields(&redact_jwts(text));
    truncate(&redacted, MAX_QUOTED_BODY)
}

/// Longest error text written to a log line.
const MAX_LOGGED: usize = 4096;

/// The same redaction for log lines, with a larger limit.
pub(crate) fn for_log(text: &str) -> String {
    truncate(&redact_json_fields(&redact_jwts(text)), MAX_LOGGED)
}

fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(tail.len());
        out.push_str("<redacted>");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn redact_json_fields(text: &str) -> String {
    const FIELDS: &[&str] = &["access_token", "refresh_token", "id_token", "\"token"];
    let mut out = text.to_owned();
    for field in FIELDS {
        let mut from = 0;
        while let Some(found) = out[from..].find(field) {
            let key_end = from + found + field.len();
            let Some(value_start) = value_start(&out[key_end..]).map(|v| key_end + v) else {
                from = key_end;
                continue;
            };
            let value_end = out[value_start..]
                .find('"')
                .map_or(out.len(), |e| value_start + e);
            out.replace_range(value_start..value_end, "<redacted>");
            from = value_start + "<redacted>".len();
        }
    }
    out
}

/// After a key: `"` `:` spaces `"` — returns the offset just inside the value's quote.
fn value_start(after_key: &str) -> Option<usize> {
    let rest = after_key.strip_prefix('"')?;
    let colon = rest.find(':')?;
    if !rest[..colon].trim().is_empty() {
        return None;
    }
    let value = &rest[colon + 1..];
    let quote = value.find('"')?;
    if !value[..quote].trim().is_empty() {
        return None;
    }
    Some(1 + colon + 1 + quote + 1)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..cut], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_and_token_fields_are_removed() {
        let body = r#"{"access_token": "abc.def", "refresh_token":"r1", "note": "eyJhbGciOi.eyJzdWIi.sig-_x end"}"#;
        let shown = for_message(body);
        for secret in ["abc.def", "r1", "eyJhbGciOi", "sig-_x"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("end") && shown.contains("note"));
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let body = "é".repeat(1000);
        let shown = for_message(&body);
        assert!(
            shown.len() < 600 && shown.ends_with("(2000 bytes in all)"),
            "{shown}"
        );
    }
}
