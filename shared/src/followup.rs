//! Follow-ups: what a transition asks to happen after it commits (tell a party). They are
//! written to the outbox in the transition's own transaction, sent to SQS right after,
//! and re-sent by the sweeper if the process died in between; the consumer applies each
//! at most once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// A ULID: orders the outbox by time and makes the consumer's work idempotent.
    pub followup_id: String,
    pub kind: FollowUpKind,
    pub recipient_id: String,
    /// `offer/{id}` and the like.
    pub subject: String,
    pub event: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    /// Tell `recipient_id` that `event` happened to `subject`.
    Notify,
}

impl FollowUp {
    pub fn notify(recipient_id: &str, subject: &str, event: &str, now: DateTime<Utc>) -> FollowUp {
        FollowUp {
            followup_id: ulid::Ulid::from_datetime(now.into()).to_string(),
            kind: FollowUpKind::Notify,
            recipient_id: recipient_id.to_owned(),
            subject: subject.to_owned(),
            event: event.to_owned(),
            created_at: now,
        }
    }
}
