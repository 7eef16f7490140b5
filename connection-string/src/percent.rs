//! Strict percent-decoding: every `%` must start a `%XX` byte, and the result must be UTF-8.

/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// Decodes `%XX` sequences. `+` stays `+`: connection strings are not form-encoded.
pub(crate) fn decode(input: &str) -> Result<String, DecodeError> {
    if !input.contains('%') {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(DecodeError::BadEscape),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes one character for use in an error hint (for example `@` → `%40`).
pub(crate) fn encode_char(ch: char) -> String {
    let mut buf = [0u8; 4];
    ch.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_valid_sequences() {
        assert_eq!(decode("a%2Fb%3a").unwrap(), "a/b:");
        assert_eq!(decode("a+b").unwrap(), "a+b");
        assert_eq!(decode("b%C3%BCcher").unwrap(), "bücher");
    }

    #[test]
    fn rejects_bad_sequences() {
        assert_eq!(decode("a%"), Err(DecodeError::BadEscape));
        assert_eq!(decode("a%2"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%zz"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%FF"), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn encodes_characters() {
        assert_eq!(encode_char('@'), "%40");
        assert_eq!(encode_char('ü'), "%C3%BC");
    }
}
