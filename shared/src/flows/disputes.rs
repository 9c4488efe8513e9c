//! Disputes: a party opens one on a paid order (which freezes, `disputed`, in the same
//! transaction), both add statements while it is open, support reads the whole custom
//! project from its queue and resolves it: `release`, `refund` or `partial_refund`, the
//! refund put in the outbox through the payment's own rule in the same transaction as the
//! decision on the dispute's and the order's timelines.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::dynamo::Page;
use crate::adapters::dynamo::commit::Commit;
use crate::flows::payments::refund_within;
use crate::flows::tracked::{history, visible};
use crate::flows::{App, amendments, ledger, requests};
use peyman_rules::amendment::Amendment;
use peyman_rules::caller::Caller;
use peyman_rules::delivery::Delivery;
use peyman_rules::dispute::{
    self, Decision, Dispute, NewDispute, NewQuestion, NewResolution, NewSettlement, NewStatement, Resolution,
    Settlement, Statement,
};
use peyman_rules::error::ApiError;
use peyman_rules::ledger::{Entry, Release, pending_releases};
use peyman_rules::lifecycle::{
    self, Actor, DISPUTE, DISPUTE_START, DisputeAction, DisputeState, ORDER, OrderAction, OrderState, Transition,
};
use peyman_rules::message::Message;
use peyman_rules::offer::Offer;
use peyman_rules::order::Order;
use peyman_rules::payment::{Payment, Refund};
use peyman_rules::request::Request;
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
    let mut commit = app.store.begin();
    // A completed order's releases still pending go back into escrow, for the decision to
    // split as it would a running order's.
    if order.state == OrderState::Completed {
        let releases = pending_releases(&app.store.order_ledger(order_id).await?);
        ledger::release_reversed(&mut commit, &mut order, &releases, now)?;
    }
    order.dispute_opened(&dispute.dispute_id, now);
    let data = json!({
        "dispute_id": dispute.dispute_id,
        "reason": dispute.reason,
        "description": dispute.description,
        "files": upload::recorded(&files.ids(), &uploads),
        "respond_by": dispute.respond_by,
        "in_escrow": order.escrow.held(),
    });
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

/// A party adds a statement to the open dispute, with files of their own; it may answer a
/// question support put to them. The other party's first statement answers the dispute
/// (its response window stops).
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
    if new.answers.is_some() {
        new.check_answers(actor, &app.store.statements(dispute_id).await?)?;
    }
    let files = new.files();
    let uploads = load(app, &files.ids()).await?;
    files.check_owned(&caller.user_id, &uploads)?;
    let statement = new.into_statement(dispute_id, actor, &caller.user_id, ulid::Ulid::new().to_string(), now);
    dispute.statement_added(actor, now);
    let data = json!({
        "statement_id": statement.statement_id,
        "text": statement.text,
        "files": upload::recorded(&files.ids(), &uploads),
        "answers": statement.answers,
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
    /// The buyer's request the offer answered, if it answered one.
    pub request: Option<Request>,
    /// The amendments that took effect, in the chain's order.
    pub amendments: Vec<Amendment>,
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
                "amendments": self.amendments.iter().map(|a| a.view(&self.order)).collect::<Vec<_>>(),
                "terms_in_force_hash": self.order.terms_hash_in_force(),
            },
            "request": self.request.as_ref().map(|r| r.view(None, now)),
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
    let request = requests::answered_by(app, offer.as_ref()).await?;
    let amendments = amendments::in_force(app, &order).await?;
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
        request,
        amendments,
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
    unless_resolved_meanwhile(app, dispute_id, resolve_once(app, caller, dispute_id, decision, now).await).await
}

/// `attempt`, unless it failed because another decision resolved the dispute first:
/// then 409 `dispute_resolved` naming the decision that won, whatever the attempt itself
/// ran into (a stale read of the payment, a commit that found the dispute moved).
async fn unless_resolved_meanwhile<T>(
    app: &App,
    dispute_id: &str,
    attempt: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match attempt {
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
    let mut commit = app.store.begin();
    let decided = Decided {
        decision: decision.decision,
        amount: decision.amount.as_ref().map(|m| m.amount),
        note: decision.note,
        by: Actor::Support,
        by_user: &caller.user_id,
        settlement: None,
    };
    let order_step = decide(app, &mut commit, &mut dispute, &mut order, decided, now).await?;
    let data =
        json!({ "dispute_id": dispute_id, "resolution": dispute.resolution, "release": order_step.1["release"] });
    let me = Some(caller.user_id.as_str());
    commit.record(&mut dispute, Step::of(t, Actor::Support, me, data), now)?;
    commit.record(&mut order, Step::of(order_step.0, Actor::Support, me, order_step.1), now)?;
    app.commit(commit).await?;
    Ok((dispute, order))
}

/// A decision on a dispute, by support or by the parties' settlement.
struct Decided<'a> {
    decision: Decision,
    amount: Option<i64>,
    note: String,
    /// Support, or `System` applying the parties' settlement.
    by: Actor,
    by_user: &'a str,
    settlement: Option<Settlement>,
}

/// What a decision does, into `commit`: the refund (all escrow holds, or the amount)
/// through the payment's own rule, the rest of escrow released to the seller where the
/// decision is theirs in whole or in part, the resolution on the dispute and the order out
/// of `disputed`. Returns the order's row and its event data; the caller records both
/// steps.
async fn decide(
    app: &App,
    commit: &mut Commit,
    dispute: &mut Dispute,
    order: &mut Order,
    decided: Decided<'_>,
    now: DateTime<Utc>,
) -> Result<(&'static Transition<OrderState, OrderAction>, Value), ApiError> {
    let order_step =
        lifecycle::step(ORDER, order.state, decided.decision.order_action(), decided.by, &order.facts(now))
            .map_err(|why| dispute::refused(order, why))?;
    let refund = match decided.decision {
        Decision::Release => None,
        Decision::Refund | Decision::PartialRefund => {
            let amount = decided.amount.filter(|_| decided.decision == Decision::PartialRefund);
            Some(refund_within(app, commit, order, "dispute", amount, &decided.note, now).await?)
        }
    };
    // What the refund leaves in escrow is the seller's when the decision is theirs in
    // whole or in part: the split is release + refund = what escrow held.
    let release = match decided.decision {
        Decision::Release | Decision::PartialRefund => release_rest(commit, order, now)?,
        Decision::Refund => None,
    };
    dispute.resolution = Some(Resolution {
        decision: decided.decision,
        refund_amount: refund.as_ref().map(|r| r.amount.clone()),
        refund_id: refund.as_ref().map(|r| r.refund_id.clone()),
        note: decided.note,
        decided_by: decided.by_user.to_owned(),
        decided_at: now,
        settlement: decided.settlement,
    });
    dispute.settlement = None;
    order.dispute_resolved(order_step.to, now);
    let data = json!({ "dispute_id": dispute.dispute_id, "resolution": dispute.resolution, "release": release });
    Ok((order_step, data))
}

/// All escrow still holds, released to the seller.
fn release_rest(commit: &mut Commit, order: &mut Order, now: DateTime<Utc>) -> Result<Option<Release>, ApiError> {
    let release = order.release_rest().map_err(|e| ApiError::internal(format!("a release cannot be made: {e}")))?;
    if let Some(release) = &release {
        ledger::released(commit, order, release, now)?;
    }
    Ok(release)
}

/// Support asks a party a question on an open dispute: a statement of support's, to that
/// party, on the dispute's timeline; both parties see it, and the party answers it with a
/// statement that names it.
pub async fn ask(
    app: &App,
    caller: &Caller,
    dispute_id: &str,
    new: NewQuestion,
    now: DateTime<Utc>,
) -> Result<Statement, ApiError> {
    caller.require_support("ask questions on a dispute")?;
    new.check(&app.config.policy)?;
    let mut dispute: Dispute = app.store.tracked(dispute_id).await?.ok_or(ApiError::NotFound { what: "dispute" })?;
    caller.require_not_party([dispute.buyer_id.as_str(), dispute.seller_id.as_str()], "ask on this dispute")?;
    let t = lifecycle::step(DISPUTE, dispute.state, DisputeAction::AskQuestion, Actor::Support, &dispute.facts(now))
        .map_err(dispute::closed)?;
    let question = new.into_question(dispute_id, &caller.user_id, ulid::Ulid::new().to_string(), now);
    let data = json!({ "statement_id": question.statement_id, "to": question.to, "text": question.text });
    let mut commit = app.store.begin();
    commit.record(&mut dispute, Step::of(t, Actor::Support, Some(&caller.user_id), data), now)?;
    commit.statement(&question)?;
    app.commit(commit).await?;
    Ok(question)
}

/// What a party does to settle or end a dispute themselves.
pub enum PartyMove {
    /// Propose how to split escrow.
    Propose(NewSettlement),
    /// Accept the other party's proposal: the dispute is decided by it.
    Accept,
    /// Decline the other party's proposal.
    Decline,
    /// Take back one's own proposal.
    WithdrawSettlement,
    /// Withdraw the dispute (its opener): the order resumes where it was.
    Withdraw,
}

/// A party's settlement move or withdrawal on an open dispute, each its table's row on the
/// dispute's timeline and, where it ends the dispute, the order's move in the same
/// transaction. Of a settlement accepted and support's resolution sent at once, one wins;
/// the other answers 409 `dispute_resolved` naming the decision that won.
pub async fn party_move(
    app: &App,
    caller: &Caller,
    order_id: &str,
    dispute_id: &str,
    made: PartyMove,
    now: DateTime<Utc>,
) -> Result<(Dispute, Order), ApiError> {
    let attempt = party_move_once(app, caller, order_id, dispute_id, made, now).await;
    unless_resolved_meanwhile(app, dispute_id, attempt).await
}

async fn party_move_once(
    app: &App,
    caller: &Caller,
    order_id: &str,
    dispute_id: &str,
    made: PartyMove,
    now: DateTime<Utc>,
) -> Result<(Dispute, Order), ApiError> {
    let (mut dispute, actor) = of_order(app, caller, order_id, dispute_id).await?;
    let action = match &made {
        PartyMove::Propose(_) => DisputeAction::ProposeSettlement,
        PartyMove::Accept => DisputeAction::AcceptSettlement,
        PartyMove::Decline => DisputeAction::DeclineSettlement,
        PartyMove::WithdrawSettlement => DisputeAction::WithdrawSettlement,
        PartyMove::Withdraw => DisputeAction::Withdraw,
    };
    let t = lifecycle::step(DISPUTE, dispute.state, action, actor, &dispute.facts(now))
        .map_err(|why| dispute::refused_move(action, why))?;
    let mut order: Order =
        app.store.tracked(&dispute.order_id).await?.ok_or_else(|| ApiError::internal("a dispute without its order"))?;
    let me = Some(caller.user_id.as_str());
    let mut commit = app.store.begin();
    let data = match made {
        PartyMove::Propose(new) => {
            new.check(&app.config.policy, &order)?;
            dispute.settlement = Some(new.into_settlement(actor, &caller.user_id, now));
            json!({ "settlement": dispute.settlement })
        }
        PartyMove::Decline | PartyMove::WithdrawSettlement => json!({ "settlement": dispute.settlement.take() }),
        PartyMove::Accept => {
            let settlement =
                dispute.settlement.clone().ok_or_else(|| ApiError::internal("accepted without a settlement"))?;
            dispute.check_decidable()?;
            settlement.check_still_splits(&order)?;
            let (decision, amount) = settlement.decision();
            let note = settlement.note.clone().unwrap_or_else(|| "settled by the parties".into());
            let decided = Decided {
                decision,
                amount,
                note,
                by: Actor::System,
                by_user: &caller.user_id,
                settlement: Some(settlement),
            };
            let (order_step, data) = decide(app, &mut commit, &mut dispute, &mut order, decided, now).await?;
            commit.record(&mut order, Step::of(order_step, Actor::System, me, data.clone()), now)?;
            data
        }
        PartyMove::Withdraw => {
            let order_step =
                lifecycle::step(ORDER, order.state, OrderAction::ResumeDisputed, Actor::System, &order.facts(now))
                    .map_err(|why| dispute::refused(&order, why))?;
            let resumes = order.frozen.as_ref().map(|f| f.state);
            order.dispute_withdrawn(now);
            dispute.settlement = None;
            // A dispute after completion took the releases back: they go out again.
            let release = match resumes {
                Some(OrderState::Completed) => release_rest(&mut commit, &mut order, now)?,
                _ => None,
            };
            let data = json!({
                "dispute_id": dispute_id,
                "resumes": order_step.to,
                "due_at": order.due_at,
                "auto_complete_at": order.auto_complete_at,
                "release": release,
            });
            commit.record(&mut order, Step::of(order_step, Actor::System, me, data.clone()), now)?;
            data
        }
    };
    commit.record(&mut dispute, Step::of(t, actor, me, data), now)?;
    app.commit(commit).await?;
    Ok((dispute, order))
}
