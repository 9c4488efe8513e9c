//! The order's work after payment: the seller delivers the current stage, the buyer asks
//! for a revision of it or accepts it (after the last stage the order is complete; the
//! buyer's silence accepts it when the auto-complete timer fires, `flows::timers`); either
//! party cancels an order not yet paid, and the buyer alone a late one (with a full
//! refund). Each step is one transaction with its timeline event.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::adapters::dynamo::Page;
use crate::flows::payments::refund_within;
use crate::flows::tracked::visible;
use crate::flows::{App, ledger};
use peyman_rules::caller::Caller;
use peyman_rules::delivery::{Delivery, NewDelivery, RevisionRequest};
use peyman_rules::error::ApiError;
use peyman_rules::followup::FollowUp;
use peyman_rules::lifecycle::{self, ORDER, OrderAction, OrderState, Transition};
use peyman_rules::order::Order;
use peyman_rules::request::Reason;
use peyman_rules::tracked::{Step, Tracked, refusal};
use peyman_rules::upload::{self, Upload, UploadStatus};

/// The caller's order and the row `action` takes on it now, or the refusal.
async fn step(
    app: &App,
    caller: &Caller,
    order_id: &str,
    action: OrderAction,
    now: DateTime<Utc>,
) -> Result<(Order, lifecycle::Actor, &'static Transition<lifecycle::OrderState, OrderAction>), ApiError> {
    let (order, actor) = visible::<Order>(app, order_id, caller).await?;
    let t = lifecycle::step(ORDER, order.state, action, actor, &order.facts(now)).map_err(refusal::<Order>)?;
    Ok((order, actor, t))
}

/// The seller delivers the current stage: a record of its own, its files readable by the
/// buyer, and the auto-complete clock started, in one transaction.
pub async fn deliver(
    app: &App,
    caller: &Caller,
    order_id: &str,
    new: NewDelivery,
    now: DateTime<Utc>,
) -> Result<(Order, Delivery), ApiError> {
    new.check(&app.config.policy)?;
    let (mut order, actor, t) = step(app, caller, order_id, OrderAction::Deliver, now).await?;
    let ids: Vec<&str> = new.attachment_upload_ids.iter().map(String::as_str).collect();
    let uploads = app.store.uploads(&ids).await?;
    let delivery = new.into_delivery(&order, &uploads, ulid::Ulid::new().to_string(), now)?;
    order.delivered(now);
    let mut commit = app.store.begin();
    let data = json!({
        "delivery_id": delivery.delivery_id,
        "stage": delivery.stage,
        "message": delivery.message,
        "files": upload::recorded(&delivery.attachment_upload_ids, &uploads),
    });
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    commit.delivery(&delivery)?;
    for upload_id in &delivery.attachment_upload_ids {
        commit.share_upload(upload_id, &order.buyer_id)?;
    }
    app.commit(commit).await?;
    Ok((order, delivery))
}

/// The buyer asks for a revision of the delivered stage, while revisions are left
/// (`revision_limit_reached` past them): the count moves and the auto-complete clock
/// stops in the same transaction.
pub async fn request_revision(
    app: &App,
    caller: &Caller,
    order_id: &str,
    request: RevisionRequest,
    now: DateTime<Utc>,
) -> Result<Order, ApiError> {
    request.check(&app.config.policy)?;
    let (mut order, actor, t) = step(app, caller, order_id, OrderAction::RequestRevision, now).await?;
    let ids: Vec<&str> = request.attachment_upload_ids.iter().map(String::as_str).collect();
    let uploads = app.store.uploads(&ids).await?;
    request.check_files(&order, &uploads)?;
    order.revision_requested();
    let mut commit = app.store.begin();
    let data = json!({
        "stage": order.stage + 1,
        "reason": request.reason,
        "files": upload::recorded(&request.attachment_upload_ids, &uploads),
        "revisions_used": order.revisions_used,
    });
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    for upload_id in &request.attachment_upload_ids {
        commit.share_upload(upload_id, &order.seller_id)?;
    }
    app.commit(commit).await?;
    Ok(order)
}

/// The buyer accepts the delivered stage: the next is in progress, or the order is
/// complete.
pub async fn accept_delivery(
    app: &App,
    caller: &Caller,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<Order, ApiError> {
    let (mut order, actor, t) = step(app, caller, order_id, OrderAction::AcceptDelivery, now).await?;
    let mut commit = app.store.begin();
    let data = ledger::stage_accepted(&mut commit, &mut order, now)?;
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok(order)
}

/// A cancellation one party makes alone. Either party cancels an order not yet paid: its
/// intent is cancelled at the provider through the outbox, and the offer stays accepted
/// (a deliberate cancellation ends the deal; a lapsed payment window reopens it instead).
/// The buyer alone cancels a late order once the grace period after its due time has
/// passed (`late_cancellation_not_open` before): all that was paid is refunded in the
/// same transaction.
pub async fn cancel(app: &App, caller: &Caller, order_id: &str, now: DateTime<Utc>) -> Result<Order, ApiError> {
    let (mut order, actor, t) = step(app, caller, order_id, OrderAction::Cancel, now).await?;
    let mut commit = app.store.begin();
    let mut data = json!({ "payment_intent_id": order.payment_intent_id });
    if order.state == OrderState::AwaitingPayment {
        if let Some(intent_id) = &order.payment_intent_id {
            commit.followup(FollowUp::cancel_payment(intent_id, now))?;
        }
    } else {
        let reason = "the buyer cancelled a late order";
        let refund = refund_within(app, &mut commit, &mut order, "cancellation", None, reason, now).await?;
        data["refund"] = json!({ "refund_id": refund.refund_id, "amount": refund.amount });
    }
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok(order)
}

/// Either party asks the other to cancel a paid order, with a reason; the other answers
/// within the order's response window, or their silence accepts (`flows::timers`).
pub async fn request_cancellation(
    app: &App,
    caller: &Caller,
    order_id: &str,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<Order, ApiError> {
    reason.check(&app.config.policy)?;
    let (mut order, actor, t) = step(app, caller, order_id, OrderAction::RequestCancellation, now).await?;
    let request_id = ulid::Ulid::new().to_string();
    order.cancellation_requested(request_id.clone(), actor, &caller.user_id, reason.reason.clone(), now);
    let respond_by = order.cancellation.as_ref().map(|c| c.respond_by);
    let data = json!({ "request_id": request_id, "reason": reason.reason, "respond_by": respond_by });
    let mut commit = app.store.begin();
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok(order)
}

/// The other party accepts the open cancellation request: the order is cancelled and all
/// that was paid refunded, in one transaction.
pub async fn accept_cancellation(
    app: &App,
    caller: &Caller,
    order_id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Order, ApiError> {
    answer(app, caller, order_id, request_id, OrderAction::AcceptCancellation, now).await
}

/// The other party declines the open cancellation request: the work goes on.
pub async fn decline_cancellation(
    app: &App,
    caller: &Caller,
    order_id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Order, ApiError> {
    answer(app, caller, order_id, request_id, OrderAction::DeclineCancellation, now).await
}

async fn answer(
    app: &App,
    caller: &Caller,
    order_id: &str,
    request_id: &str,
    action: OrderAction,
    now: DateTime<Utc>,
) -> Result<Order, ApiError> {
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    if order.cancellation.as_ref().is_none_or(|c| c.request_id != request_id) {
        return Err(ApiError::NotFound { what: "cancellation request" });
    }
    let t = lifecycle::step(ORDER, order.state, action, actor, &order.facts(now)).map_err(refusal::<Order>)?;
    let mut commit = app.store.begin();
    let mut data = json!({ "request_id": request_id });
    if action == OrderAction::AcceptCancellation {
        let refund =
            refund_within(app, &mut commit, &mut order, "cancellation", None, "cancelled by agreement", now).await?;
        data["refund"] = json!({ "refund_id": refund.refund_id, "amount": refund.amount });
        order.cancellation = None;
    } else {
        order.cancellation_declined(now);
    }
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok(order)
}

/// A download link for each ready file: its upload id, URL and expiry.
pub type Links = Vec<(String, String, DateTime<Utc>)>;

/// One page of an order's deliveries, newest first, with their files and download links
/// for the parties.
pub async fn deliveries(
    app: &App,
    caller: &Caller,
    order_id: &str,
    limit: i32,
    cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Page<Delivery>, Vec<Upload>, Links), ApiError> {
    visible::<Order>(app, order_id, caller).await?;
    let page = app.store.deliveries(order_id, limit, cursor).await?;
    let ids: Vec<&str> = page.items.iter().flat_map(|d| d.attachment_upload_ids.iter().map(String::as_str)).collect();
    let uploads = app.store.uploads(&ids).await?;
    let mut links = Vec::new();
    for upload in uploads.iter().filter(|u| u.status == UploadStatus::Ready) {
        let version = upload.checked_version.as_deref();
        let (url, expires) = app.files.download_link(&upload.object_key, version, &upload.served_name(), now).await?;
        links.push((upload.upload_id.clone(), url, expires));
    }
    Ok((page, uploads, links))
}
