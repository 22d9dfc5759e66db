//! `/api/ws`: live invoice changes for the web app. Postgres announces every change to an
//! invoice on the `invoice_changes` channel (a trigger, whoever wrote the row); each API replica
//! LISTENs on one connection and fans the changes out to its WebSocket clients, each of whom
//! gets only its own organisation's. A socket authenticates with its first message (never the
//! URL), closes when its access token expires, and re-checks its caller's membership as it runs.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::Utc;
use invoice_domain::InvoiceStatus;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::jwt::JwtError;
use crate::auth::{API_KEY_PREFIX, authenticate};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// The channel the triggers notify on.
const CHANNEL: &str = "invoice_changes";
/// Changes buffered per replica before a slow client is told to resynchronise.
const BUFFER: usize = 1024;
const PING_EVERY: Duration = Duration::from_secs(25);
/// How long a new socket may take to send its `auth` message.
const AUTH_WITHIN: Duration = Duration::from_secs(5);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live))
}

/// What Postgres announces: the triggers of migrations 005 and 007 are the one producer on
/// the channel, and write this shape.
#[derive(Debug, Clone, Deserialize)]
struct Notification {
    org: Uuid,
    invoice: Uuid,
    status: Option<InvoiceStatus>,
    what: String,
    at: Option<String>,
}

/// A message sent to WebSocket clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    /// An invoice of the caller's organisation changed: its row, or its timeline grew.
    #[serde(rename_all = "camelCase")]
    InvoiceChanged {
        invoice_id: Uuid,
        /// The invoice's status now; none once it is deleted.
        status: Option<InvoiceStatus>,
        /// `insert`, `update`, `delete` (a draft was deleted), or the kind of the new timeline
        /// event (`email_sent`, ...).
        what: String,
        at: Option<String>,
    },
    /// Changes may have been missed (the server lost its database connection, or the client
    /// fell behind): read everything again.
    Resync,
}

#[derive(Debug, Clone)]
enum Change {
    Invoice(Notification),
    Resync,
}

/// One LISTEN connection per process, started by the first subscriber, shared by all.
pub struct LiveHub {
    sender: OnceLock<broadcast::Sender<Change>>,
    /// Set at shutdown: open sockets close, so graceful shutdown does not wait on them.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self { sender: OnceLock::new(), closing: tokio::sync::watch::Sender::new(false) }
    }
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub").finish_non_exhaustive()
    }
}

impl LiveHub {
    fn subscribe(&self, db: &PgPool) -> broadcast::Receiver<Change> {
        // The first subscriber's receiver exists before the listener starts, so it hears the
        // listener's first resync whichever thread runs first.
        let mut first = None;
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = broadcast::channel(BUFFER);
            first = Some(receiver);
            tokio::spawn(listen(db.clone(), sender.clone()));
            sender
        });
        first.unwrap_or_else(|| sender.subscribe())
    }

    /// Closes every open socket (code 1001, going away); clients reconnect to another replica.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

/// Forwards notifications for as long as the process runs, reconnecting after failures; after
/// each gap the clients are told to resynchronise.
async fn listen(db: PgPool, sender: broadcast::Sender<Change>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match PgListener::connect_with(&db).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    tracing::info!("listening for invoice changes");
                    backoff = Duration::from_millis(250);
                    let _ = sender.send(Change::Resync);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(notification)) => {
                                match serde_json::from_str(notification.payload()) {
                                    Ok(change) => {
                                        let _ = sender.send(Change::Invoice(change));
                                    }
                                    Err(err) => {
                                        tracing::warn!(error = %err, "unreadable invoice change")
                                    }
                                }
                            }
                            // The connection dropped; the next call reconnects and re-listens.
                            Ok(None) => {
                                tracing::warn!("invoice change listener reconnecting");
                                let _ = sender.send(Change::Resync);
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "invoice change listener failed");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "LISTEN failed"),
            },
            Err(err) => {
                tracing::warn!(error = %err, "cannot connect to listen for invoice changes")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// What a client sends: only the `auth` message, first, within [`AUTH_WITHIN`].
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Auth { token: String },
}

/// Close codes: 1008 (policy violation) for a socket that did not authenticate, 4001 when the
/// access token expires, 4003 when the caller lost access (removed from the organisation, API
/// key revoked). After 4001 and 4003 the client reconnects with a fresh token.
const POLICY_VIOLATION: u16 = 1008;
const TOKEN_EXPIRED: u16 = 4001;
const ACCESS_ENDED: u16 = 4003;

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

/// Live invoice changes of the caller's organisation (WebSocket).
///
/// Upgrade without credentials in the URL (URLs end up in proxy and server logs; a `token`
/// query parameter is refused with 400), then send `{"type":"auth","token":"<access token or
/// API key>"}` as the first message within 5 seconds; otherwise the server closes with 1008.
/// The server sends JSON text messages
/// (`{"type":"invoice_changed","invoiceId","status","what","at"}` or `{"type":"resync"}`),
/// closes with 4001 when the access token expires (at its `exp`) and with 4003 once the caller
/// is no longer a member of the organisation (checked every `LIVE_MEMBERSHIP_CHECK_SECONDS`);
/// reconnect with a fresh token and read everything again, since changes may have happened in
/// between.
#[utoipa::path(get, path = "/api/ws", tag = "invoices",
    responses((status = 101, description = "Switching to the WebSocket protocol", body = LiveMessage),
        (status = 400, body = ErrorBody)))]
pub(crate) async fn live(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let in_url =
        query.as_deref().unwrap_or_default().split('&').any(|pair| {
            pair.split('=').next().is_some_and(|name| name.eq_ignore_ascii_case("token"))
        });
    if in_url {
        return Err(ApiError::bad_request(
            "token_in_url",
            "Do not put the token in the URL; send it as the first message, {\"type\":\"auth\",\"token\":\"...\"}.",
        ));
    }
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request("websocket_required", "Connect with a WebSocket upgrade request.")
    })?;
    // Clients send one small message, the auth message; nothing needs more.
    Ok(upgrade.max_message_size(16 * 1024).on_upgrade(move |socket| serve(socket, state)))
}

/// An authenticated socket's caller: whose changes it gets, and until when.
struct Caller {
    org_id: Uuid,
    /// When the access token expires; none for an API key.
    expires_in: Option<Duration>,
}

async fn serve(mut socket: WebSocket, state: AppState) {
    let token = match tokio::time::timeout(AUTH_WITHIN, auth_message(&mut socket)).await {
        Ok(Some(token)) => token,
        Ok(None) => return,
        Err(_) => {
            let _ = socket.send(close_frame(POLICY_VIOLATION, "send the auth message first")).await;
            return;
        }
    };
    let caller = match authenticate_socket(&state, &token).await {
        Ok(caller) => caller,
        Err(close) => {
            let _ = socket.send(close).await;
            return;
        }
    };
    let _open = state.metrics.socket_opened();
    let changes = state.live.subscribe(&state.db);
    let closing = state.live.closing.subscribe();
    let check_every = Duration::from_secs(state.auth.live_membership_check_secs.max(1));
    forward(socket, &state, &token, caller, changes, closing, check_every).await;
}

/// The token of the client's first message; None once the socket has been closed (on a
/// message that is not `auth`, with 1008).
async fn auth_message(socket: &mut WebSocket) -> Option<String> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => {
                return match serde_json::from_str(text.as_str()) {
                    Ok(ClientMessage::Auth { token }) => Some(token),
                    Err(_) => {
                        let close = close_frame(POLICY_VIOLATION, "expected the auth message");
                        let _ = socket.send(close).await;
                        None
                    }
                };
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Binary(_)) => {
                let _ =
                    socket.send(close_frame(POLICY_VIOLATION, "expected the auth message")).await;
                return None;
            }
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

/// Who the token is for, and how long it lives; the close to send when it is refused.
async fn authenticate_socket(state: &AppState, token: &str) -> Result<Caller, Message> {
    let expires_in = if token.starts_with(API_KEY_PREFIX) {
        None
    } else {
        match state.jwt.verify(token) {
            Ok(claims) => {
                let left_ms = claims.exp.saturating_mul(1000) - Utc::now().timestamp_millis();
                Some(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)))
            }
            Err(JwtError::Expired) => return Err(close_frame(TOKEN_EXPIRED, "token expired")),
            Err(_) => return Err(close_frame(POLICY_VIOLATION, "invalid token")),
        }
    };
    match authenticate(state, token).await {
        Ok(auth) => Ok(Caller { org_id: auth.org_id, expires_in }),
        Err(ApiError::Unauthorized { .. }) => Err(close_frame(POLICY_VIOLATION, "invalid token")),
        Err(_) => Err(close_frame(1011, "try again")),
    }
}

/// Whether the caller still has access, as `authenticate` sees it now. A database failure is
/// not a lost membership: the socket stays open until the next check.
async fn still_member(state: &AppState, token: &str, org_id: Uuid) -> bool {
    match authenticate(state, token).await {
        Ok(auth) => auth.org_id == org_id,
        Err(ApiError::Unauthorized { .. }) => false,
        Err(err) => {
            tracing::warn!(error = %err, "live socket membership check failed");
            true
        }
    }
}

async fn forward(
    mut socket: WebSocket,
    state: &AppState,
    token: &str,
    caller: Caller,
    mut changes: broadcast::Receiver<Change>,
    mut closing: tokio::sync::watch::Receiver<bool>,
    check_every: Duration,
) {
    if *closing.borrow_and_update() {
        return;
    }
    // An API key has no expiry: its socket lives while the key and its creator's membership do.
    let expires = async {
        match caller.expires_in {
            Some(left) => tokio::time::sleep(left).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expires);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut check = tokio::time::interval(check_every);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.tick().await;
    loop {
        let message = tokio::select! {
            change = changes.recv() => match change {
                Ok(Change::Invoice(n)) if n.org == caller.org_id => LiveMessage::InvoiceChanged {
                    invoice_id: n.invoice, status: n.status, what: n.what, at: n.at,
                },
                Ok(Change::Invoice(_)) => continue,
                Ok(Change::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => LiveMessage::Resync,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // After the auth message clients send nothing but pings, pongs and the close.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() { break }
                continue;
            }
            _ = check.tick() => {
                if still_member(state, token, caller.org_id).await { continue }
                let _ = socket.send(close_frame(ACCESS_ENDED, "no longer a member")).await;
                break;
            }
            () = &mut expires => {
                let _ = socket.send(close_frame(TOKEN_EXPIRED, "token expired")).await;
                break;
            }
            _ = closing.changed() => {
                let _ = socket.send(close_frame(1001, "server shutting down")).await;
                break;
            }
        };
        let Ok(text) = serde_json::to_string(&message) else { continue };
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
}
