//! Placing an offer: every rule of the source page, each failing with its own code, in
//! this order: the buyer is not the seller, custom projects are on, the gig is the
//! seller's and active, price and time are within the level, the two have talked before
//! (the buyer reached out), and the source (request, message or order) is theirs. A
//! request answered by the offer moves to `answered` in the offer's own transaction.

use chrono::{DateTime, Utc};

use crate::rules::error::ApiError;
use crate::rules::gig::{Gig, GigStatus};
use crate::rules::lifecycle::{self, Actor, OFFER_START, REQUEST, RequestAction, RequestState, Transition};
use crate::rules::message::Message;
use crate::rules::offer::{NewOffer, Offer, Terms};
use crate::rules::order::Order;
use crate::rules::policy::Policy;
use crate::rules::request::Request;
use crate::rules::seller::SellerSettings;
use crate::rules::timeline;
use crate::rules::tracked::Tracked;

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
    Order(Option<Order>),
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
        return Err(ApiError::invalid("self_offer", "buyer_id", "an offer is for a buyer other than yourself"));
    }
    if !loaded.settings.custom_projects_enabled {
        return Err(ApiError::forbidden(
            "custom_projects_disabled",
            "enable custom projects in your seller settings first",
        ));
    }
    let gig = loaded.gig.ok_or_else(|| ApiError::invalid("gig_not_found", "gig_id", "no such gig"))?;
    if gig.seller_id != seller_id {
        return Err(ApiError::invalid("gig_not_yours", "gig_id", "an offer names one of your own gigs"));
    }
    if gig.status != GigStatus::Active {
        return Err(ApiError::invalid("gig_not_active", "gig_id", "the gig is paused; an offer needs an active gig"));
    }
    terms.check_level(&policy.level_limits(loaded.settings.level))?;
    match loaded.contact {
        Contact::BuyerReachedOut => {}
        Contact::SellerOnly => {
            return Err(ApiError::invalid(
                "buyer_has_not_reached_out",
                "buyer_id",
                "the buyer has not written to you, asked you for a custom project or ordered from you",
            ));
        }
        Contact::None => {
            return Err(ApiError::invalid(
                "no_prior_communication",
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
                    ApiError::invalid("source_not_found", "source.request_id", "no such request to you from this buyer")
                })?;
            let t = lifecycle::step(REQUEST, request.state, RequestAction::Answer, Actor::Seller, &request.facts(now))
                .map_err(|_| {
                    ApiError::conflict(
                        "request_not_pending",
                        "this request was already answered, declined, withdrawn or expired",
                    )
                })?;
            request.offer_id = Some(offer_id.clone());
            Some((request, t))
        }
        Source::Message(message) => {
            let message = message.ok_or_else(|| {
                ApiError::invalid("source_not_found", "source.message_id", "no such message between you")
            })?;
            if message.sender_id != buyer_id {
                return Err(ApiError::invalid(
                    "source_not_from_buyer",
                    "source.message_id",
                    "an offer answers one of the buyer's messages, not one of yours",
                ));
            }
            None
        }
        Source::Order(order) => {
            if !order.is_some_and(|o| o.seller_id == seller_id && o.buyer_id == buyer_id) {
                return Err(ApiError::invalid("source_not_found", "source.order_id", "no such order between you"));
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
        created_at: now,
        updated_at: now,
        version: 0,
        head_hash: timeline::GENESIS.into(),
    };
    Ok(Placed { offer, answered })
}
