//! Token files (k8s service-account tokens, `OIDC_TOKEN_FILE`): re-read on every fetch because
//! kubelet rotates them, trimmed, size-capped, with the path in every error.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use crate::TokenResponse;
use crate::error::{Error, ErrorKind};
use crate::jwt::JwtParts;

/// Largest token file accepted; service-account tokens are about 1 KiB.
const MAX_TOKEN_FILE_BYTES: u64 = 256 * 1024;

/// Reads, trims and checks a token file before `deadline`.
pub(crate) async fn read_token(
    path: &Path,
    chosen_by: &str,
    deadline: Instant,
) -> Result<TokenResponse, Error> {
    let file_error = |source: std::io::Error| {
        Error::new(ErrorKind::TokenFile {
            path: path.to_owned(),
            chosen_by: chosen_by.to_owned(),
            source,
        })
    };
    let read = async {
        let file = tokio::fs::File::open(path).await?;
        let mut bytes = Vec::new();
        file.take(MAX_TOKEN_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let bytes = match tokio::time::timeout_at(deadline, read).await {
        Ok(result) => result.map_err(file_error)?,
        Err(_) => {
            let what = format!("reading {}", path.display());
            return Err(Error::new(ErrorKind::Deadline {
                what,
                after: Duration::ZERO,
            }));
        }
    };
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        let too_big = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is larger than 256 KiB, so it is not a token",
        );
        return Err(file_error(too_big));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        file_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::new(ErrorKind::EmptyTokenFile {
            path: path.to_owned(),
            chosen_by: chosen_by.to_owned(),
        }));
    }
    Ok(with_jwt_expiry(TokenResponse::new(token), token))
}

/// Adds the JWT's `exp` as the expiry when the token is a JWT that carries one.
pub(crate) fn with_jwt_expiry(response: TokenResponse, token: &str) -> TokenResponse {
    match JwtParts::decode(token)
        .and_then(|p| p.expires_at())
        .and_then(|e| u64::try_from(e).ok())
    {
        Some(exp) => response.expires_at(UNIX_EPOCH + Duration::from_secs(exp)),
        None => response,
    }
}

/// Seconds from now until a Unix time (negative if past).
pub(crate) fn seconds_until(unix: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    unix - now
}
