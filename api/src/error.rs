//! `ApiError`: the one error type of the HTTP surface, and the JSON shape every error takes:
//! `{"error":{"code":"snake_case_code","message":"human sentence","details":...}}`.
//!
//! Extractor rejections (malformed JSON, wrong types, bad paths and queries, oversized bodies),
//! unknown routes and wrong methods all come out in this shape too. A 5xx never shows its cause
//! to the client; the cause is logged once, here.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

/// What went wrong: a stable machine-readable `code`, a sentence for humans, and optional
/// details (for validation errors, the failing fields).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    #[schema(example = "validation_failed")]
    pub code: String,
    #[schema(example = "The request has invalid fields.")]
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// One failing field of a validation error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// JSON path of the field, e.g. `email` or `address.country`.
    pub field: String,
    /// Stable code, e.g. `required`, `invalid_email`, `unknown_currency`, `too_long`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("authentication required")]
    Unauthorized { code: &'static str, message: String },
    #[error("forbidden")]
    Forbidden { message: String },
    #[error("not found")]
    NotFound { message: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: Option<Value> },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable { code: &'static str, message: String, details: Option<Value> },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden { message: message.into() }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound { message: format!("{what} not found.") }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into(), details: None }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable { code, message: message.into() }
    }

    /// A validation error on a single field.
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }])
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> ErrorObject {
        let (code, message, details): (&str, String, Option<Value>) = match self {
            Self::BadRequest { code, message }
            | Self::Unauthorized { code, message }
            | Self::Unprocessable { code, message } => (code, message.clone(), None),
            Self::Conflict { code, message, details } => (code, message.clone(), details.clone()),
            Self::Forbidden { message } => ("forbidden", message.clone(), None),
            Self::NotFound { message } => ("not_found", message.clone(), None),
            Self::MethodNotAllowed => {
                ("method_not_allowed", "This method is not allowed on this path.".into(), None)
            }
            Self::PayloadTooLarge => {
                ("payload_too_large", "The request body is larger than allowed.".into(), None)
            }
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.".into(),
                None,
            ),
            Self::Validation(fields) => (
                "validation_failed",
                "The request has invalid fields.".into(),
                Some(json!({ "fields": fields })),
            ),
            Self::TooManyRequests { retry_after_secs } => (
                "too_many_requests",
                format!("Too many attempts. Try again in {retry_after_secs} seconds."),
                Some(json!({ "retryAfterSeconds": retry_after_secs })),
            ),
            Self::Unavailable { code, message, details } => {
                (code, message.clone(), details.clone())
            }
            Self::Internal(_) => {
                ("internal_error", "Something went wrong on our side.".into(), None)
            }
        };
        ErrorObject { code: code.to_owned(), message, details }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let status = self.status();
        let mut response = (status, Json(ErrorBody { error: self.body() })).into_response();
        if let Self::TooManyRequests { retry_after_secs } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // Text Postgres cannot store (a NUL character, in text or in JSON): the client's input,
        // wherever a handler did not check it field by field.
        if let sqlx::Error::Database(db) = &err
            && db.code().is_some_and(|c| c == "22021" || c == "22P05")
        {
            return Self::unprocessable(
                "invalid_text",
                "Text must not contain NUL characters (U+0000).",
            );
        }
        // Every connection busy for the pool's whole wait: an overload that passes.
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return Self::Unavailable {
                code: "database_busy",
                message: "The database is busy; try again shortly.".into(),
                details: None,
            };
        }
        Self::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(err) => Self::bad_request(
                "malformed_json",
                format!("The body is not valid JSON: {}", err.body_text()),
            ),
            JsonRejection::JsonDataError(err) => Self::unprocessable(
                "invalid_body",
                format!("The body does not have the expected shape: {}", err.body_text()),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other => Self::bad_request("invalid_body", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // A malformed id cannot name anything that exists: answer as for an unknown id.
        tracing::debug!(%rejection, "path rejected");
        Self::NotFound { message: "Not found.".into() }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("invalid_query", rejection.body_text())
    }
}

/// Collects field errors so that a client learns about every bad field at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        });
    }

    /// Checks a required text field's trimmed length.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        let len = value.trim().chars().count();
        if len == 0 {
            self.add(field, "required", "Must not be empty.");
        } else if len > max {
            self.add(field, "too_long", format!("Must be at most {max} characters."));
        } else {
            self.no_nul(field, value);
        }
    }

    /// Postgres cannot store U+0000 in text: refuse it up front, before it reaches a workflow.
    pub fn no_nul(&mut self, field: &str, value: &str) {
        if value.contains('\0') {
            self.add(field, "invalid_character", "Must not contain NUL characters (U+0000).");
        }
    }

    pub fn into_result(self) -> ApiResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.0)) }
    }
}
