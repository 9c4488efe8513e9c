//! A withdrawal (issue 26): a seller's available IRR on its way to their bank account, by
//! a Sheba number and the account holder's name. Asking moves the amount from available
//! to withdrawing; support puts withdrawals in a bank transfer batch (a CSV file for the
//! bank's bulk transfer) and decides each once, paid with the bank's reference (the
//! amount leaves for the bank) or returned with a reason (back to available).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Code};
use crate::lifecycle::{Refusal, WithdrawalState};
use crate::money::Money;
use crate::sheba::Sheba;
use crate::validate;

/// Withdrawals are paid by an Iranian bank, in Rials.
pub const CURRENCY: &str = "IRR";
pub const HOLDER_NAME_CHARS: usize = 100;
pub const BANK_REFERENCE_CHARS: usize = 100;
pub const RETURN_REASON_CHARS: usize = 1000;
/// The most withdrawals in one batch: each writes two items (itself and its event) in the
/// batch's one transaction, with the batch's own, under DynamoDB's 100 a transaction.
pub const BATCH_MAX: usize = 40;

/// A seller's request to withdraw.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWithdrawal {
    pub amount: Money,
    pub sheba: String,
    pub holder_name: String,
}

impl NewWithdrawal {
    /// Its shape: a positive IRR amount, a Sheba number that passes its check, and a
    /// holder's name that begins with a letter (so no spreadsheet reads it as a formula).
    pub fn check(&self) -> Result<Sheba, ApiError> {
        if self.amount.currency != CURRENCY {
            return Err(ApiError::invalid(
                Code::WithdrawalCurrencyNotSupported,
                "amount.currency",
                format!("withdrawals are paid in {CURRENCY} only, to an Iranian bank account"),
            ));
        }
        if self.amount.amount <= 0 {
            return Err(ApiError::invalid(Code::InvalidAmount, "amount.amount", "a withdrawal is at least 1 Rial"));
        }
        let sheba = Sheba::parse(&self.sheba, "sheba")?;
        validate::line("holder_name", &self.holder_name, HOLDER_NAME_CHARS)?;
        if !self.holder_name.trim_start().starts_with(char::is_alphabetic) {
            return Err(ApiError::invalid(
                Code::InvalidHolderName,
                "holder_name",
                "the account holder's name begins with a letter",
            ));
        }
        Ok(sheba)
    }

    pub fn into_withdrawal(self, sheba: Sheba, seller_id: &str, id: String, now: DateTime<Utc>) -> Withdrawal {
        Withdrawal {
            withdrawal_id: id,
            seller_id: seller_id.to_owned(),
            amount: self.amount,
            sheba,
            holder_name: self.holder_name.trim().to_owned(),
            state: WithdrawalState::Requested,
            batch_id: None,
            bank_reference: None,
            return_reason: None,
            decided_by: None,
            created_at: now,
            updated_at: now,
            version: 0,
            head_hash: crate::timeline::GENESIS.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub withdrawal_id: String,
    pub seller_id: String,
    pub amount: Money,
    pub sheba: Sheba,
    pub holder_name: String,
    pub state: WithdrawalState,
    /// The bank transfer batch it was put in.
    pub batch_id: Option<String>,
    /// The bank's reference for the transfer, once paid.
    pub bank_reference: Option<String>,
    /// Why support returned it.
    pub return_reason: Option<String>,
    /// The support user who decided it.
    pub decided_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
    pub head_hash: String,
}

impl Withdrawal {
    pub fn view(&self) -> Value {
        json!({
            "withdrawal_id": self.withdrawal_id,
            "seller_id": self.seller_id,
            "amount": self.amount,
            "sheba": self.sheba.as_str(),
            "holder_name": self.holder_name,
            "status": self.state,
            "batch_id": self.batch_id,
            "bank_reference": self.bank_reference,
            "return_reason": self.return_reason,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// The problem for a refused withdrawal step: a decided one is decided once.
pub fn refused(withdrawal: &Withdrawal, refusal: Refusal) -> ApiError {
    match (withdrawal.state, refusal) {
        (WithdrawalState::Paid | WithdrawalState::Returned, Refusal::NotNow) => ApiError::conflict(
            Code::WithdrawalDecided,
            format!("this withdrawal was {} already; it is decided once", crate::lifecycle::snake(withdrawal.state)),
        ),
        (_, refusal) => crate::tracked::refusal::<Withdrawal>(refusal),
    }
}

use crate::tracked::Tracked;

impl Tracked for Withdrawal {
    type State = WithdrawalState;
    const KIND: &'static str = "WITHDRAWAL";
    const NAME: &'static str = "withdrawal";
    const HAS_BUYER: bool = false;
    fn id(&self) -> &str {
        &self.withdrawal_id
    }
    /// A withdrawal has no buyer ([`Tracked::HAS_BUYER`]): it is listed for its seller
    /// (GSI1) and in support's queue by state (GSI2).
    fn buyer_id(&self) -> &str {
        ""
    }
    fn seller_id(&self) -> &str {
        &self.seller_id
    }
    fn state(&self) -> WithdrawalState {
        self.state
    }
    fn set_state(&mut self, state: WithdrawalState) {
        self.state = state;
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn head_hash(&self) -> &str {
        &self.head_hash
    }
    fn set_chain(&mut self, version: u64, head_hash: String, now: DateTime<Utc>) {
        self.version = version;
        self.head_hash = head_hash;
        self.updated_at = now;
    }
    fn support_queue(&self) -> Option<WithdrawalState> {
        Some(self.state)
    }
}

/// A bank transfer batch: the withdrawals support put in it, as they were, in one file.
/// Written once, with their moves to `batched`, in one transaction; its file can be
/// downloaded again and is the same file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub batch_id: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub total: Money,
    pub lines: Vec<BatchLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchLine {
    pub withdrawal_id: String,
    pub amount: i64,
    pub sheba: Sheba,
    pub holder_name: String,
}

impl Batch {
    /// The batch of `withdrawals` (all IRR, all `requested`), oldest first as given.
    pub fn of(withdrawals: &[Withdrawal], batch_id: String, support_id: &str, now: DateTime<Utc>) -> Batch {
        let lines: Vec<BatchLine> = withdrawals
            .iter()
            .map(|w| BatchLine {
                withdrawal_id: w.withdrawal_id.clone(),
                amount: w.amount.amount,
                sheba: w.sheba.clone(),
                holder_name: w.holder_name.clone(),
            })
            .collect();
        let total = lines.iter().map(|l| l.amount).sum();
        Batch {
            batch_id,
            created_by: support_id.to_owned(),
            created_at: now,
            total: Money { amount: total, currency: CURRENCY.to_owned() },
            lines,
        }
    }

    pub fn view(&self) -> Value {
        json!({
            "batch_id": self.batch_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "total": self.total,
            "count": self.lines.len(),
            "withdrawal_ids": self.lines.iter().map(|l| &l.withdrawal_id).collect::<Vec<_>>(),
        })
    }

    /// The file for the bank's bulk transfer (`docs/money.md`, "The batch file"): UTF-8,
    /// comma-separated, a header row, then a row per withdrawal: `row` (from 1),
    /// `sheba`, `amount_irr`, `holder_name`, `description` (`peyman {withdrawal_id}`,
    /// which the bank's statement carries back).
    pub fn csv(&self) -> Result<String, ApiError> {
        let mut file = csv::Writer::from_writer(Vec::new());
        let failed = |e: csv::Error| ApiError::internal(format!("the batch file cannot be written: {e}"));
        file.write_record(["row", "sheba", "amount_irr", "holder_name", "description"]).map_err(failed)?;
        for (row, line) in self.lines.iter().enumerate() {
            let description = format!("peyman {}", line.withdrawal_id);
            file.write_record([
                (row + 1).to_string().as_str(),
                line.sheba.as_str(),
                line.amount.to_string().as_str(),
                line.holder_name.as_str(),
                description.as_str(),
            ])
            .map_err(failed)?;
        }
        let bytes = file.into_inner().map_err(|e| ApiError::internal(format!("the batch file: {e}")))?;
        String::from_utf8(bytes).map_err(ApiError::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::Caller;
    use crate::lifecycle::{self, Actor, WITHDRAWAL, WithdrawalAction};

    // A Sheba number whose check digits match (ISO 13616).
    const SHEBA: &str = "IR820540102680020817909002";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn new(amount: i64, currency: &str, sheba: &str, name: &str) -> NewWithdrawal {
        NewWithdrawal {
            amount: Money { amount, currency: currency.into() },
            sheba: sheba.into(),
            holder_name: name.into(),
        }
    }

    fn code(e: ApiError) -> (&'static str, Option<String>) {
        match e {
            ApiError::Invalid { code, field, .. } => (code.as_str(), field),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_withdrawal_is_positive_irr_to_a_checked_sheba_and_a_name() {
        assert!(new(1, "IRR", SHEBA, "زهرا احمدی‌نژاد").check().is_ok());
        assert_eq!(code(new(0, "IRR", SHEBA, "Ali").check().unwrap_err()).0, "invalid_amount");
        assert_eq!(code(new(-5, "IRR", SHEBA, "Ali").check().unwrap_err()).0, "invalid_amount");
        assert_eq!(
            code(new(5, "USD", SHEBA, "Ali").check().unwrap_err()),
            ("withdrawal_currency_not_supported", Some("amount.currency".into()))
        );
        assert_eq!(code(new(5, "IRR", "IR820540102680020817909003", "Ali").check().unwrap_err()).0, "invalid_sheba");
        assert_eq!(code(new(5, "IRR", SHEBA, " ").check().unwrap_err()).0, "empty");
        assert_eq!(code(new(5, "IRR", SHEBA, "=HYPERLINK(1)").check().unwrap_err()).0, "invalid_holder_name");
        assert_eq!(code(new(5, "IRR", SHEBA, &"ع".repeat(101)).check().unwrap_err()).0, "too_long");
    }

    fn withdrawal(id: &str, amount: i64, name: &str) -> Withdrawal {
        let new = new(amount, "IRR", SHEBA, name);
        let sheba = new.check().unwrap();
        new.into_withdrawal(sheba, "seller-1", id.into(), now())
    }

    #[test]
    fn the_batch_file_quotes_what_needs_it_and_keeps_persian_intact() {
        let batch = Batch::of(
            &[withdrawal("01A", 7_000_000, "Smith, \"Jo\""), withdrawal("01B", 5, "زهرا احمدی‌نژاد")],
            "01BATCH".into(),
            "support-1",
            now(),
        );
        assert_eq!(batch.total, Money { amount: 7_000_005, currency: "IRR".into() });
        assert_eq!(
            batch.csv().unwrap(),
            format!(
                "row,sheba,amount_irr,holder_name,description\n\
                 1,{SHEBA},7000000,\"Smith, \"\"Jo\"\"\",peyman 01A\n\
                 2,{SHEBA},5,زهرا احمدی‌نژاد,peyman 01B\n"
            )
        );
    }

    #[test]
    fn a_withdrawal_is_decided_once_by_support_and_seen_only_by_its_seller_and_support() {
        let w = withdrawal("01A", 5, "Ali");
        let facts = w.facts(now());
        use WithdrawalAction::*;
        use WithdrawalState::*;
        for from in [Requested, Batched] {
            for action in [MarkPaid, Return] {
                assert!(lifecycle::step(WITHDRAWAL, from, action, Actor::Support, &facts).is_ok());
                for actor in [Actor::Seller, Actor::Buyer, Actor::System] {
                    assert!(lifecycle::step(WITHDRAWAL, from, action, actor, &facts).is_err(), "{actor:?}");
                }
            }
        }
        for decided in [Paid, Returned] {
            for action in [Batch, MarkPaid, Return] {
                let refusal = lifecycle::step(WITHDRAWAL, decided, action, Actor::Support, &facts).unwrap_err();
                let mut w = w.clone();
                w.state = decided;
                assert!(matches!(refused(&w, refusal), ApiError::Conflict { code: Code::WithdrawalDecided, .. }));
            }
        }
        assert!(lifecycle::step(WITHDRAWAL, Batched, Batch, Actor::Support, &facts).is_err(), "batched once");
        let seller = Caller { user_id: "seller-1".into(), is_support: false };
        let other = Caller { user_id: "buyer-1".into(), is_support: false };
        let support = Caller { user_id: "support-1".into(), is_support: true };
        assert_eq!(w.role_of(&seller), Some(Actor::Seller));
        assert_eq!(w.role_of(&other), None);
        assert_eq!(w.role_of(&Caller { user_id: String::new(), is_support: false }), None, "no buyer to be");
        assert_eq!(w.role_of(&support), Some(Actor::Support));
        assert_eq!(w.party(Actor::Buyer), None);
    }
}
