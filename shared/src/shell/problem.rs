//! The one mapping from [`ApiError`] to an HTTP status and an `application/problem+json`
//! body (RFC 9457). Internal causes never leave: they are logged where the answer is made.

use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};

use peyman_rules::error::ApiError;

/// An `application/problem+json` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// The status `error` is answered with (its kind decides; `ApiError::status`).
pub fn status(error: &ApiError) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The problem document sent to the client.
pub fn problem(error: &ApiError) -> Problem {
    let status = status(error);
    let (field, detail) = match error {
        ApiError::Malformed { field, detail, .. } | ApiError::Invalid { field, detail, .. } => {
            (field.clone(), Some(detail.clone()))
        }
        ApiError::Forbidden { detail, .. } | ApiError::Conflict { detail, .. } => (None, Some(detail.clone())),
        ApiError::NotFound { .. } => (None, Some(error.to_string())),
        ApiError::Unavailable { what, .. } => (None, Some(format!("the {what} is unavailable; retry later"))),
        ApiError::Unauthenticated | ApiError::Internal(_) => (None, None),
    };
    let code = error.code();
    Problem {
        r#type: format!("urn:peyman:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        code: code.to_owned(),
        field,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peyman_rules::error::Code;

    #[test]
    fn internal_cause_never_reaches_the_client() {
        let problem = problem(&ApiError::internal("table peyman-prod throttled at key USER#1"));
        let json = serde_json::to_string(&problem).unwrap();
        assert_eq!(problem.status, 500);
        assert!(!json.contains("peyman-prod"), "{json}");
    }

    #[test]
    fn an_unavailable_dependency_is_503_without_its_cause() {
        let problem = problem(&ApiError::Unavailable { what: "payment provider", cause: "sk_live_123 refused".into() });
        assert_eq!((problem.status, problem.code.as_str()), (503, "dependency_unavailable"));
        assert!(!serde_json::to_string(&problem).unwrap().contains("sk_live"));
    }

    #[test]
    fn invalid_names_the_field() {
        let problem = problem(&ApiError::invalid(Code::TooLong, "title", "at most 120 characters"));
        assert_eq!((problem.status, problem.code.as_str()), (422, "too_long"));
        assert_eq!(problem.field.as_deref(), Some("title"));
    }
}
