//! Reviews on a completed order: the buyer rates the seller's work (it lands under the
//! offer's gig and moves the gig's rating summary), the seller rates the buyer. They are
//! double-blind, as Upwork and Airbnb do it: neither side sees the other's review until
//! both have written theirs or the review window closes. The seller may then answer the
//! buyer's review once. When each of these may happen is the order table's
//! (`lifecycle::ORDER`); this module holds the records, their bounds and their views.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::lifecycle::{Actor, Guard, Refusal};
use crate::order::Order;
use crate::policy::Policy;
use crate::tracked::refusal;
use crate::validate;

/// `POST /v1/orders/{order_id}/review`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    /// Whole stars, 1–5 (read wider, so 0 and 6 get their own problem).
    pub rating: i64,
    pub text: String,
}

/// `POST /v1/orders/{order_id}/review/reply`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReply {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewReply {
    pub text: String,
    pub replied_at: DateTime<Utc>,
}

/// One party's review of the other on one order; each party writes at most one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub order_id: String,
    /// The gig the order's offer named: the buyer's review lands under it.
    pub gig_id: String,
    /// Who wrote it: the buyer (about the seller's work) or the seller (about the buyer).
    pub by: Actor,
    pub author_id: String,
    /// Who it is about.
    pub subject_id: String,
    pub rating: u8,
    pub text: String,
    pub written_at: DateTime<Utc>,
    /// When it became visible to the other party (and, the buyer's, under the gig).
    pub published_at: Option<DateTime<Utc>>,
    /// The seller's answer to the buyer's review.
    pub reply: Option<ReviewReply>,
}

impl NewReview {
    /// Its bounds: a rating of 1–5 and text within the policy's limit.
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        if !(1..=5).contains(&self.rating) {
            return Err(ApiError::invalid(Code::RatingOutOfRange, "rating", "rating is a whole number from 1 to 5"));
        }
        validate::text("text", &self.text, policy.review_text_max)
    }

    /// The review `by` writes on `order` at `now` (checked, and allowed by the table).
    pub fn into_review(self, order: &Order, by: Actor, now: DateTime<Utc>) -> Review {
        let (author_id, subject_id) = match by {
            Actor::Seller => (&order.seller_id, &order.buyer_id),
            _ => (&order.buyer_id, &order.seller_id),
        };
        Review {
            order_id: order.order_id.clone(),
            gig_id: order.gig_id.clone(),
            by,
            author_id: author_id.clone(),
            subject_id: subject_id.clone(),
            rating: u8::try_from(self.rating).unwrap_or(0),
            text: self.text,
            written_at: now,
            published_at: None,
            reply: None,
        }
    }
}

impl NewReply {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::text("text", &self.text, policy.review_text_max)
    }
}

/// The problem for a refused review or reply, said precisely: a second review, a review
/// after the window, a reply before the buyer's review is visible, a second reply.
pub fn refused(order: &Order, actor: Actor, why: Refusal) -> ApiError {
    let facts = order.review_facts();
    match why {
        Refusal::Guard(Guard::FirstReview | Guard::LastReview) if facts.written_by(actor) => {
            ApiError::conflict(Code::ReviewExists, "you have already reviewed this order")
        }
        Refusal::Guard(Guard::FirstReview | Guard::LastReview) => {
            ApiError::conflict(Code::ReviewWindowClosed, "the review window of this order has closed")
        }
        Refusal::Guard(Guard::ReplyOpen) if facts.replied => {
            ApiError::conflict(Code::ReplyExists, "you have already answered this review")
        }
        Refusal::Guard(Guard::ReplyOpen) => {
            ApiError::conflict(Code::ReviewNotVisible, "the buyer's review is not visible yet")
        }
        other => refusal::<Order>(other),
    }
}

impl Review {
    /// Published now (the other party wrote theirs, or the window closed).
    pub fn publish(&mut self, now: DateTime<Utc>) {
        self.published_at.get_or_insert(now);
    }

    pub fn view(&self) -> Value {
        json!({
            "order_id": self.order_id,
            "gig_id": self.gig_id,
            "by": self.by,
            "author_id": self.author_id,
            "subject_id": self.subject_id,
            "rating": self.rating,
            "text": self.text,
            "written_at": self.written_at,
            "published_at": self.published_at,
            "reply": self.reply,
        })
    }

    /// What `viewer` sees of it: its author and support all of it; the other party all
    /// of it once published, and before that only that it exists.
    pub fn view_for(&self, viewer: Actor) -> Value {
        if self.published_at.is_some() || viewer == self.by || viewer == Actor::Support {
            self.view()
        } else {
            json!({ "by": self.by, "written": true, "visible": false })
        }
    }
}

/// The reviews of one order as `viewer` sees them.
pub fn order_view(order: &Order, reviews: &[Review], viewer: Actor) -> Value {
    let of = |by: Actor| reviews.iter().find(|r| r.by == by).map(|r| r.view_for(viewer));
    json!({
        "order_id": order.order_id,
        "buyer_review": of(Actor::Buyer),
        "seller_review": of(Actor::Seller),
        "window_ends_at": order.review_window_ends_at(),
        "published_at": order.reviews.published_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::OrderState;
    use crate::order::example;

    fn completed(now: DateTime<Utc>) -> Order {
        let mut order = example(now);
        order.state = OrderState::Completed;
        order.completed_at = Some(now);
        order
    }

    #[test]
    fn a_rating_is_one_to_five_and_text_is_bounded() {
        let policy = Policy::default();
        let review = |rating, text: &str| NewReview { rating, text: text.into() }.check(&policy);
        for rating in [0, 6, -1, 255] {
            assert!(
                matches!(review(rating, "خوب"), Err(ApiError::Invalid { code: Code::RatingOutOfRange, .. })),
                "{rating}"
            );
        }
        for rating in 1..=5 {
            assert!(review(rating, "کار عالی\u{200c}ای بود ۵ ستاره 🌟").is_ok());
        }
        assert!(matches!(review(5, " "), Err(ApiError::Invalid { code: Code::Empty, .. })));
        assert!(matches!(review(5, &"ب".repeat(2_001)), Err(ApiError::Invalid { code: Code::TooLong, .. })));
        assert!(review(5, &"ب".repeat(2_000)).is_ok());
    }

    #[test]
    fn a_review_names_its_author_subject_and_the_order_s_gig() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = completed(now);
        let by_seller =
            NewReview { rating: 4, text: "خریدار خوش\u{200c}قول".into() }.into_review(&order, Actor::Seller, now);
        assert_eq!((by_seller.author_id.as_str(), by_seller.subject_id.as_str()), ("seller", "buyer"));
        assert_eq!((by_seller.gig_id.as_str(), by_seller.rating), ("01GIG", 4));
        let by_buyer = NewReview { rating: 5, text: "t".into() }.into_review(&order, Actor::Buyer, now);
        assert_eq!((by_buyer.author_id.as_str(), by_buyer.subject_id.as_str()), ("buyer", "seller"));
    }

    #[test]
    fn the_other_side_sees_only_that_a_hidden_review_exists() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let order = completed(now);
        let mut review = NewReview { rating: 2, text: "دیر شد".into() }.into_review(&order, Actor::Buyer, now);
        let hidden = review.view_for(Actor::Seller);
        assert_eq!(hidden, json!({ "by": "buyer", "written": true, "visible": false }));
        assert!(hidden.get("rating").is_none() && hidden.get("text").is_none());
        assert_eq!(review.view_for(Actor::Buyer)["rating"], 2, "its author sees it");
        assert_eq!(review.view_for(Actor::Support)["rating"], 2, "support sees it");
        review.publish(now);
        assert_eq!(review.view_for(Actor::Seller)["text"], "دیر شد");
        let later = now + chrono::Duration::days(1);
        review.publish(later);
        assert_eq!(review.published_at, Some(now), "published once");
    }

    #[test]
    fn refusals_say_what_went_wrong() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut order = completed(now);
        let code = |e: ApiError| match e {
            ApiError::Conflict { code, .. } => code.as_str(),
            other => panic!("{other:?}"),
        };
        assert_eq!(code(refused(&order, Actor::Buyer, Refusal::Guard(Guard::FirstReview))), "review_window_closed");
        assert_eq!(code(refused(&order, Actor::Seller, Refusal::Guard(Guard::ReplyOpen))), "review_not_visible");
        order.reviewed(Actor::Buyer, now);
        assert_eq!(code(refused(&order, Actor::Buyer, Refusal::Guard(Guard::LastReview))), "review_exists");
        order.reviewed(Actor::Seller, now);
        assert_eq!(order.reviews.published_at, Some(now), "the second review publishes both");
        order.reviews.replied_at = Some(now);
        assert_eq!(code(refused(&order, Actor::Seller, Refusal::Guard(Guard::ReplyOpen))), "reply_exists");
        assert_eq!(code(refused(&order, Actor::Buyer, Refusal::NotNow)), "invalid_state");
    }
}
