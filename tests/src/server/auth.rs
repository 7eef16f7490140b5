//! MONGODB-OIDC on the server side: speculative authentication in the handshake, one-step
//! `saslStart {jwt}`, and the two-step `saslStart {n}` → IdpInfo → `saslContinue {jwt}`.
//! Every failure answers "Authentication failed." (code 18); the reason goes to the stats.

use mongodb::bson::{Binary, Bson, Document, doc, spec::BinarySubtype};

use super::Shared;
use super::commands::error_reply;
use super::connection::{Authenticated, ConnectionState, Conversation};
use super::jwt::{self, Validated};

const MECHANISM: &str = "MONGODB-OIDC";
/// The only conversation id the server hands out, as the real server does for OIDC.
const CONVERSATION_ID: i32 = 1;

fn empty_payload() -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: Vec::new(),
    })
}

fn payload(command: &Document) -> Result<Document, String> {
    let bytes = match command.get("payload") {
        Some(Bson::Binary(b)) => &b.bytes,
        _ => return Err("the payload is not binary data".into()),
    };
    Document::from_reader(bytes.as_slice()).map_err(|e| format!("the payload is not BSON: {e}"))
}

fn failure(shared: &Shared, reason: String) -> Document {
    tracing::info!(%reason, "MONGODB-OIDC authentication failed");
    shared.stats.update(|s| {
        s.auth_failures += 1;
        s.failure_reasons.push(reason);
    });
    error_reply(18, "Authentication failed.")
}

/// Checks and records a validated token on the connection.
fn accept(conn: &mut ConnectionState, shared: &Shared, v: Validated) -> Result<(), String> {
    if let Some(current) = &conn.user
        && current.user != v.user
    {
        return Err(format!(
            "the connection is authenticated as '{}' and cannot switch to '{}'",
            current.user, v.user
        ));
    }
    shared.stats.update(|s| {
        s.authentications += 1;
        s.principals.push(v.user.clone());
    });
    conn.user = Some(Authenticated {
        user: v.user,
        roles: v.roles,
        exp: v.exp,
    });
    Ok(())
}

/// Validates a one-step JWT against the provider its issuer and audience select.
async fn one_step(shared: &Shared, token: &str) -> Result<Validated, String> {
    let providers = &shared.config.providers;
    let index = jwt::provider_for(token, providers)?;
    jwt::validate(
        token,
        &providers[index],
        &shared.jwks,
        shared.clock.unix_seconds(),
    )
    .await
}

fn check_mechanism(shared: &Shared, command: &Document) -> Result<(), Document> {
    let mechanism = command.get_str("mechanism").unwrap_or_default();
    if mechanism != MECHANISM || !shared.config.oidc_enabled {
        return Err(error_reply(
            334,
            &format!("Received authentication for mechanism {mechanism} which is not enabled"),
        ));
    }
    Ok(())
}

/// `saslStart`.
pub(crate) async fn sasl_start(
    conn: &mut ConnectionState,
    shared: &Shared,
    command: &Document,
) -> Document {
    if let Err(reply) = check_mechanism(shared, command) {
        return reply;
    }
    if command.get_str("$db") != Ok("$external") {
        return failure(shared, "MONGODB-OIDC users live in $external".into());
    }
    let payload = match payload(command) {
        Ok(p) => p,
        Err(reason) => return failure(shared, reason),
    };
    if let Ok(token) = payload.get_str("jwt") {
        shared.stats.update(|s| s.sasl_start_jwt += 1);
        return match one_step(shared, token)
            .await
            .and_then(|v| accept(conn, shared, v))
        {
            Ok(()) => {
                doc! { "conversationId": CONVERSATION_ID, "done": true, "payload": empty_payload(), "ok": 1 }
            }
            Err(reason) => failure(shared, reason),
        };
    }
    shared.stats.update(|s| s.sasl_start_principal += 1);
    let principal = payload.get_str("n").ok().map(str::to_owned);
    match provider_for_principal(shared, principal.as_deref()) {
        Ok(index) => {
            conn.conversation = Some(Conversation {
                provider: index,
                principal,
            });
            let info = idp_info(&shared.config.providers[index]);
            let mut bytes = Vec::new();
            info.to_writer(&mut bytes).expect("BSON encoding");
            let payload = Bson::Binary(Binary {
                subtype: BinarySubtype::Generic,
                bytes,
            });
            doc! { "conversationId": CONVERSATION_ID, "done": false, "payload": payload, "ok": 1 }
        }
        Err(reason) => failure(shared, reason),
    }
}

/// `saslContinue`: the second step of the two-step flow.
pub(crate) async fn sasl_continue(
    conn: &mut ConnectionState,
    shared: &Shared,
    command: &Document,
) -> Document {
    shared.stats.update(|s| s.sasl_continue += 1);
    let id_ok = matches!(
        command.get("conversationId"),
        Some(Bson::Int32(CONVERSATION_ID))
    ) || matches!(command.get("conversationId"), Some(Bson::Int64(1)));
    let Some(conversation) = conn.conversation.take().filter(|_| id_ok) else {
        return error_reply(17, "No SASL session state found");
    };
    let result = async {
        let token = payload(command)?
            .get_str("jwt")
            .map(str::to_owned)
            .map_err(|_| "the payload has no 'jwt'".to_owned())?;
        let provider = &shared.config.providers[conversation.provider];
        let validated =
            jwt::validate(&token, provider, &shared.jwks, shared.clock.unix_seconds()).await?;
        if let Some(n) = &conversation.principal
            && *n != validated.principal
        {
            return Err(format!(
                "the token's principal '{}' is not the requested '{n}'",
                validated.principal
            ));
        }
        accept(conn, shared, validated)
    }
    .await;
    match result {
        Ok(()) => {
            doc! { "conversationId": CONVERSATION_ID, "done": true, "payload": empty_payload(), "ok": 1 }
        }
        Err(reason) => failure(shared, reason),
    }
}

/// The handshake's `speculativeAuthenticate`: the reply field on success, `None` otherwise.
pub(crate) async fn speculative(
    conn: &mut ConnectionState,
    shared: &Shared,
    request: &Document,
) -> Option<Document> {
    if request.get_str("mechanism") != Ok(MECHANISM) || !shared.config.oidc_enabled {
        return None;
    }
    let token = payload(request)
        .ok()
        .and_then(|p| p.get_str("jwt").ok().map(str::to_owned));
    let result = match token {
        Some(token) if request.get_str("db") == Ok("$external") => one_step(shared, &token).await,
        _ => Err("speculative authentication without a JWT for $external".to_owned()),
    };
    match result.and_then(|v| accept(conn, shared, v)) {
        Ok(()) => {
            shared.stats.update(|s| s.speculative_succeeded += 1);
            Some(
                doc! { "conversationId": CONVERSATION_ID, "done": true, "payload": empty_payload() },
            )
        }
        Err(reason) => {
            tracing::info!(%reason, "speculative MONGODB-OIDC authentication failed");
            shared.stats.update(|s| {
                s.speculative_failed += 1;
                s.failure_reasons.push(format!("speculative: {reason}"));
            });
            None
        }
    }
}

/// Two-step provider selection: by `matchPattern` when a principal is sent, otherwise the
/// single provider that supports human flows.
fn provider_for_principal(shared: &Shared, principal: Option<&str>) -> Result<usize, String> {
    let providers = &shared.config.providers;
    match principal {
        Some(n) => providers
            .iter()
            .position(|p| match &p.match_pattern {
                None => true,
                Some(pattern) => regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(n)),
            })
            .ok_or_else(|| format!("no identity provider's matchPattern matches '{n}'")),
        None => {
            let human: Vec<usize> = (0..providers.len())
                .filter(|i| providers[*i].supports_human_flows)
                .collect();
            match human.as_slice() {
                [one] => Ok(*one),
                [] => Err("no identity provider supports human flows".into()),
                _ => Err(
                    "several identity providers support human flows; a principal name is required"
                        .into(),
                ),
            }
        }
    }
}

fn idp_info(provider: &super::IdentityProviderConfig) -> Document {
    let mut info = doc! { "issuer": &provider.issuer };
    if provider.supports_human_flows {
        if let Some(client_id) = &provider.client_id {
            info.insert("clientId", client_id);
        }
        if !provider.request_scopes.is_empty() {
            info.insert("requestScopes", provider.request_scopes.clone());
        }
    }
    info
}
