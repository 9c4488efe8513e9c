//! Messages between two users: the "prior communication" a custom project needs, and,
//! naming an order between them, part of that order's record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::order::Order;
use crate::policy::Policy;
use crate::upload::Upload;
use crate::validate;

/// `POST /v1/conversations/{user_id}/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub text: Option<String>,
    #[serde(default)]
    pub attachment_upload_ids: Vec<String>,
    pub voice_note_upload_id: Option<String>,
    /// The order between the two it is about, if any.
    #[serde(default)]
    pub order_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub message_id: String,
    pub sender_id: String,
    pub recipient_id: String,
    pub text: Option<String>,
    pub attachment_upload_ids: Vec<String>,
    pub voice_note_upload_id: Option<String>,
    /// The order it is about: it is listed on the order (and read into its record).
    #[serde(default)]
    pub order_id: Option<String>,
    pub sent_at: DateTime<Utc>,
}

/// Whether `order` (loaded by the id a message names) is between `a` and `b`, either way
/// round; an order of others looks exactly like a missing one.
pub fn check_order(order: Option<&Order>, a: &str, b: &str) -> Result<(), ApiError> {
    let between = order.is_some_and(|o| (o.buyer_id == a && o.seller_id == b) || (o.buyer_id == b && o.seller_id == a));
    if !between {
        return Err(ApiError::invalid(Code::OrderNotBetweenYou, "order_id", "no such order between you"));
    }
    Ok(())
}

impl NewMessage {
    pub fn into_message(
        self,
        policy: &Policy,
        sender: &str,
        recipient: &str,
        now: DateTime<Utc>,
    ) -> Result<Message, ApiError> {
        if sender == recipient {
            return Err(ApiError::invalid(Code::SelfConversation, "user_id", "you cannot message yourself"));
        }
        if let Some(text) = &self.text {
            validate::text("text", text, policy.message_text_max)?;
        }
        if self.text.is_none() && self.attachment_upload_ids.is_empty() && self.voice_note_upload_id.is_none() {
            return Err(ApiError::invalid(
                Code::EmptyMessage,
                "text",
                "a message needs text, attachments or a voice note",
            ));
        }
        if self.attachment_upload_ids.len() > policy.message_attachments_max {
            return Err(ApiError::invalid(
                Code::TooManyAttachments,
                "attachment_upload_ids",
                format!("at most {} attachments", policy.message_attachments_max),
            ));
        }
        for (i, id) in self.attachment_upload_ids.iter().enumerate() {
            validate::ulid(&format!("attachment_upload_ids[{i}]"), id)?;
            if self.attachment_upload_ids[..i].contains(id) {
                return Err(ApiError::invalid(
                    Code::DuplicateAttachment,
                    format!("attachment_upload_ids[{i}]"),
                    "an upload is attached twice",
                ));
            }
        }
        if let Some(id) = &self.voice_note_upload_id {
            validate::ulid("voice_note_upload_id", id)?;
        }
        if let Some(id) = &self.order_id {
            validate::ulid("order_id", id)?;
        }
        Ok(Message {
            message_id: ulid::Ulid::from_datetime(now.into()).to_string(),
            sender_id: sender.to_owned(),
            recipient_id: recipient.to_owned(),
            text: self.text,
            attachment_upload_ids: self.attachment_upload_ids,
            voice_note_upload_id: self.voice_note_upload_id,
            order_id: self.order_id,
            sent_at: now,
        })
    }
}

impl Message {
    /// Every upload the message references, voice note last.
    pub fn upload_ids(&self) -> impl Iterator<Item = &String> {
        self.attachment_upload_ids.iter().chain(self.voice_note_upload_id.iter())
    }

    /// The message with the current status of each of its files.
    pub fn view(&self, uploads: &[Upload]) -> Value {
        let file = |id: &String| {
            uploads.iter().find(|u| &u.upload_id == id).map(|u| {
                json!({
                    "upload_id": u.upload_id,
                    "file_name": u.file_name,
                    "content_type": u.content_type,
                    "size_bytes": u.size_bytes,
                    "status": u.status,
                })
            })
        };
        json!({
            "message_id": self.message_id,
            "sender_id": self.sender_id,
            "recipient_id": self.recipient_id,
            "text": self.text,
            "attachments": self.attachment_upload_ids.iter().filter_map(file).collect::<Vec<_>>(),
            "voice_note": self.voice_note_upload_id.as_ref().and_then(file),
            "order_id": self.order_id,
            "sent_at": self.sent_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(text: Option<&str>, attachments: Vec<String>) -> NewMessage {
        NewMessage {
            text: text.map(Into::into),
            attachment_upload_ids: attachments,
            voice_note_upload_id: None,
            order_id: None,
        }
    }

    #[test]
    fn rules() {
        let p = Policy::default();
        let now = Utc::now();
        let code = |r: Result<Message, ApiError>| match r {
            Err(ApiError::Invalid { code, .. }) | Err(ApiError::Malformed { code, .. }) => code.as_str(),
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(code(new(Some("hi"), vec![]).into_message(&p, "a", "a", now)), "self_conversation");
        assert_eq!(code(new(None, vec![]).into_message(&p, "a", "b", now)), "empty_message");
        assert_eq!(code(new(Some("hi"), vec!["x".into()]).into_message(&p, "a", "b", now)), "invalid_id");
        let id = ulid::Ulid::new().to_string();
        assert_eq!(code(new(Some("hi"), vec![id.clone(), id]).into_message(&p, "a", "b", now)), "duplicate_attachment");
        let many = (0..11).map(|_| ulid::Ulid::new().to_string()).collect();
        assert_eq!(code(new(Some("hi"), many).into_message(&p, "a", "b", now)), "too_many_attachments");
        assert!(new(Some("سلام"), vec![]).into_message(&p, "a", "b", now).is_ok());
    }

    #[test]
    fn an_order_message_names_an_order_between_the_two() {
        let order = crate::order::example(Utc::now());
        assert!(check_order(Some(&order), "buyer", "seller").is_ok());
        assert!(check_order(Some(&order), "seller", "buyer").is_ok(), "either way round");
        let code = |r: Result<(), ApiError>| r.unwrap_err().code();
        assert_eq!(code(check_order(Some(&order), "buyer", "stranger")), "order_not_between_you");
        assert_eq!(code(check_order(None, "buyer", "seller")), "order_not_between_you");
        let mut malformed = new(Some("hi"), vec![]);
        malformed.order_id = Some("not-an-id".into());
        assert_eq!(code(malformed.into_message(&Policy::default(), "a", "b", Utc::now()).map(|_| ())), "invalid_id");
    }
}
