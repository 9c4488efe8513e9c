//! `Idempotency-Key` for mutating routes, with the semantics of AWS Lambda Powertools:
//! the first request claims the key (in progress), its response is stored (completed)
//! and replayed to retries until the record expires; the same key with another payload
//! is refused; a retry during the first request gets 409; an answer a retry may change
//! (a 5xx, a lost race) releases the key so a retry runs again. Keys are scoped to the
//! caller. Stored answers keep no client secret: a replayed accept answers without it,
//! and the buyer reads it from the order.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::adapters::dynamo::idempotency::IdempotencyClaim;
use crate::flows::App;
use crate::shell::answer::Outcome;
use peyman_rules::error::{ApiError, Code};

pub const HEADER: &str = "idempotency-key";

/// A key is 1–255 visible ASCII characters (a UUID or ULID is typical).
pub fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::malformed(
            Code::InvalidIdempotencyKey,
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
            Ok(Outcome { status, content_type, body, replayed: true, transient: false })
        }
        IdempotencyClaim::InProgress => {
            Err(ApiError::conflict(Code::IdempotencyInProgress, "a request with this Idempotency-Key is still running"))
        }
        IdempotencyClaim::PayloadMismatch => Err(ApiError::invalid(
            Code::IdempotencyKeyReused,
            "Idempotency-Key",
            "this Idempotency-Key was used with another request",
        )),
        IdempotencyClaim::Acquired => {
            let outcome = work().await;
            if outcome.transient {
                app.store.release_idempotency(user_id, key).await?;
                return Ok(outcome);
            }
            // The work is done: failing to remember its answer must not turn it into a
            // 500 whose retry would do it again. The answer goes to the caller whatever
            // happens here; a retry meanwhile meets the in-progress record (409) until it
            // lapses.
            let stored = at_rest(&outcome.body);
            let response = (outcome.status, outcome.content_type.as_str(), stored.as_str());
            for attempt in 1..=COMPLETE_ATTEMPTS {
                match app.store.complete_idempotency(user_id, key, payload_hash, response, expires_at).await {
                    Ok(()) => break,
                    Err(e) => tracing::error!(error = %e, attempt, "an idempotency record was not completed"),
                }
            }
            Ok(outcome)
        }
    }
}

/// How often completing a record is tried before the answer is sent without it.
const COMPLETE_ATTEMPTS: u32 = 3;

/// The body as an idempotency record keeps it: every `client_secret` (a payment
/// provider's secret for the buyer's browser) is blanked, so none rests in the table.
pub fn at_rest(body: &str) -> String {
    fn blank(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, field) in map.iter_mut() {
                    if name == "client_secret" {
                        *field = serde_json::Value::Null;
                    } else {
                        blank(field);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(blank),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut value) if body.contains("client_secret") => {
            blank(&mut value);
            value.to_string()
        }
        _ => body.to_owned(),
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
    fn no_client_secret_rests_in_a_record() {
        let body = r#"{"order":{"payment":{"client_secret":"pi_1_secret_x","status":"open"}},"items":[{"client_secret":"s"}]}"#;
        let stored = at_rest(body);
        assert!(!stored.contains("secret_x") && !stored.contains("\"s\""), "{stored}");
        let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(stored["order"]["payment"]["status"], "open");
        assert!(stored["order"]["payment"]["client_secret"].is_null());
        assert_eq!(at_rest(r#"{"a":1}"#), r#"{"a":1}"#);
    }

    #[test]
    fn only_answers_a_retry_could_change_are_transient() {
        assert!(ApiError::conflict(Code::ConcurrentChange, "x").is_transient());
        assert!(ApiError::conflict(Code::IdempotencyInProgress, "x").is_transient());
        assert!(ApiError::internal("x").is_transient());
        assert!(ApiError::Unavailable { what: "storage", cause: "x".into() }.is_transient());
        assert!(!ApiError::conflict(Code::OfferChanged, "x").is_transient());
        assert!(!ApiError::conflict(Code::Expired, "x").is_transient());
        assert!(!ApiError::NotFound { what: "order" }.is_transient());
    }

    #[test]
    fn keys() {
        assert!(check_key("0f8fad5b-d9cb-469f-a165-70867728950e").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
    }
}
