//! Offers: a seller places one (every rule of the source page, `rules::placement`),
//! withdraws it before it is decided; the buyer declines it with a reason.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flows::App;
use crate::flows::tracked::act;
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::lifecycle::{Actor, OFFER, OFFER_START, OfferAction};
use peyman_rules::offer::{NewOffer, Offer, OfferSource};
use peyman_rules::order::Order;
use peyman_rules::placement::{self, Loaded, Placed, Source};
use peyman_rules::request::{Reason, Request};
use peyman_rules::tracked::Step;

/// Places the offer `seller` describes in `new`; an answered request moves to `answered`
/// in the same transaction.
pub async fn place(app: &App, seller: &Caller, new: NewOffer, now: DateTime<Utc>) -> Result<Offer, ApiError> {
    let policy = &app.config.policy;
    let seller_id = seller.user_id.as_str();
    let terms = new.terms(policy, now)?;
    let loaded = Loaded {
        settings: app.store.seller_settings(seller_id).await?,
        gig: app.store.gig(&terms.gig_id).await?,
        contact: app.store.contact_between(&new.buyer_id, seller_id).await?,
        source: match &new.source {
            OfferSource::RequestId(id) => Source::Request(app.store.tracked::<Request>(id).await?),
            OfferSource::MessageId(id) => {
                Source::Message(app.store.message_between(seller_id, &new.buyer_id, id).await?)
            }
            OfferSource::OrderId(id) => Source::Order(app.store.tracked::<Order>(id).await?.map(Box::new)),
        },
    };
    let offer_id = ulid::Ulid::new().to_string();
    let Placed { mut offer, answered } = placement::place(seller_id, new, terms, loaded, policy, offer_id, now)?;
    let mut commit = app.store.begin();
    if let Some((mut request, t)) = answered {
        let step = Step::of(t, Actor::Seller, Some(seller_id), json!({ "offer_id": offer.offer_id }));
        commit.record(&mut request, step, now)?;
    }
    let data = json!({ "terms_hash": offer.terms_hash });
    commit.record(&mut offer, Step::start(&OFFER_START, Actor::Seller, Some(seller_id), data), now)?;
    // The only entity here that others may move meanwhile is the answered request.
    app.commit(commit).await.map_err(|e| match e {
        ApiError::Conflict { .. } => ApiError::conflict(Code::RequestNotPending, "the request changed meanwhile"),
        other => other,
    })?;
    Ok(offer)
}

/// The seller withdraws an offer not yet decided.
pub async fn withdraw(app: &App, caller: &Caller, offer_id: &str, now: DateTime<Utc>) -> Result<Offer, ApiError> {
    act::<Offer, _>(app, OFFER, offer_id, OfferAction::Withdraw, caller, now, json!({}), |_| {}).await
}

/// The buyer declines an offer, with a reason.
pub async fn decline(
    app: &App,
    caller: &Caller,
    offer_id: &str,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<Offer, ApiError> {
    reason.check(&app.config.policy)?;
    let data = json!({ "reason": reason.reason });
    act::<Offer, _>(app, OFFER, offer_id, OfferAction::Decline, caller, now, data, |o| {
        o.decline_reason = Some(reason.reason.clone())
    })
    .await
    .map_err(decided_meanwhile)
}

/// A decision on an offer that lost the race to another (accept, decline, withdraw,
/// expiry): the offer was decided meanwhile.
pub fn decided_meanwhile(error: ApiError) -> ApiError {
    match error {
        ApiError::Conflict { code: Code::ConcurrentChange, .. } => {
            ApiError::conflict(Code::OfferChanged, "the offer was decided meanwhile")
        }
        other => other,
    }
}
