//! What a request is answered with: a handler's [`Reply`], or the one error type
//! (through [`problem`]), as the [`Outcome`] sent and kept by an idempotency record.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::Value;

use crate::shell::problem;
use peyman_rules::error::ApiError;

/// A successful answer: a status and a JSON body, or a file (a CSV for the bank).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// A body that is not JSON: its content type and text, sent instead of `body`.
    pub file: Option<(&'static str, String)>,
}

impl Reply {
    pub fn ok(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::OK, body, file: None })
    }

    pub fn created(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::CREATED, body, file: None })
    }

    /// Taken on, to be done in the background.
    pub fn accepted(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::ACCEPTED, body, file: None })
    }

    /// A file of `content_type`, in full.
    pub fn file(content_type: &'static str, text: String) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::OK, body: Value::Null, file: Some((content_type, text)) })
    }
}

/// The response as sent, and as an idempotency record keeps it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub replayed: bool,
    /// A retry may be answered otherwise ([`ApiError::is_transient`]): not kept as the
    /// final answer of an idempotency key.
    pub transient: bool,
}

impl From<Result<Reply, ApiError>> for Outcome {
    fn from(result: Result<Reply, ApiError>) -> Self {
        match result {
            Ok(reply) => {
                let (content_type, body) = match reply.file {
                    Some((content_type, text)) => (content_type.to_owned(), text),
                    None => ("application/json".to_owned(), reply.body.to_string()),
                };
                Outcome { status: reply.status.as_u16(), content_type, body, replayed: false, transient: false }
            }
            Err(error) => {
                match &error {
                    ApiError::Internal(cause) => tracing::error!(error = %cause, "request failed"),
                    ApiError::Unavailable { .. } => tracing::error!(%error, "request failed"),
                    _ => {}
                }
                Outcome {
                    status: problem::status(&error).as_u16(),
                    content_type: "application/problem+json".into(),
                    body: serde_json::to_string(&problem::problem(&error)).unwrap_or_default(),
                    replayed: false,
                    transient: error.is_transient(),
                }
            }
        }
    }
}

impl Outcome {
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::builder().status(self.status).header("content-type", self.content_type);
        if self.replayed {
            response = response.header("idempotent-replayed", "true");
        }
        response.body(Body::Text(self.body)).unwrap_or_default()
    }
}
