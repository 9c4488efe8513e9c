//! Withdrawals (issue 26): a seller asks to withdraw available IRR to a Sheba account;
//! support batches the waiting ones into a bank transfer file and decides each once, paid
//! (with the bank's reference) or returned (with a reason). Each step is one transaction:
//! the withdrawal's move on its timeline, and the ledger entry that moves the money.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::adapters::dynamo::Page;
use crate::flows::tracked::visible;
use crate::flows::{App, ledger, until_not_raced};
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::ledger::EntryKind;
use peyman_rules::lifecycle::{self, Actor, WITHDRAWAL, WITHDRAWAL_START, WithdrawalAction, WithdrawalState};
use peyman_rules::tracked::{Step, Tracked};
use peyman_rules::validate;
use peyman_rules::withdrawal::{
    BANK_REFERENCE_CHARS, BATCH_MAX, Batch, NewWithdrawal, RETURN_REASON_CHARS, Withdrawal, refused,
};

fn kept_changing() -> ApiError {
    ApiError::conflict(Code::ConcurrentChange, "the balance or the withdrawals kept changing; retry")
}

/// The caller withdraws `new.amount` of their available IRR. More than is available is
/// `withdrawal_exceeds_available`; of two at once that together exceed it, one wins (the
/// balance's update is conditioned on holding enough) and the other, reading again, is
/// refused the same way.
pub async fn request(
    app: &App,
    caller: &Caller,
    new: NewWithdrawal,
    now: DateTime<Utc>,
) -> Result<Withdrawal, ApiError> {
    let sheba = new.check()?;
    until_not_raced(kept_changing(), || async {
        let balance = app.store.seller_balance(&caller.user_id, &new.amount.currency).await?;
        if new.amount.amount > balance.available {
            return Err(ApiError::invalid(
                Code::WithdrawalExceedsAvailable,
                "amount.amount",
                format!("{} {} is available to withdraw", balance.available, new.amount.currency),
            ));
        }
        let id = ulid::Ulid::new().to_string();
        let mut withdrawal = new.clone().into_withdrawal(sheba.clone(), &caller.user_id, id, now);
        let mut commit = app.store.begin();
        ledger::withdrawal_moved(&mut commit, &withdrawal, EntryKind::WithdrawalRequested, now)?;
        let data = json!({ "amount": withdrawal.amount, "sheba": withdrawal.sheba.as_str() });
        let me = Some(caller.user_id.as_str());
        commit.record(&mut withdrawal, Step::start(&WITHDRAWAL_START, Actor::Seller, me, data), now)?;
        app.commit(commit).await?;
        Ok(withdrawal)
    })
    .await
}

/// The caller's withdrawals, newest first.
pub async fn mine(app: &App, caller: &Caller, limit: i32, cursor: Option<&str>) -> Result<Page<Withdrawal>, ApiError> {
    app.store.list::<Withdrawal>(true, &caller.user_id, None, limit, cursor).await
}

/// Support's queue of withdrawals in `state` (`requested` unless named).
pub async fn queue(
    app: &App,
    support: &Caller,
    state: Option<WithdrawalState>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Withdrawal>, ApiError> {
    support.require_support("works the withdrawal queue")?;
    app.store.withdrawal_queue(state.unwrap_or(WithdrawalState::Requested), limit, cursor).await
}

/// Support puts the oldest waiting withdrawals (at most `limit`, 1 to [`BATCH_MAX`], all
/// of that when not named) in
/// a new bank transfer batch: each moves to `batched`, and the batch is written with its
/// lines, all in one transaction, so no withdrawal is in two batches and none is batched
/// without its file. A support user's own withdrawals are left for someone else.
pub async fn batch(app: &App, support: &Caller, limit: Option<usize>, now: DateTime<Utc>) -> Result<Batch, ApiError> {
    support.require_support("batches withdrawals")?;
    let limit = limit.unwrap_or(BATCH_MAX);
    if !(1..=BATCH_MAX).contains(&limit) {
        return Err(ApiError::invalid(Code::InvalidValue, "limit", format!("a batch holds 1 to {BATCH_MAX}")));
    }
    until_not_raced(kept_changing(), || async {
        let page_size = i32::try_from(BATCH_MAX).unwrap_or(40);
        let waiting = app.store.withdrawal_queue(WithdrawalState::Requested, page_size, None).await?;
        let mut chosen: Vec<Withdrawal> =
            waiting.items.into_iter().filter(|w| w.seller_id != support.user_id).collect();
        chosen.truncate(limit);
        if chosen.is_empty() {
            return Err(ApiError::conflict(Code::NothingToBatch, "no withdrawal is waiting to be batched"));
        }
        let batch = Batch::of(&chosen, ulid::Ulid::new().to_string(), &support.user_id, now);
        let mut commit = app.store.begin();
        let me = Some(support.user_id.as_str());
        for mut withdrawal in chosen {
            let facts = withdrawal.facts(now);
            let t = lifecycle::step(WITHDRAWAL, withdrawal.state, WithdrawalAction::Batch, Actor::Support, &facts)
                .map_err(|why| refused(&withdrawal, why))?;
            withdrawal.batch_id = Some(batch.batch_id.clone());
            let data = json!({ "batch_id": batch.batch_id });
            commit.record(&mut withdrawal, Step::of(t, Actor::Support, me, data), now)?;
        }
        commit.withdrawal_batch(&batch)?;
        app.commit(commit).await?;
        Ok(batch)
    })
    .await
}

/// A batch as it was made, for its file.
pub async fn batch_file(app: &App, support: &Caller, batch_id: &str) -> Result<Batch, ApiError> {
    support.require_support("downloads bank transfer batches")?;
    app.store.withdrawal_batch(batch_id).await?.ok_or(ApiError::NotFound { what: "batch" })
}

/// How support decides a withdrawal.
pub enum Decision<'a> {
    /// The bank paid it; its reference for the transfer.
    Paid { bank_reference: &'a str },
    /// It goes back to the seller's available balance, for this reason.
    Returned { reason: &'a str },
}

/// Support decides a withdrawal, once: paid (the amount leaves for the bank, and the
/// seller's `paid_out` grows) or returned (back to available). A second decision is
/// `withdrawal_decided`; support may not decide their own.
pub async fn decide(
    app: &App,
    support: &Caller,
    withdrawal_id: &str,
    decision: Decision<'_>,
    now: DateTime<Utc>,
) -> Result<Withdrawal, ApiError> {
    support.require_support("decides withdrawals")?;
    match decision {
        Decision::Paid { bank_reference } => validate::line("bank_reference", bank_reference, BANK_REFERENCE_CHARS)?,
        Decision::Returned { reason } => validate::text("reason", reason, RETURN_REASON_CHARS)?,
    }
    until_not_raced(kept_changing(), || async {
        let (mut withdrawal, _) = visible::<Withdrawal>(app, withdrawal_id, support).await?;
        support.require_not_party([withdrawal.seller_id.as_str()], "decide this withdrawal")?;
        let (action, kind, data) = match decision {
            Decision::Paid { bank_reference } => {
                withdrawal.bank_reference = Some(bank_reference.to_owned());
                (WithdrawalAction::MarkPaid, EntryKind::WithdrawalPaid, json!({ "bank_reference": bank_reference }))
            }
            Decision::Returned { reason } => {
                withdrawal.return_reason = Some(reason.to_owned());
                (WithdrawalAction::Return, EntryKind::WithdrawalReturned, json!({ "reason": reason }))
            }
        };
        let t = lifecycle::step(WITHDRAWAL, withdrawal.state, action, Actor::Support, &withdrawal.facts(now))
            .map_err(|why| refused(&withdrawal, why))?;
        withdrawal.decided_by = Some(support.user_id.clone());
        let mut commit = app.store.begin();
        ledger::withdrawal_moved(&mut commit, &withdrawal, kind, now)?;
        commit.record(&mut withdrawal, Step::of(t, Actor::Support, Some(&support.user_id), data), now)?;
        app.commit(commit).await?;
        Ok(withdrawal)
    })
    .await
}
