//! What a request is answered with: a handler's [`Reply`], or the one error type
//! (through [`problem`]), as the [`Outcome`] sent and kept by an idempotency record.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::Value;

use crate::shell::problem;
use peyman_rules::error::ApiError;

/// A successful answer: a status and a JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::OK, body })
    }

    pub fn created(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::CREATED, body })
    }

    /// Taken on, to be done in the background.
    pub fn accepted(body: Value) -> Result<Reply, ApiError> {
        Ok(Reply { status: StatusCode::ACCEPTED, body })
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
            Ok(reply) => Outcome {
                status: reply.status.as_u16(),
                content_type: "application/json".into(),
                body: reply.body.to_string(),
                replayed: false,
                transient: false,
            },
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
