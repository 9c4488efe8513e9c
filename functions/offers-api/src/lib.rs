//! Offers (custom projects): a seller creates one from a request, a message or an
//! earlier order with the buyer, under every rule of the source page; parties read
//! them; the seller withdraws one before it is accepted.

use lambda_http::{Body, Error, Request, Response};
use peyman::error::ApiError;
use peyman::gig::GigStatus;
use peyman::http::{ApiRequest, Reply, serve, unknown_route};
use peyman::lifecycle::{self, Actor, OFFER, OFFER_START, OfferAction, REQUEST, RequestAction};
use peyman::offer::{NewOffer, Offer, OfferSource};
use peyman::order::Order;
use peyman::request::Request as CustomRequest;
use peyman::store::Contact;
use peyman::tracked::{self, Step, Tracked, act, record};
use peyman::{App, timeline};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, request, route).await)
}

async fn route(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let me = &req.caller;
    match req.route.as_str() {
        "POST /v1/offers" => create(app, req).await,
        "GET /v1/offers" => tracked::list(app, req, Offer::view).await,
        "GET /v1/offers/{offer_id}" => tracked::with_history(app, req, &req.path_id("offer_id")?, Offer::view).await,
        "POST /v1/offers/{offer_id}/withdraw" => {
            let id = req.path_id("offer_id")?;
            req.no_body()?;
            let offer = act::<Offer, _>(app, OFFER, &id, OfferAction::Withdraw, req, json!({}), |_| {}).await?;
            Reply::ok(offer.view(offer.role_of(me), req.now))
        }
        _ => unknown_route(req),
    }
}

/// Creates an offer. Each rule of the source page fails with its own code, in this order:
/// the buyer is not the seller, custom projects are on, the gig is the seller's and
/// active, price and time are within the level, the two have talked before, and the
/// source (request, message or order) is theirs.
async fn create(app: &App, req: &ApiRequest) -> Result<Reply, ApiError> {
    let seller = &req.caller.user_id;
    let policy = &app.config.policy;
    let new: NewOffer = req.json()?;
    let terms = new.terms(policy, req.now)?;
    if &new.buyer_id == seller {
        return Err(ApiError::invalid("self_offer", "buyer_id", "an offer is for a buyer other than yourself"));
    }
    let settings = app.store.seller_settings(seller).await?;
    if !settings.custom_projects_enabled {
        return Err(ApiError::forbidden(
            "custom_projects_disabled",
            "enable custom projects in your seller settings first",
        ));
    }
    let gig = app
        .store
        .gig(&terms.gig_id)
        .await?
        .ok_or_else(|| ApiError::invalid("gig_not_found", "gig_id", "no such gig"))?;
    if &gig.seller_id != seller {
        return Err(ApiError::invalid("gig_not_yours", "gig_id", "an offer names one of your own gigs"));
    }
    if gig.status != GigStatus::Active {
        return Err(ApiError::invalid("gig_not_active", "gig_id", "the gig is paused; an offer needs an active gig"));
    }
    terms.check_level(&policy.level_limits(settings.level))?;
    match app.store.contact_between(&new.buyer_id, seller).await? {
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

    let mut commit = app.store.begin();
    let offer_id = ulid::Ulid::new().to_string();
    match &new.source {
        // Answering a request moves it to `answered` in the offer's own transaction.
        OfferSource::RequestId(id) => {
            let mut request: CustomRequest = app
                .store
                .tracked(id)
                .await?
                .filter(|r: &CustomRequest| &r.seller_id == seller && r.buyer_id == new.buyer_id)
                .ok_or_else(|| {
                    ApiError::invalid("source_not_found", "source.request_id", "no such request to you from this buyer")
                })?;
            let t =
                lifecycle::step(REQUEST, request.state, RequestAction::Answer, Actor::Seller, &request.facts(req.now))
                    .map_err(|_| {
                        ApiError::conflict(
                            "request_not_pending",
                            "this request was already answered, declined, withdrawn or expired",
                        )
                    })?;
            request.offer_id = Some(offer_id.clone());
            let step = Step::of(t, Actor::Seller, Some(seller), json!({ "offer_id": offer_id }));
            record(&mut commit, &mut request, step, req.now)?;
        }
        OfferSource::MessageId(id) => {
            let message = app.store.message_between(seller, &new.buyer_id, id).await?;
            let message = message.ok_or_else(|| {
                ApiError::invalid("source_not_found", "source.message_id", "no such message between you")
            })?;
            if message.sender_id != new.buyer_id {
                return Err(ApiError::invalid(
                    "source_not_from_buyer",
                    "source.message_id",
                    "an offer answers one of the buyer's messages, not one of yours",
                ));
            }
        }
        OfferSource::OrderId(id) => {
            let order: Option<Order> = app.store.tracked(id).await?;
            if !order.is_some_and(|o| &o.seller_id == seller && o.buyer_id == new.buyer_id) {
                return Err(ApiError::invalid("source_not_found", "source.order_id", "no such order between you"));
            }
        }
    }
    let terms_hash = terms.hash();
    let mut offer = Offer {
        offer_id,
        seller_id: seller.clone(),
        buyer_id: new.buyer_id,
        source: new.source,
        terms,
        terms_hash: terms_hash.clone(),
        state: OFFER_START.state,
        order_id: None,
        decline_reason: None,
        created_at: req.now,
        updated_at: req.now,
        version: 0,
        head_hash: timeline::GENESIS.into(),
    };
    let step = Step::start(&OFFER_START, Actor::Seller, Some(seller), json!({ "terms_hash": terms_hash }));
    record(&mut commit, &mut offer, step, req.now)?;
    // The only entity here that others may move meanwhile is the answered request.
    app.commit(commit).await.map_err(|e| match e {
        ApiError::Conflict { .. } => ApiError::conflict("request_not_pending", "the request changed meanwhile"),
        other => other,
    })?;
    Reply::created(offer.view(Some(Actor::Seller), req.now))
}
