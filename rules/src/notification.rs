//! A party's notifications: each follow-up that tells someone something, applied once by
//! the follow-ups consumer, and read (and marked read) by its recipient.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A stored notification: the follow-up that told its recipient, and when they read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The follow-up's id: a ULID, so newest first is by id.
    #[serde(rename = "followup_id")]
    pub notification_id: String,
    pub recipient_id: String,
    /// What it is about (`offer/{id}`, `order/{id}`, …).
    pub subject: String,
    /// The timeline event that happened to it.
    pub event: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    pub fn view(&self) -> Value {
        json!({
            "notification_id": self.notification_id,
            "subject": self.subject,
            "event": self.event,
            "created_at": self.created_at,
            "read_at": self.read_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::FollowUp;

    #[test]
    fn a_notification_is_the_follow_up_that_told_its_recipient() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let told = FollowUp::notify("buyer", "offer/01X", "offer_sent", now);
        let stored: Notification = serde_json::from_value(serde_json::to_value(&told).unwrap()).unwrap();
        assert_eq!(stored.notification_id, told.followup_id);
        assert_eq!((stored.subject.as_str(), stored.event.as_str(), stored.read_at), ("offer/01X", "offer_sent", None));
        assert_eq!(stored.view()["notification_id"], told.followup_id.as_str());
    }
}
