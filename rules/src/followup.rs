//! Follow-ups: what a transition asks to happen after it commits (tell a party, cancel a
//! payment at the provider, send a refund to it, build an export). They are written in
//! the transition's own transaction (on its timeline event), and the relay hands them
//! to SQS from the table's stream, at least once; the consumer applies each at most once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// A ULID: orders follow-ups by time and makes the consumer's work idempotent.
    pub followup_id: String,
    pub kind: FollowUpKind,
    /// Who is told (`notify` only; empty otherwise).
    pub recipient_id: String,
    /// What it is about: `offer/{id}` and the like for `notify`, `payment/{intent_id}`
    /// for `cancel_payment`, `refund/{intent_id}/{refund_id}` for `send_refund`,
    /// `export/{export_id}` for `build_export`.
    pub subject: String,
    pub event: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    /// Tell `recipient_id` that `event` happened to `subject`.
    Notify,
    /// Cancel the PaymentIntent of a lapsed order at the provider.
    CancelPayment,
    /// Ask the provider for a requested refund.
    SendRefund,
    /// Build a dispute's export packet (on the exports queue, for its own function).
    BuildExport,
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

    pub fn cancel_payment(intent_id: &str, now: DateTime<Utc>) -> FollowUp {
        FollowUp {
            followup_id: ulid::Ulid::from_datetime(now.into()).to_string(),
            kind: FollowUpKind::CancelPayment,
            recipient_id: String::new(),
            subject: format!("payment/{intent_id}"),
            event: "cancel_payment".into(),
            created_at: now,
        }
    }

    pub fn build_export(export_id: &str, now: DateTime<Utc>) -> FollowUp {
        FollowUp {
            followup_id: ulid::Ulid::from_datetime(now.into()).to_string(),
            kind: FollowUpKind::BuildExport,
            recipient_id: String::new(),
            subject: format!("export/{export_id}"),
            event: "build_export".into(),
            created_at: now,
        }
    }

    pub fn send_refund(intent_id: &str, refund_id: &str, now: DateTime<Utc>) -> FollowUp {
        FollowUp {
            followup_id: ulid::Ulid::from_datetime(now.into()).to_string(),
            kind: FollowUpKind::SendRefund,
            recipient_id: String::new(),
            subject: format!("refund/{intent_id}/{refund_id}"),
            event: "send_refund".into(),
            created_at: now,
        }
    }
}
