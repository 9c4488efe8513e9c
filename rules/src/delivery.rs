//! Deliveries and revision requests: the seller delivers the order's current stage (a
//! message and files of their own), the buyer asks for a revision of it (a reason and
//! optional files). Stages are delivered and accepted in order; each delivery is a record
//! of its own under its order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::order::Order;
use crate::policy::Policy;
use crate::upload::{self, Upload};
use crate::validate;

/// `POST /v1/orders/{order_id}/deliveries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDelivery {
    /// The stage it delivers, from 1; the current one when left out.
    #[serde(default)]
    pub stage: Option<u32>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub attachment_upload_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivery_id: String,
    pub order_id: String,
    pub seller_id: String,
    /// From 1.
    pub stage: u32,
    pub message: Option<String>,
    pub attachment_upload_ids: Vec<String>,
    pub delivered_at: DateTime<Utc>,
}

/// `POST /v1/orders/{order_id}/revision-requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionRequest {
    pub reason: String,
    #[serde(default)]
    pub attachment_upload_ids: Vec<String>,
}

impl NewDelivery {
    /// The shape, before anything is loaded.
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        if let Some(message) = &self.message {
            validate::text("message", message, policy.message_text_max)?;
        }
        if self.message.is_none() && self.attachment_upload_ids.is_empty() {
            return Err(ApiError::invalid(Code::EmptyDelivery, "message", "a delivery needs a message or files"));
        }
        upload::check_ids(&self.attachment_upload_ids, policy)
    }

    /// The delivery of `order`'s current stage: the stage named must be it, and every file
    /// the seller's own, checked and `ready`. The order's state is the table's to judge.
    pub fn into_delivery(
        self,
        order: &Order,
        uploads: &[Upload],
        delivery_id: String,
        now: DateTime<Utc>,
    ) -> Result<Delivery, ApiError> {
        let current = order.stage + 1;
        match self.stage {
            Some(stage) if stage == 0 || stage > order.stages() => {
                return Err(ApiError::invalid(
                    Code::StageOutOfRange,
                    "stage",
                    format!("the order has stages 1 to {}", order.stages()),
                ));
            }
            Some(stage) if stage != current => {
                return Err(ApiError::invalid(
                    Code::NotTheCurrentStage,
                    "stage",
                    format!("stages are delivered in order; stage {current} is the current one"),
                ));
            }
            _ => {}
        }
        upload::check_references(uploads, &order.seller_id, &self.attachment_upload_ids, None, true)?;
        Ok(Delivery {
            delivery_id,
            order_id: order.order_id.clone(),
            seller_id: order.seller_id.clone(),
            stage: current,
            message: self.message,
            attachment_upload_ids: self.attachment_upload_ids,
            delivered_at: now,
        })
    }
}

impl RevisionRequest {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::text("reason", &self.reason, policy.offer_condition_max)?;
        upload::check_ids(&self.attachment_upload_ids, policy)
    }

    /// Every file must be the buyer's own, checked and `ready`.
    pub fn check_files(&self, order: &Order, uploads: &[Upload]) -> Result<(), ApiError> {
        upload::check_references(uploads, &order.buyer_id, &self.attachment_upload_ids, None, true)
    }
}

impl Delivery {
    /// The delivery as the parties see it, with each file and, for the ready ones, a
    /// download link (`links`: upload id → URL and expiry).
    pub fn view(&self, uploads: &[Upload], links: &[(String, String, DateTime<Utc>)]) -> Value {
        let files: Vec<Value> = self
            .attachment_upload_ids
            .iter()
            .filter_map(|id| uploads.iter().find(|u| &u.upload_id == id))
            .map(|u| {
                let link = links.iter().find(|(id, _, _)| id == &u.upload_id);
                json!({
                    "upload_id": u.upload_id,
                    "file_name": u.file_name,
                    "content_type": u.content_type,
                    "size_bytes": u.size_bytes,
                    "download_url": link.map(|(_, url, _)| url),
                    "download_expires_at": link.map(|(_, _, at)| at),
                })
            })
            .collect();
        json!({
            "delivery_id": self.delivery_id,
            "order_id": self.order_id,
            "stage": self.stage,
            "message": self.message,
            "files": files,
            "delivered_at": self.delivered_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(stage: Option<u32>, message: Option<&str>) -> NewDelivery {
        NewDelivery { stage, message: message.map(Into::into), attachment_upload_ids: vec![] }
    }

    #[test]
    fn a_delivery_has_content_and_names_the_current_stage() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let policy = Policy::default();
        let mut order = crate::order::example(now);
        order.terms.stages = vec![
            order.terms.stages.first().cloned().unwrap_or(crate::offer::Stage {
                title: "یک".into(),
                deliverables: vec!["PNG".into()],
                amount: None,
                days: None,
            });
            2
        ];
        let code = |r: Result<Delivery, ApiError>| r.map(|d| d.stage.to_string()).unwrap_or_else(|e| e.code().into());
        assert_eq!(delivery(None, None).check(&policy).unwrap_err().code(), "empty_delivery");
        let into = |d: NewDelivery, o: &Order| d.into_delivery(o, &[], "01D".into(), now);
        assert_eq!(code(into(delivery(None, Some("طرح اول")), &order)), "1", "the current stage when left out");
        assert_eq!(code(into(delivery(Some(1), Some("x")), &order)), "1");
        assert_eq!(code(into(delivery(Some(2), Some("x")), &order)), "not_the_current_stage");
        assert_eq!(code(into(delivery(Some(3), Some("x")), &order)), "stage_out_of_range");
        assert_eq!(code(into(delivery(Some(0), Some("x")), &order)), "stage_out_of_range");
        order.stage = 1;
        assert_eq!(code(into(delivery(Some(2), Some("x")), &order)), "2");
        let mut twice = delivery(None, Some("x"));
        twice.attachment_upload_ids = vec!["01J00000000000000000000001".into(); 2];
        assert_eq!(twice.check(&policy).unwrap_err().code(), "duplicate_attachment");
    }
}
