//! What a request gets when it cannot be answered with a result: an HTTP status and a JSON body
//! `{"error": message, "field": path}` whose field names the part of the request that is wrong.
//! Knows nothing about routes; the handlers decide which error a situation is.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An answer that is not a result. `retry_after_s` is set on the errors a client should retry.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub field: Option<String>,
    pub message: String,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// A malformed or unacceptable request (400), naming the field.
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            field: Some(field.into()),
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// A request over one of the server's size limits (413), naming the field.
    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            field: Some(field.into()),
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// The server cannot take or finish the work now; the same request may succeed later.
    pub fn retryable(
        status: StatusCode,
        message: impl Into<String>,
        retry_after_s: u64,
    ) -> ApiError {
        ApiError {
            status,
            field: None,
            message: message.into(),
            retry_after_s: Some(retry_after_s),
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            field: Some("authorization".into()),
            message: "missing or wrong bearer token (send `Authorization: Bearer TOKEN`)".into(),
            retry_after_s: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            field: None,
            message: message.into(),
            retry_after_s: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.message });
        if let Some(f) = &self.field {
            body["field"] = f.clone().into();
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// Parses a JSON body, naming the path of the first wrong field (`items[3].completion`).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." || path.is_empty() {
            let what = if inner.is_data() {
                "invalid request"
            } else {
                "malformed JSON"
            };
            return ApiError::bad("body", format!("{what}: {inner}"));
        }
        ApiError::bad(path, format!("invalid request: {inner}"))
    })
}
