//! Disputes: a party opens one on a paid order (which freezes, `disputed`, in the same
//! transaction), both add statements while it is open, support reads the whole custom
//! project from its queue and resolves it: `release`, `refund` or `partial_refund`, the
//! refund put in the outbox through the payment's own rule in the same transaction as the
//! decision on the dispute's and the order's timelines.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::dynamo::Page;
use crate::flows::payments::refund_within;
use crate::flows::tracked::{history, visible};
use crate::flows::{App, ledger};
use peyman_rules::caller::Caller;
use peyman_rules::delivery::Delivery;
use peyman_rules::dispute::{self, Decision, Dispute, NewDispute, NewResolution, NewStatement, Resolution, Statement};
use peyman_rules::error::ApiError;
use peyman_rules::ledger::Entry;
use peyman_rules::lifecycle::{self, Actor, DISPUTE, DISPUTE_START, DisputeAction, DisputeState, ORDER, OrderAction};
use peyman_rules::message::Message;
use peyman_rules::offer::Offer;
use peyman_rules::order::Order;
use peyman_rules::payment::{Payment, Refund};
use peyman_rules::tracked::{Step, Tracked};
use peyman_rules::upload::{self, Upload};

/// A party opens a dispute on a paid order that is neither completed nor cancelled, with a
/// reason, a description and files of their own (shared with the other party).
pub async fn open(
    app: &App,
    caller: &Caller,
    order_id: &str,
    new: NewDispute,
    now: DateTime<Utc>,
) -> Result<(Order, Dispute), ApiError> {
    new.check(&app.config.policy)?;
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    let t = lifecycle::step(ORDER, order.state, OrderAction::OpenDispute, actor, &order.facts(now))
        .map_err(|why| dispute::refused(&order, why))?;
    let files = new.files();
    let uploads = load(app, &files.ids()).await?;
    files.check_owned(&caller.user_id, &uploads)?;
    let mut dispute = new.into_dispute(&order, actor, &caller.user_id, ulid::Ulid::new().to_string(), now);
    order.dispute_opened(&dispute.dispute_id);
    let data = json!({
        "dispute_id": dispute.dispute_id,
        "reason": dispute.reason,
        "description": dispute.description,
        "files": upload::recorded(&files.ids(), &uploads),
    });
    let mut commit = app.store.begin();
    let me = Some(caller.user_id.as_str());
    commit.record(&mut dispute, Step::start(&DISPUTE_START, actor, me, data.clone()), now)?;
    commit.record(&mut order, Step::of(t, actor, me, data), now)?;
    let other = order.party(other_party(actor)).unwrap_or_default().to_owned();
    for id in files.ids() {
        commit.share_upload(&id, &other)?;
    }
    app.commit(commit).await?;
    Ok((order, dispute))
}

fn other_party(actor: Actor) -> Actor {
    if actor == Actor::Buyer { Actor::Seller } else { Actor::Buyer }
}

async fn load(app: &App, ids: &[String]) -> Result<Vec<Upload>, ApiError> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    app.store.uploads(&ids).await
}

/// The dispute of `order_id` named `dispute_id`, with the caller's part in it.
async fn of_order(app: &App, caller: &Caller, order_id: &str, dispute_id: &str) -> Result<(Dispute, Actor), ApiError> {
    let (dispute, actor) = visible::<Dispute>(app, dispute_id, caller).await?;
    if dispute.order_id != order_id {
        return Err(ApiError::NotFound { what: "dispute" });
    }
    Ok((dispute, actor))
}

/// A party adds a statement to the open dispute, with files of their own.
pub async fn add_statement(
    app: &App,
    caller: &Caller,
    order_id: &str,
    dispute_id: &str,
    new: NewStatement,
    now: DateTime<Utc>,
) -> Result<Statement, ApiError> {
    new.check(&app.config.policy)?;
    let (mut dispute, actor) = of_order(app, caller, order_id, dispute_id).await?;
    let t = lifecycle::step(DISPUTE, dispute.state, DisputeAction::AddStatement, actor, &dispute.facts(now))
        .map_err(dispute::closed)?;
    let files = new.files();
    let uploads = load(app, &files.ids()).await?;
    files.check_owned(&caller.user_id, &uploads)?;
    let statement = new.into_statement(dispute_id, actor, &caller.user_id, ulid::Ulid::new().to_string(), now);
    let data = json!({
        "statement_id": statement.statement_id,
        "text": statement.text,
        "files": upload::recorded(&files.ids(), &uploads),
    });
    let mut commit = app.store.begin();
    commit.record(&mut dispute, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    commit.statement(&statement)?;
    let other = dispute.party(other_party(actor)).unwrap_or_default().to_owned();
    for id in files.ids() {
        commit.share_upload(&id, &other)?;
    }
    app.commit(commit).await?;
    Ok(statement)
}

/// The dispute as its parties (and support) see it: itself, its statements and its
/// verified timeline.
pub async fn read(
    app: &App,
    caller: &Caller,
    order_id: &str,
    dispute_id: &str,
) -> Result<(Dispute, Vec<Statement>, Value), ApiError> {
    let (dispute, _) = of_order(app, caller, order_id, dispute_id).await?;
    let statements = app.store.statements(dispute_id).await?;
    let timeline = history(app, &dispute).await?;
    Ok((dispute, statements, timeline))
}

/// Support's queue: open disputes oldest first, or resolved ones newest first.
pub async fn queue(
    app: &App,
    caller: &Caller,
    state: DisputeState,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Dispute>, ApiError> {
    caller.require_support("reads the dispute queue")?;
    app.store.dispute_queue(state, limit, cursor).await
}

/// Everything support decides from: the custom project's page.
pub struct Case {
    pub dispute: Dispute,
    pub statements: Vec<Statement>,
    pub dispute_timeline: Value,
    pub order: Order,
    pub order_timeline: Value,
    pub offer_timeline: Value,
    pub deliveries: Vec<Delivery>,
    pub messages: Page<Message>,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    pub ledger: Vec<Entry>,
}

impl Case {
    /// The page as support reads it (support sees everything; files by id, each
    /// readable by support through `GET /v1/uploads/{id}`).
    pub fn view(&self, now: DateTime<Utc>) -> Value {
        let terms = &self.order.terms;
        json!({
            "dispute": self.dispute.view(),
            "statements": self.statements.iter().map(Statement::view).collect::<Vec<_>>(),
            "contract": {
                "terms": terms,
                "terms_hash": self.order.terms_hash,
                "terms_hash_verified": terms.hash() == self.order.terms_hash,
                "offer_id": self.order.offer_id,
            },
            "order": self.order.view(Some(Actor::Support), now),
            "timelines": {
                "offer": self.offer_timeline,
                "order": self.order_timeline,
                "dispute": self.dispute_timeline,
            },
            "deliveries": self.deliveries.iter().map(|d| d.view(&[], &[])).collect::<Vec<_>>(),
            "messages": {
                "items": self.messages.items.iter().map(|m| m.view(&[])).collect::<Vec<_>>(),
                "next_cursor": self.messages.next_cursor,
            },
            "payments": self.payments.iter().map(|p| p.view(Some(Actor::Support))).collect::<Vec<_>>(),
            "refunds": self.refunds.iter().map(Refund::view).collect::<Vec<_>>(),
            "ledger": self.ledger,
        })
    }
}

/// The support staff's custom project page for one dispute: the contract exactly as
/// accepted with its hash and whether it still verifies, both timelines verified, the
/// deliveries, the latest messages between the parties, the payments and refunds, the
/// order's ledger, and the statements.
pub async fn case(app: &App, caller: &Caller, dispute_id: &str) -> Result<Case, ApiError> {
    caller.require_support("reads a dispute's case")?;
    let dispute: Dispute = app.store.tracked(dispute_id).await?.ok_or(ApiError::NotFound { what: "dispute" })?;
    let order: Order =
        app.store.tracked(&dispute.order_id).await?.ok_or_else(|| ApiError::internal("a dispute without its order"))?;
    let offer: Option<Offer> = app.store.tracked(&order.offer_id).await?;
    let offer_timeline = match &offer {
        Some(offer) => history(app, offer).await?,
        None => Value::Null,
    };
    let (payments, refunds) = app.store.order_payments(&order.order_id).await?;
    let ledger = app.store.order_ledger(&order.order_id).await?;
    let deliveries = app.store.deliveries(&order.order_id, 100, None).await?.items;
    let messages = app.store.messages(&order.buyer_id, &order.seller_id, 100, None).await?;
    Ok(Case {
        statements: app.store.statements(dispute_id).await?,
        dispute_timeline: history(app, &dispute).await?,
        order_timeline: history(app, &order).await?,
        dispute,
        order,
        offer_timeline,
        deliveries,
        messages,
        ledger,
        payments,
        refunds,
    })
}

/// Support resolves an open dispute: the decision on the dispute's timeline and the
/// order's (with the support user's id), the order out of `disputed`, and any refund in
/// the outbox, all in one transaction. A second resolution is `dispute_resolved` (409).
///
/// Of resolutions sent at once, one wins; every other answers 409 `dispute_resolved` with
/// the decision that won, whatever its own attempt ran into: one that read the dispute
/// before the winner's commit and the payment after it would otherwise be refused as
/// refunding more than is left (422), which is not why it failed.
pub async fn resolve(
    app: &App,
    caller: &Caller,
    dispute_id: &str,
    decision: NewResolution,
    now: DateTime<Utc>,
) -> Result<(Dispute, Order), ApiError> {
    caller.require_support("resolves disputes")?;
    match resolve_once(app, caller, dispute_id, decision, now).await {
        Err(lost @ (ApiError::Invalid { .. } | ApiError::Conflict { .. })) => {
            match app.store.tracked::<Dispute>(dispute_id).await? {
                Some(winner) if winner.state == DisputeState::Resolved => Err(dispute::resolved_meanwhile(&winner)),
                _ => Err(lost),
            }
        }
        done => done,
    }
}

async fn resolve_once(
    app: &App,
    caller: &Caller,
    dispute_id: &str,
    decision: NewResolution,
    now: DateTime<Utc>,
) -> Result<(Dispute, Order), ApiError> {
    let mut dispute: Dispute = app.store.tracked(dispute_id).await?.ok_or(ApiError::NotFound { what: "dispute" })?;
    let t = lifecycle::step(DISPUTE, dispute.state, DisputeAction::Resolve, Actor::Support, &dispute.facts(now))
        .map_err(dispute::closed)?;
    let mut order: Order =
        app.store.tracked(&dispute.order_id).await?.ok_or_else(|| ApiError::internal("a dispute without its order"))?;
    caller.require_not_party([order.buyer_id.as_str(), order.seller_id.as_str()], "resolve this dispute")?;
    dispute.check_decidable()?;
    decision.check(&app.config.policy, &order)?;
    let order_step = lifecycle::step(ORDER, order.state, decision.order_action(), Actor::Support, &order.facts(now))
        .map_err(|why| dispute::refused(&order, why))?;
    let mut commit = app.store.begin();
    let refund = match decision.decision {
        Decision::Release => None,
        Decision::Refund => {
            Some(refund_within(app, &mut commit, &mut order, "dispute", None, &decision.note, now).await?)
        }
        Decision::PartialRefund => {
            let amount = decision.amount.as_ref().map(|m| m.amount);
            Some(refund_within(app, &mut commit, &mut order, "dispute", amount, &decision.note, now).await?)
        }
    };
    // What the refund leaves in escrow is the seller's when the decision is theirs in
    // whole or in part: the split is release + refund = what escrow held.
    let release = match decision.decision {
        Decision::Release | Decision::PartialRefund => {
            let release =
                order.release_rest().map_err(|e| ApiError::internal(format!("a release cannot be made: {e}")))?;
            if let Some(release) = &release {
                ledger::released(&mut commit, &order, release, now)?;
            }
            release
        }
        Decision::Refund => None,
    };
    let resolution = Resolution {
        decision: decision.decision,
        refund_amount: refund.as_ref().map(|r| r.amount.clone()),
        refund_id: refund.as_ref().map(|r| r.refund_id.clone()),
        note: decision.note,
        decided_by: caller.user_id.clone(),
        decided_at: now,
    };
    let data = json!({ "dispute_id": dispute_id, "resolution": resolution, "release": release });
    dispute.resolution = Some(resolution);
    order.dispute_resolved(order_step.to, now);
    let me = Some(caller.user_id.as_str());
    commit.record(&mut dispute, Step::of(t, Actor::Support, me, data.clone()), now)?;
    commit.record(&mut order, Step::of(order_step, Actor::Support, me, data), now)?;
    app.commit(commit).await?;
    Ok((dispute, order))
}
