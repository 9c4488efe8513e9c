//! Custom-project requests: a buyer asks a seller who takes custom projects; the seller
//! declines (or answers with an offer, `flows::offers`); the buyer withdraws.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flows::App;
use crate::flows::tracked::act;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{Actor, REQUEST, REQUEST_START, RequestAction};
use peyman_rules::offer::{Offer, OfferSource};
use peyman_rules::request::{NewRequest, Reason, Request};
use peyman_rules::tracked::Step;

/// The buyer's new request. It is prior communication, and its files become the
/// seller's to read, in the same transaction.
pub async fn create(app: &App, buyer: &Caller, new: NewRequest, now: DateTime<Utc>) -> Result<Request, ApiError> {
    let policy = &app.config.policy;
    new.check(policy, &buyer.user_id)?;
    let settings = app.store.seller_settings(&new.seller_id).await?;
    let gig = match &new.gig_id {
        Some(gig_id) if settings.custom_projects_enabled => app.store.gig(gig_id).await?,
        _ => None,
    };
    let uploads = app.store.uploads(&new.upload_ids()).await?;
    let request_id = ulid::Ulid::new().to_string();
    let mut request = new.into_request(policy, &buyer.user_id, &settings, gig.as_ref(), &uploads, request_id, now)?;
    let mut commit = app.store.begin();
    commit.record(&mut request, Step::start(&REQUEST_START, Actor::Buyer, Some(&buyer.user_id), json!({})), now)?;
    commit.contact(&request.buyer_id, &request.seller_id, "REQUEST", &request.request_id)?;
    for upload_id in request.upload_ids() {
        commit.share_upload(upload_id, &request.seller_id)?;
    }
    app.commit(commit).await?;
    Ok(request)
}

/// The seller declines a request, with a reason.
pub async fn decline(
    app: &App,
    caller: &Caller,
    request_id: &str,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<Request, ApiError> {
    reason.check(&app.config.policy)?;
    let data = json!({ "reason": reason.reason });
    act::<Request, _>(app, REQUEST, request_id, RequestAction::Decline, caller, now, data, |r| {
        r.decline_reason = Some(reason.reason.clone())
    })
    .await
}

/// The buyer withdraws a request not yet answered.
pub async fn withdraw(app: &App, caller: &Caller, request_id: &str, now: DateTime<Utc>) -> Result<Request, ApiError> {
    act::<Request, _>(app, REQUEST, request_id, RequestAction::Withdraw, caller, now, json!({}), |_| {}).await
}

/// The buyer's request `offer` answered, if it answered one (an offer sent from a message
/// answered none).
pub async fn answered_by(app: &App, offer: Option<&Offer>) -> Result<Option<Request>, ApiError> {
    match offer.map(|o| &o.source) {
        Some(OfferSource::RequestId(id)) => app.store.tracked(id).await,
        _ => Ok(None),
    }
}
