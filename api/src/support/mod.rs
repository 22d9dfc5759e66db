//! Platform support: people who help organisations with their invoices without being their
//! members. A support person has an ordinary user account and a grant that only the API
//! binary's `support` command gives and takes (`invoice-api support grant|revoke|list`), never
//! an HTTP endpoint. With it they read any organisation's invoice, its timeline and its run (with
//! a link to the run in the Temporal UI), and decode the run's sealed payloads through the codec
//! server ([`codec`]). They change nothing, and every access is written to
//! `support_audit_log`, with who, what and which invoice.

pub mod codec;
mod command;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub use command::{SupportCommand, run_command};

use crate::auth::jwt::JwtError;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Query};
use crate::invoices::{InvoiceView, TimelineEntry, fetch_invoice, load_timeline};
use crate::runs::InvoiceRun;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(support_me))
        .routes(routes!(support_find_invoices))
        .routes(routes!(support_get_invoice))
        .routes(routes!(support_get_timeline))
        .routes(routes!(codec::start_codec_session))
}

/// A support person, authenticated and granted: only the support routes take one.
#[derive(Debug, Clone)]
pub struct Support {
    pub user_id: Uuid,
    pub email: String,
}

impl FromRequestParts<AppState> for Support {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "Send `Authorization: Bearer <token>`.")
            })?;
        from_access_token(state, token).await
    }
}

/// The support person behind a user's access token (API keys never are one).
pub(crate) async fn from_access_token(state: &AppState, token: &str) -> ApiResult<Support> {
    let claims = state.jwt.verify(token).map_err(|err| match err {
        JwtError::Expired => {
            ApiError::unauthorized("token_expired", "The access token has expired; refresh it.")
        }
        _ => ApiError::unauthorized("invalid_token", "The access token is not valid."),
    })?;
    let row = sqlx::query!(
        r#"SELECT u.email, u.session_epoch, (s.revoked_at IS NULL) AS "granted!"
           FROM users u JOIN support_staff s ON s.user_id = u.id
           WHERE u.id = $1"#,
        claims.sub
    )
    .fetch_optional(&state.db)
    .await?;
    match row {
        Some(row) if row.session_epoch != claims.epoch => Err(ApiError::unauthorized(
            "session_ended",
            "This session was ended (logged out everywhere); log in again.",
        )),
        Some(row) if row.granted => Ok(Support { user_id: claims.sub, email: row.email }),
        _ => Err(not_support()),
    }
}

pub(crate) fn not_support() -> ApiError {
    ApiError::forbidden(
        "Only platform support staff can do this; organisation roles do not reach here.",
    )
}

/// What a support access touched.
#[derive(Debug, Default)]
pub(crate) struct Access {
    pub org_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub detail: serde_json::Value,
}

/// Records one access. The request fails when it cannot be recorded: nothing is read unseen.
pub(crate) async fn audit(
    db: &sqlx::PgPool,
    who: &Support,
    action: &str,
    access: Access,
) -> ApiResult<()> {
    let detail = if access.detail.is_null() { serde_json::json!({}) } else { access.detail };
    sqlx::query!(
        "INSERT INTO support_audit_log (user_id, email, action, org_id, invoice_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        who.user_id,
        who.email,
        action,
        access.org_id,
        access.invoice_id,
        detail
    )
    .execute(db)
    .await?;
    Ok(())
}

/// An invoice as support sees it: its organisation, the invoice, and its run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportInvoice {
    pub org_id: Uuid,
    pub org_name: String,
    pub invoice: InvoiceView,
    pub run: SupportRun,
}

/// The invoice's workflow, and where to read it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportRun {
    pub workflow_id: String,
    /// The run's page in the Temporal UI (`TEMPORAL_UI_URL`), decoded there through the codec
    /// server for support staff.
    pub temporal_ui_url: Option<String>,
    /// Set when the latest run closed without completing (failed, timed out, terminated).
    pub failure: Option<String>,
}

/// The caller, when they are support staff (the web app shows its support page then).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportMe {
    pub email: String,
    /// Where runs are read (`TEMPORAL_UI_URL`), if configured.
    pub temporal_ui_url: Option<String>,
}

/// Whether the caller is platform support staff: 200 if so, 403 otherwise. Reads nothing of
/// any organisation, so it is not recorded.
#[utoipa::path(get, path = "/api/support/me", tag = "support", security(("bearer" = [])),
    responses((status = 200, body = SupportMe), (status = 403, body = ErrorBody)))]
pub(crate) async fn support_me(State(state): State<AppState>, who: Support) -> Json<SupportMe> {
    Json(SupportMe { email: who.email, temporal_ui_url: state.support.temporal_ui_url.clone() })
}

/// A match of [`support_find_invoices`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportInvoiceMatch {
    pub id: Uuid,
    pub org_id: Uuid,
    pub org_name: String,
    pub number: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FindParams {
    /// An invoice number as the client quotes it (e.g. `INV-2026-00042`), in any organisation.
    pub number: String,
}

/// Finds invoices by number across organisations (support staff only; recorded).
#[utoipa::path(get, path = "/api/support/invoices", tag = "support", params(FindParams),
    security(("bearer" = [])),
    responses((status = 200, body = [SupportInvoiceMatch]), (status = 403, body = ErrorBody)))]
pub(crate) async fn support_find_invoices(
    State(state): State<AppState>,
    who: Support,
    Query(params): Query<FindParams>,
) -> ApiResult<Json<Vec<SupportInvoiceMatch>>> {
    let number = params.number.trim();
    if number.is_empty() || number.len() > 64 {
        return Err(ApiError::field(
            "number",
            "invalid",
            "Give an invoice number (1-64 characters).",
        ));
    }
    let found = sqlx::query_as!(
        SupportInvoiceMatch,
        "SELECT i.id, i.org_id, o.name AS org_name, i.number, i.status, i.created_at
         FROM invoices i JOIN organizations o ON o.id = i.org_id
         WHERE i.number = $1 ORDER BY i.created_at DESC LIMIT 20",
        number
    )
    .fetch_all(&state.db)
    .await?;
    let detail = serde_json::json!({ "number": number, "found": found.len() });
    audit(&state.db, &who, "invoice.find", Access { detail, ..Access::default() }).await?;
    Ok(Json(found))
}

/// Any organisation's invoice, with its run and a link to it in the Temporal UI (support staff
/// only; recorded).
#[utoipa::path(get, path = "/api/support/invoices/{id}", tag = "support", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SupportInvoice), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn support_get_invoice(
    State(state): State<AppState>,
    who: Support,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SupportInvoice>> {
    let org = org_of(&state, id).await?;
    audit(
        &state.db,
        &who,
        "invoice.read",
        Access { org_id: Some(org.0), invoice_id: Some(id), ..Access::default() },
    )
    .await?;
    let invoice =
        fetch_invoice(&state, org.0, id).await?.ok_or_else(|| ApiError::not_found("Invoice"))?;
    let run = InvoiceRun::new(org.0, id);
    let failure =
        state.runs.run_failure(run).await.ok().flatten().map(|f| format!("{f:?}").to_lowercase());
    let workflow_id = run.workflow_id();
    let temporal_ui_url = state.support.run_url(&workflow_id);
    Ok(Json(SupportInvoice {
        org_id: org.0,
        org_name: org.1,
        invoice,
        run: SupportRun { workflow_id, temporal_ui_url, failure },
    }))
}

/// Any organisation's invoice timeline (support staff only; recorded).
#[utoipa::path(get, path = "/api/support/invoices/{id}/timeline", tag = "support", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = [TimelineEntry]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn support_get_timeline(
    State(state): State<AppState>,
    who: Support,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<TimelineEntry>>> {
    let org = org_of(&state, id).await?;
    audit(
        &state.db,
        &who,
        "invoice.timeline",
        Access { org_id: Some(org.0), invoice_id: Some(id), ..Access::default() },
    )
    .await?;
    let events =
        load_timeline(&state, org.0, id).await?.ok_or_else(|| ApiError::not_found("Invoice"))?;
    Ok(Json(events))
}

/// The organisation (id, name) an invoice belongs to.
async fn org_of(state: &AppState, invoice_id: Uuid) -> ApiResult<(Uuid, String)> {
    let row = sqlx::query!(
        "SELECT o.id, o.name FROM invoices i JOIN organizations o ON o.id = i.org_id WHERE i.id = $1",
        invoice_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::not_found("Invoice"))?;
    Ok((row.id, row.name))
}

/// What support needs beyond the rest of the state: the payload keys (the codec server), the
/// namespace, and the Temporal UI.
#[derive(Debug, Clone, Default)]
pub struct SupportSettings {
    pub payload_keys: Option<invoice_service::codec::PayloadKeys>,
    pub namespace: String,
    /// `TEMPORAL_UI_URL`, without a trailing slash.
    pub temporal_ui_url: Option<String>,
}

impl SupportSettings {
    pub fn new(
        payload_keys: Option<invoice_service::codec::PayloadKeys>,
        namespace: &str,
        temporal_ui_url: Option<&str>,
    ) -> Self {
        let temporal_ui_url = temporal_ui_url
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty());
        Self { payload_keys, namespace: namespace.to_owned(), temporal_ui_url }
    }

    /// The run's page in the Temporal UI.
    pub fn run_url(&self, workflow_id: &str) -> Option<String> {
        let base = self.temporal_ui_url.as_deref()?;
        Some(format!(
            "{base}/namespaces/{}/workflows/{}",
            percent_encode(&self.namespace),
            percent_encode(workflow_id)
        ))
    }

    /// The Temporal UI's origin (`scheme://host[:port]`), the one browser origin the codec
    /// server answers.
    pub fn ui_origin(&self) -> Option<String> {
        let url = self.temporal_ui_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        (!authority.is_empty())
            .then(|| format!("{}://{}", scheme.to_lowercase(), authority.to_lowercase()))
    }
}

/// A path segment as JavaScript's `encodeURIComponent` writes it (how the Temporal UI links runs).
fn percent_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::SupportSettings;

    #[test]
    fn runs_link_to_the_temporal_ui_and_its_origin_is_the_one_allowed() {
        let s = SupportSettings::new(None, "default", Some("http://127.0.0.1:8233/"));
        assert_eq!(
            s.run_url("invoice:a:b").unwrap(),
            "http://127.0.0.1:8233/namespaces/default/workflows/invoice%3Aa%3Ab"
        );
        assert_eq!(s.ui_origin().unwrap(), "http://127.0.0.1:8233");
        let cloud = SupportSettings::new(None, "acme.a1b2c", Some("https://cloud.temporal.io"));
        assert_eq!(cloud.ui_origin().unwrap(), "https://cloud.temporal.io");
        let none = SupportSettings::new(None, "default", Some(" "));
        assert_eq!((none.run_url("x"), none.ui_origin()), (None, None));
    }
}
