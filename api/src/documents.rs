//! Handing out stored invoice PDFs, to signed-in users and to clients on the hosted page. On
//! S3 the caller is redirected to a short-lived presigned URL (the bytes never pass through the
//! API); on the local backend the file is streamed.

use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use invoice_storage::{Download, ObjectKey};
use tokio_util::io::ReaderStream;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a presigned PDF link works.
const LINK_TTL: Duration = Duration::from_secs(300);

/// Hands out a stored invoice PDF (also to clients on the hosted page).
pub(crate) async fn serve_pdf(
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
