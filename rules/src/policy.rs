//! Policy defaults from product.md, in one place. Later issues copy the policy in force
//! onto each order so a change never alters a running one.

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// A seller's level, set by support; it bounds what their offers may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    New,
    LevelOne,
    LevelTwo,
    TopRated,
}

/// Upload limits per kind: what may be declared and what the checker enforces.
#[derive(Debug, Clone)]
pub struct FilePolicy {
    pub attachment_max_bytes: u64,
    pub voice_note_max_bytes: u64,
    pub voice_note_max_seconds: u32,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub files: FilePolicy,
    /// Text limits, in characters.
    pub gig_title_max: usize,
    pub message_text_max: usize,
    pub file_name_max: usize,
    pub message_attachments_max: usize,
    pub offer_title_max: usize,
    pub offer_description_max: usize,
    /// A special condition, a deliverable, a request's description, a decline reason.
    pub offer_condition_max: usize,
    /// All the text of one offer's terms together (title, description, stage titles,
    /// deliverables, conditions), in characters: the bound that keeps the offer, the
    /// order that copies it, and the accept's idempotency record (which holds both) within
    /// DynamoDB's 400 KB item limit (`offer::tests::the_largest_terms_fit_an_item_twice`).
    pub offer_text_total_max: usize,
    /// A review's text, and the seller's reply to one.
    pub review_text_max: usize,
    /// The marketplace's currency (ISO 4217); level limits are in it.
    pub currency: String,
    /// How long a seller has to answer a request.
    pub request_answer_window: chrono::Duration,
    /// How long an accepted offer's order waits for payment.
    pub payment_window: chrono::Duration,
    /// The platform's fee on each release, fixed onto an order when it is placed.
    pub fee: crate::ledger::FeePolicy,
    /// How long released money is pending before it is available to withdraw.
    pub clearance: chrono::Duration,
    /// How long a delivered stage waits for the buyer before it is accepted for them.
    pub auto_complete: chrono::Duration,
    /// How long the other party has to answer a cancellation request.
    pub cancellation_response: chrono::Duration,
    /// How long after the due time a late order's buyer waits before cancelling alone.
    pub late_cancellation_grace: chrono::Duration,
    /// How long after completion the parties may review.
    pub review_window: chrono::Duration,
    /// How long the other party has to answer a dispute.
    pub dispute_response: chrono::Duration,
    /// How long after completion an order may still be disputed.
    pub dispute_after_completion: chrono::Duration,
    /// How long the other party has to answer a proposed amendment.
    pub amendment_response: chrono::Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            files: FilePolicy {
                attachment_max_bytes: 50 * 1024 * 1024,
                voice_note_max_bytes: 10 * 1024 * 1024,
                voice_note_max_seconds: 5 * 60,
            },
            gig_title_max: 120,
            message_text_max: 5_000,
            file_name_max: 255,
            message_attachments_max: 10,
            offer_title_max: 120,
            offer_description_max: 10_000,
            offer_condition_max: 1_000,
            offer_text_total_max: 40_000,
            review_text_max: 2_000,
            currency: "IRR".into(),
            request_answer_window: chrono::Duration::days(14),
            payment_window: chrono::Duration::minutes(60),
            fee: crate::ledger::FeePolicy::default(),
            clearance: chrono::Duration::days(14),
            auto_complete: chrono::Duration::days(3),
            cancellation_response: chrono::Duration::hours(48),
            late_cancellation_grace: chrono::Duration::hours(24),
            review_window: chrono::Duration::days(14),
            dispute_response: chrono::Duration::hours(72),
            dispute_after_completion: chrono::Duration::days(3),
            amendment_response: chrono::Duration::hours(48),
        }
    }
}

/// What a seller's level allows an offer to ask: a price cap (none for top rated) and a
/// delivery-time cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelLimits {
    pub max_price: Option<Money>,
    pub max_delivery_days: u32,
}

impl Policy {
    pub fn level_limits(&self, level: Level) -> LevelLimits {
        let irr = |amount| Some(Money { amount, currency: "IRR".into() });
        match level {
            Level::New => LevelLimits { max_price: irr(50_000_000), max_delivery_days: 30 },
            Level::LevelOne => LevelLimits { max_price: irr(200_000_000), max_delivery_days: 60 },
            Level::LevelTwo => LevelLimits { max_price: irr(1_000_000_000), max_delivery_days: 90 },
            Level::TopRated => LevelLimits { max_price: None, max_delivery_days: 180 },
        }
    }
}
