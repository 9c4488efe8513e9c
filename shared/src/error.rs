//! The one error type of the API and its one mapping to `application/problem+json`
//! (RFC 9457). Codes are stable and machine-readable; internal causes are logged once
//! and never sent to clients.

use lambda_http::http::StatusCode;
use serde::Serialize;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or a header or path value cannot be parsed at all (400).
    #[error("{detail}")]
    Malformed { code: &'static str, field: Option<String>, detail: String },
    /// Well-formed input that breaks a rule (422).
    #[error("{detail}")]
    Invalid { code: &'static str, field: Option<String>, detail: String },
    /// No verified identity (401).
    #[error("authentication required")]
    Unauthenticated,
    /// The caller is known and may see the object but may not do this (403).
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// Absent, or not the caller's to see: the two look the same (404).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The object's state does not allow this now (409).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// A dependency (the payment provider) cannot be reached or failed; retrying later
    /// may succeed (503). The cause is logged, not returned.
    #[error("{what} unavailable: {cause}")]
    Unavailable { what: &'static str, cause: String },
    /// A fault of ours or of a dependency (500); the cause is logged, not returned.
    #[error("internal error: {0}")]
    Internal(BoxError),
}

impl ApiError {
    pub fn invalid(code: &'static str, field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Invalid { code, field: Some(field.into()), detail: detail.into() }
    }

    pub fn malformed(code: &'static str, field: Option<&str>, detail: impl Into<String>) -> Self {
        ApiError::Malformed { code, field: field.map(str::to_owned), detail: detail.into() }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict { code, detail: detail.into() }
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Forbidden { code, detail: detail.into() }
    }

    pub fn internal(cause: impl Into<BoxError>) -> Self {
        ApiError::Internal(cause.into())
    }

    /// Whether a retry of the same request may be answered otherwise: our failures and
    /// the dependencies' (5xx), and the 409s that only say "not now" (a race lost to a
    /// concurrent writer, a retry while the first is still running). An idempotency
    /// record never keeps such an answer as the key's final one.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Internal(_) | ApiError::Unavailable { .. } => true,
            ApiError::Conflict { code, .. } => matches!(*code, "concurrent_change" | "idempotency_in_progress"),
            _ => false,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document sent to the client.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (code, field, detail) = match self {
            ApiError::Malformed { code, field, detail } | ApiError::Invalid { code, field, detail } => {
                (*code, field.clone(), Some(detail.clone()))
            }
            ApiError::Unauthenticated => ("unauthenticated", None, None),
            ApiError::Forbidden { code, detail } | ApiError::Conflict { code, detail } => {
                (*code, None, Some(detail.clone()))
            }
            ApiError::NotFound { .. } => ("not_found", None, Some(self.to_string())),
            ApiError::Unavailable { what, .. } => {
                ("dependency_unavailable", None, Some(format!("the {what} is unavailable; retry later")))
            }
            ApiError::Internal(_) => ("internal", None, None),
        };
        Problem {
            r#type: format!("urn:peyman:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            field,
            detail,
        }
    }
}

/// An `application/problem+json` body.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Problem {
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_cause_never_reaches_the_client() {
        let problem = ApiError::internal("table peyman-prod throttled at key USER#1").problem();
        let json = serde_json::to_string(&problem).unwrap();
        assert_eq!(problem.status, 500);
        assert!(!json.contains("peyman-prod"), "{json}");
    }

    #[test]
    fn an_unavailable_dependency_is_503_without_its_cause() {
        let problem = ApiError::Unavailable { what: "payment provider", cause: "sk_live_123 refused".into() }.problem();
        assert_eq!((problem.status, problem.code.as_str()), (503, "dependency_unavailable"));
        assert!(!serde_json::to_string(&problem).unwrap().contains("sk_live"));
    }

    #[test]
    fn invalid_names_the_field() {
        let problem = ApiError::invalid("too_long", "title", "at most 120 characters").problem();
        assert_eq!((problem.status, problem.code.as_str()), (422, "too_long"));
        assert_eq!(problem.field.as_deref(), Some("title"));
    }
}
