//! `/api/ws`: live invoice changes for the web app. Postgres announces every change to an
//! invoice on the `invoice_changes` channel (a trigger, whoever wrote the row); each API replica
//! LISTENs on one connection and fans the changes out to its WebSocket clients, each of whom
//! gets only its own organisation's.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use invoice_domain::InvoiceStatus;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Query;
use crate::state::AppState;

/// The channel the triggers notify on.
const CHANNEL: &str = "invoice_changes";
/// Changes buffered per replica before a slow client is told to resynchronise.
const BUFFER: usize = 1024;
const PING_EVERY: Duration = Duration::from_secs(25);

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
        self.sender
            .get_or_init(|| {
                let (sender, _) = broadcast::channel(BUFFER);
                tokio::spawn(listen(db.clone(), sender.clone()));
                sender
            })
            .subscribe()
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// An access token or API key (browsers cannot set headers on a WebSocket).
    pub token: String,
}

/// Live invoice changes of the caller's organisation (WebSocket).
///
/// Upgrade with `?token=<access token>`. The server sends JSON text messages
/// (`{"type":"invoice_changed","invoiceId","status","what","at"}` or `{"type":"resync"}`) and
/// closes with code 4001 when the access token expires; reconnect with a fresh one and read
/// everything again, since changes may have happened in between.
#[utoipa::path(get, path = "/api/ws", tag = "invoices", params(LiveParams),
    responses((status = 101, description = "Switching to the WebSocket protocol", body = LiveMessage),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn live(
    State(state): State<AppState>,
    Query(params): Query<LiveParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let auth = authenticate(&state, &params.token).await?;
    let upgrade = upgrade.map_err(|_| {
        ApiError::bad_request("websocket_required", "Connect with a WebSocket upgrade request.")
    })?;
    let changes = state.live.subscribe(&state.db);
    let closing = state.live.closing.subscribe();
    let lifetime = Duration::from_secs(state.auth.access_token_ttl_secs);
    Ok(upgrade.on_upgrade(move |socket| forward(socket, auth.org_id, changes, closing, lifetime)))
}

async fn forward(
    mut socket: WebSocket,
    org_id: Uuid,
    mut changes: broadcast::Receiver<Change>,
    mut closing: tokio::sync::watch::Receiver<bool>,
    lifetime: Duration,
) {
    if *closing.borrow_and_update() {
        return;
    }
    let expires = tokio::time::sleep(lifetime);
    tokio::pin!(expires);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let message = tokio::select! {
            change = changes.recv() => match change {
                Ok(Change::Invoice(n)) if n.org == org_id => LiveMessage::InvoiceChanged {
                    invoice_id: n.invoice, status: n.status, what: n.what, at: n.at,
                },
                Ok(Change::Invoice(_)) => continue,
                Ok(Change::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => LiveMessage::Resync,
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                // Clients send nothing but pings, pongs and the close.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() { break }
                continue;
            }
            () = &mut expires => {
                let frame = CloseFrame { code: 4001, reason: Utf8Bytes::from_static("token expired") };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            _ = closing.changed() => {
                let frame = CloseFrame { code: 1001, reason: Utf8Bytes::from_static("server shutting down") };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
        };
        let Ok(text) = serde_json::to_string(&message) else { continue };
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
}
