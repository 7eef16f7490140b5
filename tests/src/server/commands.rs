//! Command dispatch: the handshake, authentication, diagnostics, and CRUD on the store.

use mongodb::bson::{Bson, DateTime, Document, doc};

use super::Shared;
use super::auth;
use super::connection::ConnectionState;
use super::failpoint::FailPoint;
use super::store::{self, WriteError};
use super::wire::MAX_MESSAGE_SIZE;

/// `find`'s default first batch, as the server uses it.
const DEFAULT_BATCH: usize = 101;
/// Minutes a server session lives; sessions are disabled when this is absent from the handshake.
const SESSION_TIMEOUT_MINUTES: i32 = 30;

fn code_name(code: i32) -> Option<&'static str> {
    Some(match code {
        2 => "BadValue",
        6 => "HostUnreachable",
        7 => "HostNotFound",
        13 => "Unauthorized",
        17 => "ProtocolError",
        18 => "AuthenticationFailed",
        20 => "IllegalOperation",
        26 => "NamespaceNotFound",
        43 => "CursorNotFound",
        59 => "CommandNotFound",
        89 => "NetworkTimeout",
        91 => "ShutdownInProgress",
        189 => "PrimarySteppedDown",
        262 => "ExceededTimeLimit",
        334 => "MechanismUnavailable",
        391 => "ReauthenticationRequired",
        9001 => "SocketException",
        10107 => "NotWritablePrimary",
        11000 => "DuplicateKey",
        11600 => "InterruptedAtShutdown",
        13435 => "NotPrimaryNoSecondaryOk",
        _ => return None,
    })
}

/// `{ok: 0, errmsg, code, codeName}`.
pub(crate) fn error_reply(code: i32, errmsg: &str) -> Document {
    let mut reply = doc! { "ok": 0.0, "errmsg": errmsg, "code": code };
    if let Some(name) = code_name(code) {
        reply.insert("codeName", name);
    }
    reply
}

/// Runs one command.
pub(crate) async fn run(
    conn: &mut ConnectionState,
    shared: &Shared,
    name: &str,
    cmd: &Document,
) -> Document {
    match name {
        "hello" | "isMaster" | "ismaster" => hello(conn, shared, name, cmd).await,
        "saslStart" => auth::sasl_start(conn, shared, cmd).await,
        "saslContinue" => auth::sasl_continue(conn, shared, cmd).await,
        "configureFailPoint" => configure_fail_point(shared, cmd),
        "connectionStatus" => connection_status(conn),
        "ping" | "endSessions" => doc! { "ok": 1 },
        "buildInfo" | "buildinfo" => build_info(shared),
        _ => {
            if let Some(denied) = require_auth(conn, shared, name) {
                return denied;
            }
            data_command(shared, name, cmd)
                .unwrap_or_else(|| error_reply(59, &format!("no such command: '{name}'")))
        }
    }
}

/// Commands that touch data need a live authentication: 13 without one, 391 once it expired.
fn require_auth(conn: &ConnectionState, shared: &Shared, name: &str) -> Option<Document> {
    let Some(user) = &conn.user else {
        shared.stats.update(|s| s.unauthorized += 1);
        return Some(error_reply(
            13,
            &format!("Command {name} requires authentication"),
        ));
    };
    if shared.clock.unix_seconds() >= user.exp {
        shared.stats.update(|s| s.reauthentication_required += 1);
        return Some(error_reply(
            391,
            &format!(
                "Command {name} requires reauthentication since the current authorization session has expired. Please re-auth."
            ),
        ));
    }
    None
}

async fn hello(
    conn: &mut ConnectionState,
    shared: &Shared,
    name: &str,
    cmd: &Document,
) -> Document {
    if conn.app_name.is_none() {
        conn.app_name = cmd
            .get_document("client")
            .and_then(|c| c.get_document("application"))
            .and_then(|a| a.get_str("name"))
            .ok()
            .map(str::to_owned);
    }
    let primary_field = if name == "hello" {
        "isWritablePrimary"
    } else {
        "ismaster"
    };
    let mut reply = doc! {
        primary_field: true,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": MAX_MESSAGE_SIZE as i32,
        "maxWriteBatchSize": 100_000,
        "localTime": DateTime::from_system_time(shared.clock.now()),
        "logicalSessionTimeoutMinutes": SESSION_TIMEOUT_MINUTES,
        "connectionId": conn.id,
        "minWireVersion": 0,
        "maxWireVersion": shared.config.max_wire_version,
        "readOnly": false,
    };
    if cmd.get_bool("helloOk").unwrap_or(false) {
        reply.insert("helloOk", true);
    }
    if let Ok(speculative) = cmd.get_document("speculativeAuthenticate")
        && let Some(answer) = auth::speculative(conn, shared, speculative).await
    {
        reply.insert("speculativeAuthenticate", answer);
    }
    reply.insert("ok", 1.0);
    reply
}

fn configure_fail_point(shared: &Shared, cmd: &Document) -> Document {
    if cmd.get_str("configureFailPoint") != Ok("failCommand") {
        return error_reply(2, "only the 'failCommand' fail point is supported");
    }
    match FailPoint::from_command(cmd) {
        Ok(fp) => {
            *shared.fail_point.lock().unwrap() = fp;
            doc! { "count": 0, "ok": 1 }
        }
        Err(message) => error_reply(2, &message),
    }
}

fn connection_status(conn: &ConnectionState) -> Document {
    let (users, roles) = match &conn.user {
        Some(u) => (
            vec![doc! { "user": &u.user, "db": "$external" }],
            u.roles
                .iter()
                .map(|r| doc! { "role": r, "db": "admin" })
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    doc! { "authInfo": { "authenticatedUsers": users, "authenticatedUserRoles": roles }, "ok": 1 }
}

fn build_info(shared: &Shared) -> Document {
    let version = if shared.config.max_wire_version >= 25 {
        "8.0.0"
    } else {
        "7.0.11"
    };
    let parts: Vec<i32> = version
        .split('.')
        .filter_map(|p| p.parse().ok())
        .chain([0])
        .collect();
    doc! {
        "version": format!("{version}-testkit"),
        "versionArray": parts,
        "gitVersion": "mongodb-oidc-testkit",
        "modules": ["enterprise"],
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "ok": 1,
    }
}

fn db_of(cmd: &Document) -> String {
    cmd.get_str("$db").unwrap_or("test").to_owned()
}

fn batch_size(value: Option<&Bson>) -> Option<usize> {
    match value {
        Some(Bson::Int32(n)) => usize::try_from(*n).ok(),
        Some(Bson::Int64(n)) => usize::try_from(*n).ok(),
        Some(Bson::Double(n)) if *n >= 0.0 => Some(*n as usize),
        _ => None,
    }
}

fn cursor_reply(namespace: &str, batch_field: &str, docs: Vec<Document>, id: i64) -> Document {
    doc! { "cursor": { batch_field: docs, "id": id, "ns": namespace }, "ok": 1 }
}

/// Data commands; `None` for a command the server does not know.
fn data_command(shared: &Shared, name: &str, cmd: &Document) -> Option<Document> {
    let db = db_of(cmd);
    let collection = cmd.get_str(name).unwrap_or_default().to_owned();
    let mut store = shared.store.lock().unwrap();
    Some(match name {
        "find" => find(&mut store, &db, &collection, cmd),
        "getMore" => {
            let id = cmd.get_i64("getMore").unwrap_or_default();
            let batch = batch_size(cmd.get("batchSize")).unwrap_or(usize::MAX);
            match store.get_more(id, batch) {
                Some((namespace, docs, id)) => cursor_reply(&namespace, "nextBatch", docs, id),
                None => error_reply(43, &format!("cursor id {id} not found")),
            }
        }
        "killCursors" => {
            let ids: Vec<i64> = cmd
                .get_array("cursors")
                .map(|a| a.iter().filter_map(Bson::as_i64).collect())
                .unwrap_or_default();
            let (killed, unknown): (Vec<i64>, Vec<i64>) =
                ids.into_iter().partition(|id| store.kill_cursor(*id));
            doc! { "cursorsKilled": killed, "cursorsNotFound": unknown, "cursorsAlive": [], "cursorsUnknown": [], "ok": 1 }
        }
        "insert" => insert(&mut store, &db, &collection, cmd),
        "update" => update(&mut store, &db, &collection, cmd),
        "delete" => {
            let mut n = 0;
            for spec in cmd
                .get_array("deletes")
                .into_iter()
                .flatten()
                .filter_map(Bson::as_document)
            {
                let filter = spec.get_document("q").cloned().unwrap_or_default();
                let all = spec.get("limit").and_then(batch_size_i).unwrap_or(0) == 0;
                n += store.delete(&db, &collection, &filter, all);
            }
            doc! { "n": n as i32, "ok": 1 }
        }
        "count" => {
            let query = cmd.get_document("query").cloned().unwrap_or_default();
            doc! { "n": store.find(&db, &collection, &query).len() as i32, "ok": 1 }
        }
        "aggregate" => aggregate(&mut store, &db, &collection, cmd),
        "listDatabases" => {
            let names = store.databases();
            let dbs: Vec<Document> = names
                .iter()
                .map(|n| doc! { "name": n, "sizeOnDisk": 0_i64, "empty": false })
                .collect();
            doc! { "databases": dbs, "totalSize": 0_i64, "ok": 1 }
        }
        "listCollections" => {
            let infos: Vec<Document> = store
                .collections(&db)
                .into_iter()
                .map(|c| doc! { "name": c, "type": "collection" })
                .collect();
            cursor_reply(
                &format!("{db}.$cmd.listCollections"),
                "firstBatch",
                infos,
                0,
            )
        }
        "drop" => {
            store.drop_collection(&db, &collection);
            doc! { "ok": 1 }
        }
        "dropDatabase" => {
            store.drop_database(&db);
            doc! { "ok": 1 }
        }
        "create" => doc! { "ok": 1 },
        _ => return None,
    })
}

/// `find` with `filter`, `skip`, `limit` (negative: one batch), `batchSize` and `singleBatch`.
fn find(store: &mut store::Store, db: &str, collection: &str, cmd: &Document) -> Document {
    let filter = cmd.get_document("filter").cloned().unwrap_or_default();
    let mut docs = store.find(db, collection, &filter);
    let skip = batch_size(cmd.get("skip")).unwrap_or(0).min(docs.len());
    docs.drain(..skip);
    let limit = cmd.get("limit").and_then(batch_size_i).unwrap_or(0);
    if limit != 0 {
        docs.truncate(limit.unsigned_abs() as usize);
    }
    let single = cmd.get_bool("singleBatch").unwrap_or(false) || limit < 0;
    let batch = if single {
        docs.len()
    } else {
        batch_size(cmd.get("batchSize")).unwrap_or(DEFAULT_BATCH)
    };
    let namespace = format!("{db}.{collection}");
    let (first, id) = store.open_cursor(namespace.clone(), docs, batch);
    cursor_reply(&namespace, "firstBatch", first, id)
}

fn batch_size_i(value: &Bson) -> Option<i64> {
    value.as_i64().or(value.as_i32().map(i64::from))
}

fn insert(store: &mut store::Store, db: &str, collection: &str, cmd: &Document) -> Document {
    let ordered = cmd.get_bool("ordered").unwrap_or(true);
    let mut n = 0;
    let mut errors = Vec::new();
    for (index, doc) in cmd
        .get_array("documents")
        .into_iter()
        .flatten()
        .filter_map(Bson::as_document)
        .enumerate()
    {
        match store.insert_one(db, collection, doc.clone()) {
            Ok(()) => n += 1,
            Err(WriteError::DuplicateKey(id)) => {
                errors.push(doc! { "index": index as i32, "code": 11000, "errmsg": format!("E11000 duplicate key error collection: {db}.{collection} index: _id_ dup key: {{ _id: {id} }}") });
                if ordered {
                    break;
                }
            }
        }
    }
    let mut reply = doc! { "n": n, "ok": 1 };
    if !errors.is_empty() {
        reply.insert("writeErrors", errors);
    }
    reply
}

fn update(store: &mut store::Store, db: &str, collection: &str, cmd: &Document) -> Document {
    let (mut n, mut modified) = (0usize, 0usize);
    let mut upserted = Vec::new();
    for (index, spec) in cmd
        .get_array("updates")
        .into_iter()
        .flatten()
        .filter_map(Bson::as_document)
        .enumerate()
    {
        let filter = spec.get_document("q").cloned().unwrap_or_default();
        let Ok(change) = spec.get_document("u").cloned() else {
            continue;
        };
        let multi = spec.get_bool("multi").unwrap_or(false);
        let matched = store.update(db, collection, &filter, multi, |d| {
            store::apply_update(d, &change)
        });
        if matched == 0 && spec.get_bool("upsert").unwrap_or(false) {
            let mut new = filter
                .iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Document>();
            store::apply_update(&mut new, &change);
            let id = new
                .get("_id")
                .cloned()
                .unwrap_or_else(|| Bson::ObjectId(mongodb::bson::oid::ObjectId::new()));
            new.insert("_id", id.clone());
            let _ = store.insert_one(db, collection, new);
            upserted.push(doc! { "index": index as i32, "_id": id });
            n += 1;
        } else {
            n += matched;
            modified += matched;
        }
    }
    let mut reply = doc! { "n": n as i32, "nModified": modified as i32, "ok": 1 };
    if !upserted.is_empty() {
        reply.insert("upserted", upserted);
    }
    reply
}

/// `$match`, `$skip`, `$limit`, `$count`, and `$group` by a constant with `$sum` (what
/// `count_documents` sends).
fn aggregate(store: &mut store::Store, db: &str, collection: &str, cmd: &Document) -> Document {
    let mut docs = store.find(db, collection, &Document::new());
    for stage in cmd
        .get_array("pipeline")
        .into_iter()
        .flatten()
        .filter_map(Bson::as_document)
    {
        let Some((name, arg)) = stage.iter().next() else {
            continue;
        };
        match name.as_str() {
            "$match" => {
                let filter = arg.as_document().cloned().unwrap_or_default();
                docs.retain(|d| store::matches(d, &filter));
            }
            "$skip" => {
                let n = batch_size_i(arg).unwrap_or(0).max(0) as usize;
                docs.drain(..n.min(docs.len()));
            }
            "$limit" => docs.truncate(batch_size_i(arg).unwrap_or(0).max(0) as usize),
            "$count" => {
                let field = arg.as_str().unwrap_or("count");
                docs = vec![doc! { field: docs.len() as i32 }];
            }
            "$group" => docs = group(&docs, arg.as_document().cloned().unwrap_or_default()),
            other => {
                return error_reply(
                    40324,
                    &format!("Unrecognized pipeline stage name: '{other}'"),
                );
            }
        }
    }
    let batch = cmd
        .get_document("cursor")
        .ok()
        .and_then(|c| batch_size(c.get("batchSize")))
        .unwrap_or(DEFAULT_BATCH);
    let namespace = format!("{db}.{collection}");
    let (first, id) = store.open_cursor(namespace.clone(), docs, batch);
    cursor_reply(&namespace, "firstBatch", first, id)
}

fn group(docs: &[Document], spec: Document) -> Vec<Document> {
    if docs.is_empty() {
        return Vec::new();
    }
    let mut out = doc! { "_id": spec.get("_id").cloned().unwrap_or(Bson::Null) };
    for (field, acc) in spec.iter().filter(|(k, _)| *k != "_id") {
        let per_doc = acc
            .as_document()
            .and_then(|a| a.get("$sum"))
            .and_then(batch_size_i)
            .unwrap_or(0);
        out.insert(field.clone(), per_doc * docs.len() as i64);
    }
    vec![out]
}
