//! "Log out everywhere": ends every session of the caller at once, on every device. Refresh
//! tokens are revoked, and access tokens issued before are refused from the next request on
//! (they would otherwise live out their 15 minutes).

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Auth, Role};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(logout_everywhere))
}

/// End every session of the calling user (all devices, all organisations): refresh tokens are
/// revoked, access tokens stop working. Log in again afterwards.
#[utoipa::path(post, path = "/api/auth/logout-everywhere", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
async fn logout_everywhere(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    let user_id = auth.require_person(Role::Viewer)?;
    let mut tx = state.db.begin().await?;
    end_every_session(&mut tx, user_id).await?;
    tx.commit().await?;
    tracing::info!(user.id = %user_id, "logged out everywhere");
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of `user_id` when `tx` commits: its refresh tokens are revoked, and its
/// session epoch counts up, so every access token issued before is refused. A token issued
/// concurrently read the old epoch, so it is refused too; nothing depends on clocks.
pub(crate) async fn end_every_session(
    tx: &mut sqlx::PgConnection,
    user_id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1", user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
