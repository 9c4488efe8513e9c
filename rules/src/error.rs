//! The one error type: what went wrong, in kinds the HTTP shell maps to statuses and
//! `application/problem+json` (`http::problem`). Codes are stable and machine-readable;
//! internal causes are logged once and never sent to clients.

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

    /// The stable, machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed { code, .. }
            | ApiError::Invalid { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Unavailable { .. } => "dependency_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_stable_ones() {
        assert_eq!(ApiError::invalid("too_long", "title", "x").code(), "too_long");
        assert_eq!(ApiError::NotFound { what: "order" }.code(), "not_found");
        assert_eq!(ApiError::Unavailable { what: "storage", cause: "x".into() }.code(), "dependency_unavailable");
        assert_eq!(ApiError::internal("x").code(), "internal");
    }
}
