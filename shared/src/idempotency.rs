//! `Idempotency-Key` for mutating routes, with the semantics of AWS Lambda Powertools:
//! the first request claims the key (in progress), its response is stored (completed)
//! and replayed to retries until the record expires; the same key with another payload
//! is refused; a retry during the first request gets 409; a failure of ours (5xx)
//! releases the key so a retry runs again. Keys are scoped to the caller.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::App;
use crate::error::ApiError;
use crate::http::Outcome;
use crate::store::IdempotencyClaim;

pub const HEADER: &str = "idempotency-key";

/// A key is 1–255 visible ASCII characters (a UUID or ULID is typical).
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::malformed(
            "invalid_idempotency_key",
            Some("Idempotency-Key"),
            "1–255 visible ASCII characters",
        ));
    }
    Ok(())
}

/// What makes two requests "the same": the route, its path and its body bytes.
pub fn payload_hash(route: &str, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [route.as_bytes(), path.as_bytes(), body] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hex::encode(hash.finalize())
}

/// Runs `work` at most once for (`user_id`, `key`, payload).
pub async fn run(
    app: &App,
    user_id: &str,
    key: &str,
    payload_hash: &str,
    now: DateTime<Utc>,
    work: impl AsyncFnOnce() -> Outcome,
) -> Result<Outcome, ApiError> {
    let config = &app.config;
    let expires_at = now + config.idempotency_ttl;
    let in_progress_until = now + config.idempotency_in_progress;
    match app.store.claim_idempotency(user_id, key, payload_hash, now, in_progress_until, expires_at).await? {
        IdempotencyClaim::Completed { status, content_type, body } => {
            Ok(Outcome { status, content_type, body, replayed: true })
        }
        IdempotencyClaim::InProgress => {
            Err(ApiError::conflict("idempotency_in_progress", "a request with this Idempotency-Key is still running"))
        }
        IdempotencyClaim::PayloadMismatch => Err(ApiError::invalid(
            "idempotency_key_reused",
            "Idempotency-Key",
            "this Idempotency-Key was used with another request",
        )),
        IdempotencyClaim::Acquired => {
            let outcome = work().await;
            if outcome.status >= 500 {
                app.store.release_idempotency(user_id, key).await?;
            } else {
                let response = (outcome.status, outcome.content_type.as_str(), outcome.body.as_str());
                app.store.complete_idempotency(user_id, key, payload_hash, response, expires_at).await?;
            }
            Ok(outcome)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_its_parts() {
        assert_ne!(payload_hash("a", "bc", b""), payload_hash("ab", "c", b""));
        assert_eq!(payload_hash("r", "/p", b"{}"), payload_hash("r", "/p", b"{}"));
        assert_ne!(payload_hash("r", "/p", b"{}"), payload_hash("r", "/p", b"{ }"));
    }

    #[test]
    fn keys() {
        assert!(check_key("0f8fad5b-d9cb-469f-a165-70867728950e").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
    }
}
