//! One client connection: read a message, apply the fail point, run the command, answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use mongodb::bson::Document;
use tokio::io::BufReader;
use tokio::net::TcpStream;

use super::Shared;
use super::commands::{self, error_reply};
use super::wire::{self, Request};

/// The user a connection is authenticated as.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub(crate) user: String,
    pub(crate) roles: Vec<String>,
    /// The token's `exp`: after it, commands that need authentication get 391.
    pub(crate) exp: i64,
}

/// A two-step conversation waiting for `saslContinue`.
#[derive(Debug)]
pub(crate) struct Conversation {
    pub(crate) provider: usize,
    pub(crate) principal: Option<String>,
}

/// What the server knows about one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnectionState {
    pub(crate) id: i64,
    /// `client.application.name` from the handshake.
    pub(crate) app_name: Option<String>,
    pub(crate) user: Option<Authenticated>,
    pub(crate) conversation: Option<Conversation>,
}

/// What the fail point decided for one command.
enum Injected {
    Close,
    Reply(Document),
}

static NEXT_REPLY_ID: AtomicI32 = AtomicI32::new(1);

pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, id: i64) {
    shared.stats.update(|s| s.connections += 1);
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut conn = ConnectionState {
        id,
        ..Default::default()
    };
    loop {
        let request = match wire::read_request(&mut reader).await {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(connection = id, error = %e, "closing connection after a protocol error");
                break;
            }
        };
        let name = command_name(&request);
        shared.stats.command(&name);
        let reply = match inject_fault(&shared, &conn, &name).await {
            Some(Injected::Close) => break,
            Some(Injected::Reply(reply)) => reply,
            None => commands::run(&mut conn, &shared, &name, &request.command).await,
        };
        if request.more_to_come {
            continue;
        }
        let reply_id = NEXT_REPLY_ID.fetch_add(1, Ordering::Relaxed);
        if wire::write_reply(&mut writer, &request, reply_id, &reply)
            .await
            .is_err()
        {
            break;
        }
    }
}

fn command_name(request: &Request) -> String {
    request.command.keys().next().cloned().unwrap_or_default()
}

/// Applies the `failCommand` fail point (never to `configureFailPoint` itself).
async fn inject_fault(shared: &Shared, conn: &ConnectionState, name: &str) -> Option<Injected> {
    if name == "configureFailPoint" {
        return None;
    }
    let fired = {
        let mut guard = shared.fail_point.lock().unwrap();
        let fp = guard.as_mut()?;
        let fired = fp
            .trigger(name, conn.app_name.as_deref())
            .then(|| fp.clone());
        if fp.exhausted() {
            *guard = None;
        }
        fired?
    };
    if let Some(ms) = fired.block_time_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fired.close_connection {
        return Some(Injected::Close);
    }
    let code = fired.error_code?;
    if code == 391 {
        shared.stats.update(|s| s.reauthentication_required += 1);
    }
    let mut reply = error_reply(code, "Failing command via 'failCommand' failpoint");
    if !fired.error_labels.is_empty() {
        reply.insert("errorLabels", fired.error_labels.clone());
    }
    Some(Injected::Reply(reply))
}
