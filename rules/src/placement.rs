//! Placing an offer: every rule of the source page, each failing with its own code, in
//! this order: the buyer is not the seller, custom projects are on, the gig is the
//! seller's and active, price and time are within the level, the two have talked before
//! (the buyer reached out), and the source (request, message or order) is theirs. A
//! request answered by the offer moves to `answered` in the offer's own transaction.

use chrono::{DateTime, Utc};

use crate::error::{ApiError, Code};
use crate::gig::{Gig, GigStatus};
use crate::lifecycle::{self, Actor, OFFER_START, REQUEST, RequestAction, RequestState, Transition};
use crate::message::Message;
use crate::offer::{NewOffer, Offer, Terms};
use crate::order::Order;
use crate::policy::Policy;
use crate::request::Request;
use crate::seller::SellerSettings;
use crate::timeline;
use crate::tracked::Tracked;

/// How far a buyer and a seller have communicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    /// The buyer wrote to the seller or asked for a custom project, or they share an order.
    BuyerReachedOut,
    /// Only the seller wrote: that is not the buyer's interest.
    SellerOnly,
    None,
}

/// The source the new offer names, as loaded (`None`: no such thing).
#[derive(Debug, Clone)]
pub enum Source {
    Request(Option<Request>),
    Message(Option<Message>),
    Order(Option<Box<Order>>),
}

/// What the rules look at, loaded for one new offer.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: SellerSettings,
    pub gig: Option<Gig>,
    pub contact: Contact,
    pub source: Source,
}

/// A placed offer, and the request it answers (moved to `answered`) with its row.
pub struct Placed {
    pub offer: Offer,
    pub answered: Option<(Request, &'static Transition<RequestState, RequestAction>)>,
}

/// The offer `seller_id` places with `new` (its terms already checked by
/// [`NewOffer::terms`]), or the first rule it breaks.
pub fn place(
    seller_id: &str,
    new: NewOffer,
    terms: Terms,
    loaded: Loaded,
    policy: &Policy,
    offer_id: String,
    now: DateTime<Utc>,
) -> Result<Placed, ApiError> {
    if new.buyer_id == seller_id {
        return Err(ApiError::invalid(Code::SelfOffer, "buyer_id", "an offer is for a buyer other than yourself"));
    }
    if !loaded.settings.custom_projects_enabled {
        return Err(ApiError::forbidden(
            Code::CustomProjectsDisabled,
            "enable custom projects in your seller settings first",
        ));
    }
    let gig = loaded.gig.ok_or_else(|| ApiError::invalid(Code::GigNotFound, "gig_id", "no such gig"))?;
    if gig.seller_id != seller_id {
        return Err(ApiError::invalid(Code::GigNotYours, "gig_id", "an offer names one of your own gigs"));
    }
    if gig.status != GigStatus::Active {
        return Err(ApiError::invalid(Code::GigNotActive, "gig_id", "the gig is paused; an offer needs an active gig"));
    }
    terms.check_level(&policy.level_limits(loaded.settings.level))?;
    match loaded.contact {
        Contact::BuyerReachedOut => {}
        Contact::SellerOnly => {
            return Err(ApiError::invalid(
                Code::BuyerHasNotReachedOut,
                "buyer_id",
                "the buyer has not written to you, asked you for a custom project or ordered from you",
            ));
        }
        Contact::None => {
            return Err(ApiError::invalid(
                Code::NoPriorCommunication,
                "buyer_id",
                "an offer needs a message, request or order between you first",
            ));
        }
    }
    let buyer_id = new.buyer_id.as_str();
    let answered = match loaded.source {
        Source::Request(request) => {
            let mut request =
                request.filter(|r| r.seller_id == seller_id && r.buyer_id == buyer_id).ok_or_else(|| {
                    ApiError::invalid(
                        Code::SourceNotFound,
                        "source.request_id",
                        "no such request to you from this buyer",
                    )
                })?;
            let t = lifecycle::step(REQUEST, request.state, RequestAction::Answer, Actor::Seller, &request.facts(now))
                .map_err(|_| {
                    ApiError::conflict(
                        Code::RequestNotPending,
                        "this request was already answered, declined, withdrawn or expired",
                    )
                })?;
            request.offer_id = Some(offer_id.clone());
            Some((request, t))
        }
        Source::Message(message) => {
            let message = message.ok_or_else(|| {
                ApiError::invalid(Code::SourceNotFound, "source.message_id", "no such message between you")
            })?;
            if message.sender_id != buyer_id {
                return Err(ApiError::invalid(
                    Code::SourceNotFromBuyer,
                    "source.message_id",
                    "an offer answers one of the buyer's messages, not one of yours",
                ));
            }
            None
        }
        Source::Order(order) => {
            if !order.is_some_and(|o| o.seller_id == seller_id && o.buyer_id == buyer_id) {
                return Err(ApiError::invalid(Code::SourceNotFound, "source.order_id", "no such order between you"));
            }
            None
        }
    };
    let terms_hash = terms.hash();
    let offer = Offer {
        offer_id,
        seller_id: seller_id.to_owned(),
        buyer_id: new.buyer_id,
        source: new.source,
        terms,
        terms_hash,
        state: OFFER_START.state,
        order_id: None,
        decline_reason: None,
        fee: policy.fee,
        created_at: now,
        updated_at: now,
        version: 0,
        head_hash: timeline::GENESIS.into(),
    };
    Ok(Placed { offer, answered })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Level;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn new_offer(price: i64) -> NewOffer {
        serde_json::from_value(serde_json::json!({
            "buyer_id": "buyer",
            "source": { "message_id": "01J00000000000000000000001" },
            "gig_id": "01J00000000000000000000002",
            "title": "لوگو",
            "description": "سه طرح",
            "price": { "amount": price, "currency": "IRR" },
            "delivery_days": 7,
            "stages": [{ "title": "همه", "deliverables": ["PNG"], "amount": null, "days": null }],
            "revisions_included": 1,
            "expires_at": null
        }))
        .unwrap()
    }

    fn loaded() -> Loaded {
        Loaded {
            settings: SellerSettings { custom_projects_enabled: true, ..SellerSettings::defaults("seller") },
            gig: Some(Gig {
                gig_id: "01J00000000000000000000002".into(),
                seller_id: "seller".into(),
                title: "طراحی".into(),
                status: GigStatus::Active,
                rating_count: 0,
                rating_sum: 0,
                rating_stars: [0; 5],
                created_at: now(),
                updated_at: now(),
            }),
            contact: Contact::BuyerReachedOut,
            source: Source::Message(Some(Message {
                message_id: "01J00000000000000000000001".into(),
                sender_id: "buyer".into(),
                recipient_id: "seller".into(),
                text: Some("سلام".into()),
                attachment_upload_ids: vec![],
                voice_note_upload_id: None,
                order_id: None,
                sent_at: now(),
            })),
        }
    }

    /// The code of the first rule broken, or `placed`.
    fn outcome(seller: &str, new: NewOffer, loaded: Loaded) -> String {
        let policy = Policy::default();
        let terms = new.terms(&policy, now()).unwrap();
        match place(seller, new, terms, loaded, &policy, "01OFFER".into(), now()) {
            Ok(placed) => {
                assert_eq!(placed.offer.created_at, now());
                assert_eq!(placed.offer.terms_hash, placed.offer.terms.hash());
                "placed".into()
            }
            Err(e) => e.code().into(),
        }
    }

    #[test]
    fn each_rule_of_the_source_page_has_its_code_and_its_place_in_the_order() {
        assert_eq!(outcome("seller", new_offer(1_000_000), loaded()), "placed");
        assert_eq!(outcome("buyer", new_offer(1_000_000), loaded()), "self_offer");
        // Everything else wrong at once: the first rule in the order is the one named.
        let mut all_wrong = loaded();
        all_wrong.settings.custom_projects_enabled = false;
        all_wrong.contact = Contact::None;
        all_wrong.gig = None;
        assert_eq!(outcome("seller", new_offer(1_000_000), all_wrong.clone()), "custom_projects_disabled");
        all_wrong.settings.custom_projects_enabled = true;
        assert_eq!(outcome("seller", new_offer(1_000_000), all_wrong.clone()), "gig_not_found");
        let mut theirs = loaded();
        theirs.gig.as_mut().unwrap().seller_id = "other".into();
        theirs.contact = Contact::None;
        assert_eq!(outcome("seller", new_offer(1_000_000), theirs), "gig_not_yours");
        let mut paused = loaded();
        paused.gig.as_mut().unwrap().status = GigStatus::Paused;
        assert_eq!(outcome("seller", new_offer(1_000_000), paused), "gig_not_active");
        // A new seller's cap is 50,000,000; a top rated seller has none.
        let mut cheap_contact = loaded();
        cheap_contact.contact = Contact::None;
        assert_eq!(outcome("seller", new_offer(60_000_000), cheap_contact.clone()), "price_above_level_limit");
        cheap_contact.settings.level = Level::TopRated;
        assert_eq!(outcome("seller", new_offer(60_000_000), cheap_contact), "no_prior_communication");
        let mut seller_only = loaded();
        seller_only.contact = Contact::SellerOnly;
        assert_eq!(outcome("seller", new_offer(1_000_000), seller_only), "buyer_has_not_reached_out");
    }

    #[test]
    fn the_source_must_be_the_buyer_s_and_between_the_two() {
        let mut mine = loaded();
        if let Source::Message(Some(m)) = &mut mine.source {
            m.sender_id = "seller".into();
        }
        assert_eq!(outcome("seller", new_offer(1_000_000), mine), "source_not_from_buyer");
        let mut missing = loaded();
        missing.source = Source::Message(None);
        assert_eq!(outcome("seller", new_offer(1_000_000), missing), "source_not_found");
        let mut no_order = loaded();
        no_order.source = Source::Order(None);
        assert_eq!(outcome("seller", new_offer(1_000_000), no_order), "source_not_found");
    }
}
