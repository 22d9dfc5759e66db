//! `GET /api/invoices/{id}/pdf`: the rendered invoice, handed out by `documents::serve_pdf`.

use axum::extract::State;
use axum::response::Response;
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::documents::serve_pdf;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;

/// The invoice PDF: a redirect to a signed URL (S3) or the file itself.
#[utoipa::path(get, path = "/api/invoices/{id}/pdf", tag = "invoices", params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The PDF", content_type = "application/pdf"),
        (status = 307, description = "Redirect to a presigned URL valid for 5 minutes"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not rendered yet")))]
pub(super) async fn download_pdf(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    auth.require(Role::Viewer)?;
    let row = sqlx::query!(
        "SELECT pdf_key, number FROM invoices WHERE org_id = $1 AND id = $2",
        auth.org_id,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(|| ApiError::not_found("Invoice"))?;
    let Some(key) = row.pdf_key else {
        return Err(ApiError::conflict(
            "pdf_not_ready",
            "The PDF is rendered when the invoice is finalized; it is not there yet.",
        ));
    };
    serve_pdf(&state, key, row.number.as_deref()).await
}
