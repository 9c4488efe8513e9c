//! A dispute: open while the parties state their case and support reads it (the other
//! party has a response window to answer; support may ask either a question), resolved by
//! support's decision or a settlement the parties agree, or withdrawn by its opener; its
//! export packets' story is on its timeline in every state.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::Guard::*;
use super::{Start, Timer, Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DisputeState {
    Open,
    Resolved,
    /// Its opener withdrew it: the order went back where it was.
    Withdrawn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DisputeAction {
    /// A party adds a statement (text and files) while it is open, perhaps the answer to
    /// support's question.
    AddStatement,
    /// Support asks a party a question, answered as a statement.
    AskQuestion,
    /// The response window passed without a statement from the other party: support is
    /// told.
    MarkUnanswered,
    /// A party proposes how to split what is in escrow (one proposal open at a time).
    ProposeSettlement,
    /// The other party accepts it: it decides the dispute as support's decision would.
    AcceptSettlement,
    /// The other party declines it.
    DeclineSettlement,
    /// Its author takes it back (unanswered, it would block another proposal).
    WithdrawSettlement,
    /// The opener withdraws the dispute: the order resumes.
    Withdraw,
    /// Support records its decision (the order moves in the same transaction).
    Resolve,
    /// Support asks for the dispute's export packet (open or resolved).
    RequestExport,
    /// The builder finished a packet.
    RecordExport,
    /// The builder gave up on a packet after its retries.
    FailExport,
    /// Support is handed a download link to a built packet.
    HandOutExportLink,
    /// The buyer's bank disputes the payment (a chargeback) while the dispute is open:
    /// it joins this one.
    JoinChargeback,
    /// The bank decided the chargeback (won, lost or closed with a warning).
    CloseChargeback,
}

#[rustfmt::skip]
pub static DISPUTE: &[Transition<DisputeState, DisputeAction>] = {
    use DisputeState::*;
    use DisputeAction::*;
    &[
        //  from       action             by                guard                     to         event                  notify            timers
        row(Open,      AddStatement,      &[Buyer, Seller], None,                     Open,      "statement_added",     &[Buyer, Seller], &[]),
        row(Open,      AskQuestion,       &[Support],       None,                     Open,      "question_asked",      &[Buyer, Seller], &[]),
        row(Open,      MarkUnanswered,    &[System],        Some(PastDeadline),       Open,      "dispute_unanswered",  &[Buyer, Seller], &[]),
        // A settlement: one party proposes the split of escrow, the other answers.
        row(Open,      ProposeSettlement, &[Buyer, Seller], Some(NoRequestOpen),      Open,      "settlement_proposed", &[Buyer, Seller], &[]),
        row(Open,      AcceptSettlement,  &[Buyer, Seller], Some(RequestOpenByOther), Resolved,  "dispute_settled",     &[Buyer, Seller], &[]),
        row(Open,      DeclineSettlement, &[Buyer, Seller], Some(RequestOpenByOther), Open,      "settlement_declined", &[Buyer, Seller], &[]),
        row(Open,      WithdrawSettlement, &[Buyer, Seller], Some(RequestOpenByActor), Open,     "settlement_withdrawn", &[Buyer, Seller], &[]),
        row(Open,      Withdraw,          &[Buyer, Seller], Some(Opener),             Withdrawn, "dispute_withdrawn",   &[Buyer, Seller], &[]),
        row(Open,      Resolve,           &[Support],       None,                     Resolved,  "dispute_resolved",    &[],              &[]),
        // The export packet's story, in every state: who asked, what was built or why
        // not, and every download link handed out.
        row(Open,      RequestExport,     &[Support],       None,                     Open,      "export_requested",    &[],              &[]),
        row(Resolved,  RequestExport,     &[Support],       None,                     Resolved,  "export_requested",    &[],              &[]),
        row(Withdrawn, RequestExport,     &[Support],       None,                     Withdrawn, "export_requested",    &[],              &[]),
        row(Open,      RecordExport,      &[System],        None,                     Open,      "export_built",        &[],              &[]),
        row(Resolved,  RecordExport,      &[System],        None,                     Resolved,  "export_built",        &[],              &[]),
        row(Withdrawn, RecordExport,      &[System],        None,                     Withdrawn, "export_built",        &[],              &[]),
        row(Open,      FailExport,        &[System],        None,                     Open,      "export_failed",       &[],              &[]),
        row(Resolved,  FailExport,        &[System],        None,                     Resolved,  "export_failed",       &[],              &[]),
        row(Withdrawn, FailExport,        &[System],        None,                     Withdrawn, "export_failed",       &[],              &[]),
        row(Open,      HandOutExportLink, &[Support],       None,                     Open,      "export_link_issued",  &[],              &[]),
        row(Resolved,  HandOutExportLink, &[Support],       None,                     Resolved,  "export_link_issued",  &[],              &[]),
        row(Withdrawn, HandOutExportLink, &[Support],       None,                     Withdrawn, "export_link_issued",  &[],              &[]),
        // The bank's chargeback, told by the provider: it joins an open dispute, and its
        // outcome is recorded whenever it comes.
        row(Open,      JoinChargeback,    &[System],        None,                     Open,      "chargeback_opened",   &[],              &[]),
        row(Open,      CloseChargeback,   &[System],        None,                     Open,      "chargeback_closed",   &[],              &[]),
        row(Resolved,  CloseChargeback,   &[System],        None,                     Resolved,  "chargeback_closed",   &[],              &[]),
    ]
};

/// How a dispute begins: open, on its order's timeline too (which tells the parties), the
/// other party's response window running.
pub const DISPUTE_START: Start<DisputeState> =
    Start { state: DisputeState::Open, event: "dispute_opened", notify: &[], timers: &[Timer::ResponseDue] };
