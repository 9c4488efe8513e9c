//! A buyer's custom-project request to a seller: what they want, the price and time they
//! have in mind, files and a voice note. Sending one counts as prior communication.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::gig::{Gig, GigStatus};
use crate::lifecycle::{self, Actor, REQUEST, REQUEST_START, RequestState};
use crate::money::Money;
use crate::policy::Policy;
use crate::seller::SellerSettings;
use crate::timeline;
use crate::tracked::Tracked;
use crate::upload::{self, Upload};
use crate::validate;

/// `POST /v1/custom-project-requests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub seller_id: String,
    pub gig_id: Option<String>,
    pub description: String,
    pub desired_price: Option<Money>,
    pub desired_delivery_days: Option<u32>,
    #[serde(default)]
    pub attachment_upload_ids: Vec<String>,
    pub voice_note_upload_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub request_id: String,
    pub buyer_id: String,
    pub seller_id: String,
    pub gig_id: Option<String>,
    pub description: String,
    pub desired_price: Option<Money>,
    pub desired_delivery_days: Option<u32>,
    pub attachment_upload_ids: Vec<String>,
    pub voice_note_upload_id: Option<String>,
    pub state: RequestState,
    pub decline_reason: Option<String>,
    /// The offer that answered it.
    pub offer_id: Option<String>,
    /// The end of the seller's answer window.
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub head_hash: String,
}

/// `POST …/decline`: a reason is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

impl Reason {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::text("reason", &self.reason, policy.offer_condition_max)
    }
}

impl NewRequest {
    /// Checks the request's own fields; the seller's switch, the gig and the files need
    /// lookups and are checked by the handler.
    pub fn check(&self, policy: &Policy, buyer_id: &str) -> Result<(), ApiError> {
        validate::user_id("seller_id", &self.seller_id)?;
        if self.seller_id == buyer_id {
            return Err(ApiError::invalid(
                Code::SelfRequest,
                "seller_id",
                "you cannot ask yourself for a custom project",
            ));
        }
        if let Some(gig) = &self.gig_id {
            validate::ulid("gig_id", gig)?;
        }
        validate::text("description", &self.description, policy.message_text_max)?;
        if let Some(price) = &self.desired_price {
            if price.amount <= 0 {
                return Err(ApiError::invalid(Code::InvalidPrice, "desired_price.amount", "a positive whole amount"));
            }
            if price.currency != policy.currency {
                return Err(ApiError::invalid(
                    Code::UnsupportedCurrency,
                    "desired_price.currency",
                    format!("prices are in {}", policy.currency),
                ));
            }
        }
        if self.desired_delivery_days == Some(0) {
            return Err(ApiError::invalid(Code::InvalidDeliveryDays, "desired_delivery_days", "at least one day"));
        }
        if self.attachment_upload_ids.len() > policy.message_attachments_max {
            return Err(ApiError::invalid(
                Code::TooManyAttachments,
                "attachment_upload_ids",
                format!("at most {}", policy.message_attachments_max),
            ));
        }
        for (i, id) in self.attachment_upload_ids.iter().enumerate() {
            validate::ulid(&format!("attachment_upload_ids[{i}]"), id)?;
        }
        if let Some(id) = &self.voice_note_upload_id {
            validate::ulid("voice_note_upload_id", id)?;
        }
        Ok(())
    }
}

impl NewRequest {
    /// The ids of the files it names.
    pub fn upload_ids(&self) -> Vec<&str> {
        self.attachment_upload_ids.iter().chain(self.voice_note_upload_id.iter()).map(String::as_str).collect()
    }

    /// The request, once the rules that need lookups hold (after [`NewRequest::check`]):
    /// the seller takes custom projects, a named gig is theirs and active, and every file
    /// is the buyer's own, ready upload.
    #[allow(clippy::too_many_arguments)]
    pub fn into_request(
        self,
        policy: &Policy,
        buyer_id: &str,
        settings: &SellerSettings,
        gig: Option<&Gig>,
        uploads: &[Upload],
        request_id: String,
        now: DateTime<Utc>,
    ) -> Result<Request, ApiError> {
        if !settings.custom_projects_enabled {
            return Err(ApiError::invalid(
                Code::CustomProjectsDisabled,
                "seller_id",
                "this seller does not take custom projects",
            ));
        }
        if self.gig_id.is_some() {
            let gig = gig
                .filter(|g| g.seller_id == self.seller_id)
                .ok_or_else(|| ApiError::invalid(Code::GigNotFound, "gig_id", "the seller has no such gig"))?;
            if gig.status != GigStatus::Active {
                return Err(ApiError::invalid(Code::GigNotActive, "gig_id", "this gig is paused"));
            }
        }
        upload::check_references(
            uploads,
            buyer_id,
            &self.attachment_upload_ids,
            self.voice_note_upload_id.as_ref(),
            true,
        )?;
        Ok(Request {
            request_id,
            buyer_id: buyer_id.to_owned(),
            seller_id: self.seller_id,
            gig_id: self.gig_id,
            description: self.description,
            desired_price: self.desired_price,
            desired_delivery_days: self.desired_delivery_days,
            attachment_upload_ids: self.attachment_upload_ids,
            voice_note_upload_id: self.voice_note_upload_id,
            state: REQUEST_START.state,
            decline_reason: None,
            offer_id: None,
            expires_at: now + policy.request_answer_window,
            created_at: now,
            updated_at: now,
            version: 0,
            head_hash: timeline::GENESIS.into(),
        })
    }
}

impl Request {
    pub fn upload_ids(&self) -> impl Iterator<Item = &String> {
        self.attachment_upload_ids.iter().chain(self.voice_note_upload_id.iter())
    }

    pub fn view(&self, viewer: Option<Actor>, now: DateTime<Utc>) -> Value {
        let allowed = viewer.map(|a| lifecycle::allowed(REQUEST, self.state, a, &self.facts(now))).unwrap_or_default();
        json!({
            "request_id": self.request_id,
            "buyer_id": self.buyer_id,
            "seller_id": self.seller_id,
            "gig_id": self.gig_id,
            "description": self.description,
            "desired_price": self.desired_price,
            "desired_delivery_days": self.desired_delivery_days,
            "attachment_upload_ids": self.attachment_upload_ids,
            "voice_note_upload_id": self.voice_note_upload_id,
            "state": self.state,
            "decline_reason": self.decline_reason,
            "offer_id": self.offer_id,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "allowed_actions": allowed,
        })
    }
}

crate::tracked::tracked!(Request, crate::lifecycle::RequestState, "REQUEST", "request", request_id, {
    fn deadline(&self) -> Option<DateTime<Utc>> {
        Some(self.expires_at)
    }
    fn timer_at(&self, timer: crate::lifecycle::Timer) -> Option<DateTime<Utc>> {
        crate::tracked::expiry_only(self, timer)
    }
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gig::GigStatus;

    fn new(seller: &str) -> NewRequest {
        NewRequest {
            seller_id: seller.into(),
            gig_id: None,
            description: "یک لوگو می‌خواهم 🎨".into(),
            desired_price: Some(Money { amount: 5_000_000, currency: "IRR".into() }),
            desired_delivery_days: Some(3),
            attachment_upload_ids: vec![],
            voice_note_upload_id: None,
        }
    }

    fn refusal(r: Result<impl std::fmt::Debug, ApiError>) -> (&'static str, String) {
        match r {
            Err(ApiError::Invalid { code, field, .. }) | Err(ApiError::Malformed { code, field, .. }) => {
                (code.as_str(), field.unwrap_or_default())
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// The request's own fields, each rule with its code and field (the one catalogue; the
    /// end-to-end test keeps the lookups and what the HTTP parser decides).
    #[test]
    fn a_requests_own_fields_each_have_their_rule() {
        let p = Policy::default();
        let check = |f: &dyn Fn(&mut NewRequest)| {
            let mut r = new("seller-1");
            f(&mut r);
            refusal(r.check(&p, "buyer-1"))
        };
        let is = |code: &'static str, field: &str| (code, field.to_owned());
        assert!(new("seller-1").check(&p, "buyer-1").is_ok());
        assert_eq!(check(&|r| r.seller_id = "buyer-1".into()), is("self_request", "seller_id"));
        assert_eq!(check(&|r| r.seller_id = "a b".into()), is("invalid_id", "seller_id"));
        assert_eq!(check(&|r| r.gig_id = Some("gig".into())), is("invalid_id", "gig_id"));
        assert_eq!(check(&|r| r.description = " ".into()), is("empty", "description"));
        let price = |amount, currency: &str| Some(Money { amount, currency: currency.into() });
        assert_eq!(check(&|r| r.desired_price = price(0, "IRR")), is("invalid_price", "desired_price.amount"));
        assert_eq!(check(&|r| r.desired_price = price(5, "USD")), is("unsupported_currency", "desired_price.currency"));
        assert_eq!(check(&|r| r.desired_delivery_days = Some(0)), is("invalid_delivery_days", "desired_delivery_days"));
        let many = vec![ulid::Ulid::new().to_string(); p.message_attachments_max + 1];
        assert_eq!(
            check(&|r| r.attachment_upload_ids = many.clone()),
            is("too_many_attachments", "attachment_upload_ids")
        );
        assert_eq!(check(&|r| r.voice_note_upload_id = Some("v".into())), is("invalid_id", "voice_note_upload_id"));
    }

    #[test]
    fn a_request_needs_the_sellers_switch_on_and_an_active_gig_of_theirs() {
        let p = Policy::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut on = SellerSettings::defaults("seller-1");
        on.custom_projects_enabled = true;
        let gig = |seller: &str, status| Gig {
            gig_id: "01G".into(),
            seller_id: seller.into(),
            title: "لوگو".into(),
            status,
            rating_count: 0,
            rating_sum: 0,
            rating_stars: [0; 5],
            created_at: now,
            updated_at: now,
        };
        let place = |settings: &SellerSettings, gig: Option<&Gig>| {
            let mut r = new("seller-1");
            r.gig_id = Some("01G".into());
            r.into_request(&p, "buyer-1", settings, gig, &[], "01R".into(), now)
        };
        let off = SellerSettings::defaults("seller-1");
        assert_eq!(refusal(place(&off, None)), ("custom_projects_disabled", "seller_id".into()));
        assert_eq!(refusal(place(&on, None)), ("gig_not_found", "gig_id".into()));
        assert_eq!(refusal(place(&on, Some(&gig("seller-2", GigStatus::Active)))), ("gig_not_found", "gig_id".into()));
        assert_eq!(refusal(place(&on, Some(&gig("seller-1", GigStatus::Paused)))), ("gig_not_active", "gig_id".into()));
        let placed = place(&on, Some(&gig("seller-1", GigStatus::Active))).expect("a request");
        assert_eq!((placed.state, placed.expires_at), (RequestState::Pending, now + p.request_answer_window));
        assert_eq!(placed.description, "یک لوگو می‌خواهم 🎨", "kept byte for byte");
    }
}
