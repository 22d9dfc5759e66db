//! `GET /api/invoices/{id}/pdf`: the rendered invoice. On S3 the client is redirected to a
//! short-lived presigned URL (the bytes never pass through the API); on the local backend the
//! file is streamed.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use invoice_storage::{Download, ObjectKey};
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;

/// How long a presigned PDF link works.
const LINK_TTL: Duration = Duration::from_secs(300);

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
    serve(&state, key, row.number.as_deref()).await
}

/// Hands out a stored invoice PDF (also to clients on the hosted page).
pub(crate) async fn serve(
    state: &AppState,
    key: String,
    number: Option<&str>,
) -> ApiResult<Response> {
    let key = ObjectKey::parse(key).map_err(anyhow::Error::from)?;
    let filename = format!("{}.pdf", number.unwrap_or("invoice"));
    match state.store.download(&key, LINK_TTL).await.map_err(anyhow::Error::from)? {
        Download::Presigned(link) => Ok(Redirect::temporary(&link.url).into_response()),
        Download::File(path) => {
            let file = tokio::fs::File::open(&path).await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    ApiError::conflict("pdf_missing", "The PDF is not in this API's object store.")
                } else {
                    ApiError::Internal(e.into())
                }
            })?;
            let length = file.metadata().await.map_err(anyhow::Error::from)?.len();
            Ok((
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/pdf".to_owned()),
                    (header::CONTENT_LENGTH, length.to_string()),
                    (header::CONTENT_DISPOSITION, format!("inline; filename=\"{filename}\"")),
                    (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
                ],
                Body::from_stream(ReaderStream::new(file)),
            )
                .into_response())
        }
    }
}
