//! The ledger (issue 26): every movement of money is an entry of balanced postings, made
//! here from what moves and written in the transaction of the transition that causes it.
//! Entries are never changed; a balance is the sum of an account's postings.
//!
//! Postings are signed: a debit is positive, a credit negative, and every entry's postings
//! sum to zero per currency (an entry has one currency). The provider's account and our
//! bank's are assets (their balance is the sum: what they hold for us); every other
//! account is what we owe someone, a liability (its balance is the sum negated):
//!
//! | movement | debit | credit |
//! |---|---|---|
//! | a payment received | `provider/{p}` | `escrow/{order}` |
//! | a stage released | `escrow/{order}` (the stage's amount) | `seller/{id}/pending` (less the fee), `platform/fees` (the fee) |
//! | a refund requested | `escrow/{order}` | `refunds/payable` |
//! | a refund the provider confirmed | `refunds/payable` | `provider/{p}` |
//! | a chargeback | `escrow/{order}` (what is left in it), `platform/losses` (the rest) | `provider/{p}` |
//! | a chargeback the bank decided for us | `provider/{p}` | what the chargeback took, back where it came from |
//! | released money cleared | `seller/{id}/pending` | `seller/{id}/available` |
//! | a withdrawal requested | `seller/{id}/available` | `seller/{id}/withdrawing` |
//! | a withdrawal paid by the bank | `seller/{id}/withdrawing` | `bank/payouts` |
//! | a withdrawal returned | `seller/{id}/withdrawing` | `seller/{id}/available` |
//!
//! So for every order, what was paid is what was released, refunded (by us or by the
//! buyer's bank, a chargeback), or is still in its escrow; and escrow, pending, available,
//! withdrawing and refunds payable never go below zero: a movement
//! that would take more than an account holds is refused here ([`Books::post`]), and the
//! store conditions each on the balance it read.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    /// What a payment provider (`stripe`, `zarinpal`) holds for us.
    Provider(String),
    /// What an order's buyer paid and is neither released nor refunded yet.
    Escrow(String),
    /// A seller's released earnings, waiting for the clearance period.
    Pending(String),
    /// A seller's cleared earnings, theirs to withdraw.
    Available(String),
    /// A seller's withdrawals asked for and not yet paid or returned.
    Withdrawing(String),
    /// The marketplace's fees.
    PlatformFees,
    /// What a chargeback took that no escrow held any more (already released).
    PlatformLosses,
    /// Refunds asked of the provider and not yet confirmed by it.
    RefundsPayable,
    /// Our bank account, which pays withdrawals out.
    BankPayouts,
}

impl Account {
    /// Whether the account holds what is ours (its balance is its postings' sum), rather
    /// than what we owe (the sum negated).
    pub fn is_asset(&self) -> bool {
        matches!(self, Account::Provider(_) | Account::BankPayouts | Account::PlatformLosses)
    }

    /// Whether its balance may never go below zero (a refund confirmed is one asked for).
    pub fn never_negative(&self) -> bool {
        matches!(
            self,
            Account::Escrow(_)
                | Account::Pending(_)
                | Account::Available(_)
                | Account::Withdrawing(_)
                | Account::RefundsPayable
        )
    }

    /// The seller whose account it is, if it is one of a seller's.
    pub fn seller(&self) -> Option<&str> {
        match self {
            Account::Pending(id) | Account::Available(id) | Account::Withdrawing(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Provider(p) => write!(f, "provider/{p}"),
            Account::Escrow(order) => write!(f, "escrow/{order}"),
            Account::Pending(seller) => write!(f, "seller/{seller}/pending"),
            Account::Available(seller) => write!(f, "seller/{seller}/available"),
            Account::Withdrawing(seller) => write!(f, "seller/{seller}/withdrawing"),
            Account::PlatformFees => f.write_str("platform/fees"),
            Account::PlatformLosses => f.write_str("platform/losses"),
            Account::RefundsPayable => f.write_str("refunds/payable"),
            Account::BankPayouts => f.write_str("bank/payouts"),
        }
    }
}

impl std::str::FromStr for Account {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let id = |s: &str| (!s.is_empty()).then(|| s.to_owned()).ok_or_else(|| format!("no id in {text:?}"));
        match parts.as_slice() {
            ["provider", p] => Ok(Account::Provider(id(p)?)),
            ["escrow", order] => Ok(Account::Escrow(id(order)?)),
            ["seller", seller, "pending"] => Ok(Account::Pending(id(seller)?)),
            ["seller", seller, "available"] => Ok(Account::Available(id(seller)?)),
            ["seller", seller, "withdrawing"] => Ok(Account::Withdrawing(id(seller)?)),
            ["platform", "fees"] => Ok(Account::PlatformFees),
            ["platform", "losses"] => Ok(Account::PlatformLosses),
            ["refunds", "payable"] => Ok(Account::RefundsPayable),
            ["bank", "payouts"] => Ok(Account::BankPayouts),
            _ => Err(format!("no account is called {text:?}")),
        }
    }
}

impl Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One side of an entry: `amount` debited (positive) or credited (negative) to `account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount: i64,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    PaymentReceived,
    StageReleased,
    RefundRequested,
    RefundConfirmed,
    Chargeback,
    /// The bank decided a chargeback for us: what it took comes back, where it came from.
    ChargebackReversed,
    /// A completed order was disputed: what its releases gave that has not cleared yet
    /// goes back into escrow (from the seller's pending and the platform's fees), for the
    /// dispute's decision to split.
    ReleaseReversed,
    Cleared,
    WithdrawalRequested,
    WithdrawalPaid,
    WithdrawalReturned,
}

/// One movement of money: balanced postings in one currency, caused by one timeline
/// event (`cause`: `order/{id}#{seq}`, `withdrawal/{id}#{seq}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub currency: String,
    pub postings: Vec<Posting>,
    /// The order it moves money of, if any.
    pub order_id: Option<String>,
    /// The seller whose earnings it moves, if any.
    pub seller_id: Option<String>,
    pub cause: String,
    pub at: DateTime<Utc>,
}

/// Why a movement cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("an amount must be more than zero")]
    NotPositive,
    #[error("{account} holds {holds} {currency}, less than {asked}")]
    Insufficient { account: Account, holds: i64, asked: i64, currency: String },
    #[error("an amount beyond what can be counted")]
    Overflow,
}

/// The seq of the event that caused an entry (`order/{id}#{seq}`), if it names one.
pub fn cause_seq(cause: &str) -> Option<u64> {
    cause.rsplit_once('#').and_then(|(_, seq)| seq.split('/').next()?.parse().ok())
}

/// Of an order's entries, its releases still pending: neither cleared nor taken back by a
/// later reversal (a dispute after completion).
pub fn pending_releases(entries: &[Entry]) -> Vec<Entry> {
    let last_reversal =
        entries.iter().filter(|e| e.kind == EntryKind::ReleaseReversed).filter_map(|e| cause_seq(&e.cause)).max();
    entries
        .iter()
        .filter(|e| e.kind == EntryKind::StageReleased)
        .filter(|r| !entries.iter().any(|e| e.kind == EntryKind::Cleared && e.cause == format!("{}/cleared", r.cause)))
        .filter(|r| last_reversal.is_none_or(|reversed| cause_seq(&r.cause).is_some_and(|seq| seq > reversed)))
        .cloned()
        .collect()
}

impl Entry {
    /// The sum of its postings: zero for every entry made here.
    pub fn sum(&self) -> Option<i64> {
        self.postings.iter().try_fold(0i64, |sum, p| sum.checked_add(p.amount))
    }

    /// The payment provider it moved money with, if any (a payment, a refund confirmed,
    /// a chargeback).
    pub fn provider(&self) -> Option<&str> {
        self.postings.iter().find_map(|p| match &p.account {
            Account::Provider(provider) => Some(provider.as_str()),
            _ => None,
        })
    }

    /// What it moved on the provider's account (positive: the provider holds more).
    pub fn with_provider(&self) -> i64 {
        self.postings.iter().filter(|p| matches!(p.account, Account::Provider(_))).map(|p| p.amount).sum()
    }

    /// The sum of its postings on `account` (a debit positive, a credit negative).
    pub fn posted(&self, account: &Account) -> i64 {
        self.postings.iter().filter(|p| &p.account == account).map(|p| p.amount).sum()
    }

    /// What it moved on `seller`'s pending, available and withdrawing balances (each a
    /// change: positive when the balance grew), and on what the bank paid them out in
    /// total (grows with each withdrawal paid).
    pub fn for_seller(&self, seller: &str) -> [i64; 4] {
        let mut moved = [0; 4];
        for posting in &self.postings {
            let at = match &posting.account {
                Account::Pending(id) if id == seller => 0,
                Account::Available(id) if id == seller => 1,
                Account::Withdrawing(id) if id == seller => 2,
                // Our bank's account pays the withdrawal: what leaves it reaches the seller.
                Account::BankPayouts if self.seller_id.as_deref() == Some(seller) => {
                    moved[3] -= posting.amount;
                    continue;
                }
                _ => continue,
            };
            moved[at] -= posting.amount;
        }
        moved
    }

    /// A line of `seller`'s statement: what moved, on which of their balances, why.
    pub fn statement_line(&self, seller: &str) -> serde_json::Value {
        let [pending, available, withdrawing, paid_out] = self.for_seller(seller);
        serde_json::json!({
            "kind": self.kind,
            "at": self.at,
            "currency": self.currency,
            "order_id": self.order_id,
            "cause": self.cause,
            "pending": pending,
            "available": available,
            "withdrawing": withdrawing,
            "paid_out": paid_out,
        })
    }
}

/// A movement to make: the postings of one [`EntryKind`], before it is checked.
fn entry(
    kind: EntryKind,
    currency: &str,
    postings: Vec<(Account, i64)>,
    order_id: Option<&str>,
    seller_id: Option<&str>,
    cause: &str,
    at: DateTime<Utc>,
) -> Result<Entry, Refusal> {
    let postings: Vec<Posting> = postings
        .into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|(account, amount)| Posting { account, amount })
        .collect();
    let entry = Entry {
        kind,
        currency: currency.to_owned(),
        postings,
        order_id: order_id.map(str::to_owned),
        seller_id: seller_id.map(str::to_owned),
        cause: cause.to_owned(),
        at,
    };
    match entry.sum() {
        Some(0) => Ok(entry),
        _ => Err(Refusal::Overflow),
    }
}

fn positive(amount: i64) -> Result<i64, Refusal> {
    if amount > 0 { Ok(amount) } else { Err(Refusal::NotPositive) }
}

fn neg(amount: i64) -> Result<i64, Refusal> {
    amount.checked_neg().ok_or(Refusal::Overflow)
}

/// The platform's fee on a release: a share in basis points (1/100 of a percent) with a
/// minimum, in the order's currency, never more than what is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeePolicy {
    pub basis_points: u32,
    pub minimum: i64,
}

impl Default for FeePolicy {
    /// 10 %, at least 50,000 IRR a release (`product.md`'s policy table).
    fn default() -> Self {
        FeePolicy { basis_points: 1_000, minimum: 50_000 }
    }
}

impl FeePolicy {
    /// No fee at all (the tip's default).
    pub fn none() -> Self {
        FeePolicy { basis_points: 0, minimum: 0 }
    }

    /// The fee on releasing `gross`: its share, rounded down, at least the minimum, at
    /// most `gross`.
    pub fn fee(&self, gross: i64) -> Result<i64, Refusal> {
        let gross = positive(gross)?;
        let share = i128::from(gross) * i128::from(self.basis_points) / 10_000;
        let share = i64::try_from(share).map_err(|_| Refusal::Overflow)?;
        Ok(share.max(self.minimum).min(gross))
    }

    /// What the seller is paid of `gross` after the fee.
    pub fn net(&self, gross: i64) -> Result<i64, Refusal> {
        Ok(gross - self.fee(gross)?)
    }
}

/// An order's money: what its buyer paid into its escrow, and what left it. What it
/// still holds is the rest ([`Escrow::held`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escrow {
    pub paid: i64,
    pub released: i64,
    /// Refunds asked for (by us) and chargebacks (by the buyer's bank) together.
    pub refunded: i64,
}

impl Escrow {
    pub fn held(&self) -> i64 {
        self.paid - self.released - self.refunded
    }
}

/// A release of escrow to the seller: the stage accepted (1-based), what leaves escrow,
/// the platform's fee on it, and what the seller earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub stage: u32,
    pub gross: i64,
    pub fee: i64,
    pub net: i64,
}

/// Balances by account and currency, as the postings so far make them, and the checks a
/// movement must pass against them. The store keeps the balances the checks read (an
/// order's escrow, a seller's accounts) and conditions each write on them; the
/// property test keeps every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    sums: BTreeMap<(Account, String), i64>,
}

impl Books {
    /// The balance of `account` in `currency`: what it holds for us (an asset) or what we
    /// owe on it (any other).
    pub fn balance(&self, account: &Account, currency: &str) -> i64 {
        let sum = self.sums.get(&(account.clone(), currency.to_owned())).copied().unwrap_or(0);
        if account.is_asset() { sum } else { -sum }
    }

    /// Sets a balance as the store read it (the accounts a movement checks).
    pub fn with_balance(mut self, account: Account, currency: &str, balance: i64) -> Books {
        let sum = if account.is_asset() { balance } else { -balance };
        self.sums.insert((account, currency.to_owned()), sum);
        self
    }

    /// Applies `entry`, or refuses it whole when it would leave an account that may
    /// never go below zero below zero.
    pub fn post(&mut self, entry: &Entry) -> Result<(), Refusal> {
        if entry.sum() != Some(0) {
            return Err(Refusal::Overflow);
        }
        let mut next = self.sums.clone();
        for posting in &entry.postings {
            let sum = next.entry((posting.account.clone(), entry.currency.clone())).or_insert(0);
            *sum = sum.checked_add(posting.amount).ok_or(Refusal::Overflow)?;
        }
        for posting in &entry.postings {
            let account = &posting.account;
            let after = next[&(account.clone(), entry.currency.clone())];
            let balance = if account.is_asset() { after } else { -after };
            if account.never_negative() && balance < 0 {
                return Err(Refusal::Insufficient {
                    account: account.clone(),
                    holds: self.balance(account, &entry.currency),
                    asked: posting.amount.abs(),
                    currency: entry.currency.clone(),
                });
            }
        }
        self.sums = next;
        Ok(())
    }
}

/// The entries of each movement. Each takes the amounts it moves (positive, in the
/// currency's smallest unit) and what caused it; the store checks them against its
/// balances with [`Books::post`].
pub mod entries {
    use super::*;

    pub fn payment_received(
        provider: &str,
        order_id: &str,
        amount: i64,
        currency: &str,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let (debit, credit) = (Account::Provider(provider.into()), Account::Escrow(order_id.into()));
        transfer(EntryKind::PaymentReceived, debit, credit, amount, currency, (Some(order_id), None), cause, at)
    }

    /// A stage's `gross` leaves the order's escrow: `fee` to the platform, the rest to
    /// the seller's pending earnings.
    pub fn stage_released(
        order_id: &str,
        seller_id: &str,
        gross: i64,
        fee: i64,
        currency: &str,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let gross = positive(gross)?;
        if !(0..=gross).contains(&fee) {
            return Err(Refusal::Overflow);
        }
        entry(
            EntryKind::StageReleased,
            currency,
            vec![
                (Account::Escrow(order_id.into()), gross),
                (Account::Pending(seller_id.into()), neg(gross - fee)?),
                (Account::PlatformFees, neg(fee)?),
            ],
            Some(order_id),
            Some(seller_id),
            cause,
            at,
        )
    }

    pub fn refund_requested(
        order_id: &str,
        amount: i64,
        currency: &str,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let (debit, credit) = (Account::Escrow(order_id.into()), Account::RefundsPayable);
        transfer(EntryKind::RefundRequested, debit, credit, amount, currency, (Some(order_id), None), cause, at)
    }

    pub fn refund_confirmed(
        provider: &str,
        order_id: &str,
        amount: i64,
        currency: &str,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let (debit, credit) = (Account::RefundsPayable, Account::Provider(provider.into()));
        transfer(EntryKind::RefundConfirmed, debit, credit, amount, currency, (Some(order_id), None), cause, at)
    }

    /// The bank takes back `amount`: from what is still in escrow (`in_escrow`), the rest
    /// a loss of the platform's.
    pub fn chargeback(
        provider: &str,
        order_id: &str,
        amount: i64,
        in_escrow: i64,
        currency: &str,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let amount = positive(amount)?;
        let from_escrow = in_escrow.clamp(0, amount);
        entry(
            EntryKind::Chargeback,
            currency,
            vec![
                (Account::Escrow(order_id.into()), from_escrow),
                (Account::PlatformLosses, amount - from_escrow),
                (Account::Provider(provider.into()), neg(amount)?),
            ],
            Some(order_id),
            None,
            cause,
            at,
        )
    }

    /// Between two of a seller's accounts: cleared (pending → available), a withdrawal
    /// asked for (available → withdrawing) or returned (withdrawing → available).
    /// The chargeback `taken` (an entry of kind `Chargeback`) reversed: the bank decided
    /// it for us, and what it took comes back to where it came from.
    pub fn chargeback_reversed(taken: &Entry, cause: &str, at: DateTime<Utc>) -> Result<Entry, Refusal> {
        if taken.kind != EntryKind::Chargeback {
            return Err(Refusal::Overflow);
        }
        let postings =
            taken.postings.iter().map(|p| Ok((p.account.clone(), neg(p.amount)?))).collect::<Result<_, _>>()?;
        let order_id = taken.order_id.as_deref();
        entry(EntryKind::ChargebackReversed, &taken.currency, postings, order_id, None, cause, at)
    }

    /// The releases `released` (entries of kind `StageReleased` of one order, none cleared)
    /// taken back into the order's escrow: one entry, each account moved by the sum.
    pub fn release_reversed(released: &[Entry], cause: &str, at: DateTime<Utc>) -> Result<Entry, Refusal> {
        let first = released.first().ok_or(Refusal::NotPositive)?;
        let mut postings: Vec<(Account, i64)> = Vec::new();
        for release in released {
            if release.kind != EntryKind::StageReleased || release.order_id != first.order_id {
                return Err(Refusal::Overflow);
            }
            for p in &release.postings {
                let back = neg(p.amount)?;
                match postings.iter_mut().find(|(account, _)| account == &p.account) {
                    Some((_, sum)) => *sum = sum.checked_add(back).ok_or(Refusal::Overflow)?,
                    None => postings.push((p.account.clone(), back)),
                }
            }
        }
        let (order_id, seller_id) = (first.order_id.as_deref(), first.seller_id.as_deref());
        entry(EntryKind::ReleaseReversed, &first.currency, postings, order_id, seller_id, cause, at)
    }

    pub fn seller_move(
        kind: EntryKind,
        seller_id: &str,
        amount: i64,
        currency: &str,
        order_id: Option<&str>,
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let seller = || seller_id.to_owned();
        let (from, to) = match kind {
            EntryKind::Cleared => (Account::Pending(seller()), Account::Available(seller())),
            EntryKind::WithdrawalRequested => (Account::Available(seller()), Account::Withdrawing(seller())),
            EntryKind::WithdrawalReturned => (Account::Withdrawing(seller()), Account::Available(seller())),
            EntryKind::WithdrawalPaid => (Account::Withdrawing(seller()), Account::BankPayouts),
            _ => return Err(Refusal::Overflow),
        };
        transfer(kind, from, to, amount, currency, (order_id, Some(seller_id)), cause, at)
    }

    /// `amount` (positive) debited to `debit` and credited to `credit`, about an order
    /// and a seller (`about`).
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        kind: EntryKind,
        debit: Account,
        credit: Account,
        amount: i64,
        currency: &str,
        (order_id, seller_id): (Option<&str>, Option<&str>),
        cause: &str,
        at: DateTime<Utc>,
    ) -> Result<Entry, Refusal> {
        let amount = positive(amount)?;
        entry(kind, currency, vec![(debit, amount), (credit, neg(amount)?)], order_id, seller_id, cause, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_reversal_takes_back_the_pending_releases_once_and_not_what_cleared() {
        let release = |seq: u64, gross| {
            entries::stage_released("o", "s", gross, gross / 10, "IRR", &format!("order/o#{seq}"), at()).unwrap()
        };
        let (first, second) = (release(4, 5_000_000), release(6, 7_000_000));
        let cleared =
            entries::seller_move(EntryKind::Cleared, "s", 4_500_000, "IRR", Some("o"), "order/o#4/cleared", at())
                .unwrap();
        assert_eq!(pending_releases(&[first.clone(), second.clone()]), [first.clone(), second.clone()]);
        let after_clearance = pending_releases(&[first.clone(), second.clone(), cleared.clone()]);
        assert_eq!(after_clearance, std::slice::from_ref(&second));
        let back = entries::release_reversed(&[first.clone(), second.clone()], "order/o#7", at()).unwrap();
        assert_eq!(
            (back.kind, back.sum(), back.posted(&Account::Escrow("o".into()))),
            (EntryKind::ReleaseReversed, Some(0), -12_000_000)
        );
        assert_eq!(back.for_seller("s"), [-10_800_000, 0, 0, 0], "the seller's pending gives back each net");
        assert!(pending_releases(&[first.clone(), second.clone(), back.clone()]).is_empty());
        // A release after the reversal (the dispute decided for the seller) is pending again.
        let again = release(9, 12_000_000);
        assert_eq!(pending_releases(&[first, second.clone(), back, again.clone()]), [again]);
        assert!(entries::release_reversed(&[], "c", at()).is_err());
        assert!(entries::release_reversed(&[cleared], "c", at()).is_err(), "only releases are reversed");
    }

    #[test]
    fn accounts_are_named_as_they_are_stored_and_read_back() {
        for account in [
            Account::Provider("stripe".into()),
            Account::Escrow("01ORDER".into()),
            Account::Pending("seller".into()),
            Account::Available("seller".into()),
            Account::Withdrawing("seller".into()),
            Account::PlatformFees,
            Account::PlatformLosses,
            Account::RefundsPayable,
            Account::BankPayouts,
        ] {
            assert_eq!(account.to_string().parse::<Account>(), Ok(account.clone()), "{account}");
        }
        assert!("escrow/".parse::<Account>().is_err());
        assert!("seller/x/spent".parse::<Account>().is_err());
    }

    #[test]
    fn the_fee_is_its_share_at_least_the_minimum_and_never_more_than_the_release() {
        let fee = FeePolicy::default();
        assert_eq!(fee.fee(12_000_000), Ok(1_200_000), "10 %");
        assert_eq!(fee.fee(100_000), Ok(50_000), "the minimum");
        assert_eq!(fee.fee(30_000), Ok(30_000), "never more than released");
        assert_eq!(fee.net(12_000_000), Ok(10_800_000));
        assert_eq!(fee.fee(0), Err(Refusal::NotPositive));
        assert_eq!(FeePolicy { basis_points: 1_000, minimum: 0 }.fee(15), Ok(1), "rounded down");
        assert_eq!(FeePolicy { basis_points: 10_000, minimum: 0 }.fee(i64::MAX), Ok(i64::MAX), "no overflow");
    }

    #[test]
    fn a_release_takes_what_escrow_holds_and_no_more() {
        let mut books = Books::default();
        let paid = entries::payment_received("stripe", "o1", 1_000_000, "IRR", "order/o1#3", at()).unwrap();
        books.post(&paid).unwrap();
        let release = entries::stage_released("o1", "s", 600_000, 60_000, "IRR", "order/o1#5", at()).unwrap();
        books.post(&release).unwrap();
        assert_eq!(books.balance(&Account::Escrow("o1".into()), "IRR"), 400_000);
        assert_eq!(books.balance(&Account::Pending("s".into()), "IRR"), 540_000);
        assert_eq!(books.balance(&Account::PlatformFees, "IRR"), 60_000);
        assert_eq!(books.balance(&Account::Provider("stripe".into()), "IRR"), 1_000_000);
        let too_much = entries::stage_released("o1", "s", 400_001, 0, "IRR", "order/o1#6", at()).unwrap();
        let before = books.clone();
        assert!(matches!(books.post(&too_much), Err(Refusal::Insufficient { holds: 400_000, .. })));
        assert_eq!(books, before, "a refused entry changes nothing");
    }

    #[test]
    fn a_chargeback_won_puts_back_what_it_took_where_it_took_it() {
        let mut books = Books::default();
        books.post(&entries::payment_received("stripe", "o1", 1_000_000, "IRR", "c1", at()).unwrap()).unwrap();
        books.post(&entries::stage_released("o1", "s", 600_000, 60_000, "IRR", "c2", at()).unwrap()).unwrap();
        let before = books.clone();
        let taken = entries::chargeback("stripe", "o1", 1_000_000, 400_000, "IRR", "c3", at()).unwrap();
        books.post(&taken).unwrap();
        assert_eq!(books.balance(&Account::Escrow("o1".into()), "IRR"), 0);
        assert_eq!(books.balance(&Account::PlatformLosses, "IRR"), 600_000, "what was released already");
        let back = entries::chargeback_reversed(&taken, "c4", at()).unwrap();
        assert_eq!((back.kind, back.sum()), (EntryKind::ChargebackReversed, Some(0)));
        books.post(&back).unwrap();
        assert_eq!(books, before.with_balance(Account::PlatformLosses, "IRR", 0), "as before it");
        assert!(entries::chargeback_reversed(&back, "c5", at()).is_err(), "only a chargeback is reversed");
    }

    #[test]
    fn no_entry_of_nothing_or_of_less() {
        assert_eq!(entries::payment_received("stripe", "o", 0, "IRR", "c", at()), Err(Refusal::NotPositive));
        assert_eq!(entries::refund_requested("o", -5, "IRR", "c", at()), Err(Refusal::NotPositive));
        assert_eq!(entries::stage_released("o", "s", 10, 11, "IRR", "c", at()), Err(Refusal::Overflow));
    }

    /// One step of a random life of the marketplace's money.
    #[derive(Debug, Clone)]
    enum Op {
        Pay { order: usize, amount: i64 },
        Release { order: usize, amount: i64 },
        Refund { order: usize, amount: i64 },
        ConfirmRefund { order: usize, amount: i64 },
        Chargeback { order: usize, amount: i64 },
        ChargebackWon { order: usize },
        ReverseRelease { order: usize },
        Clear { seller: usize, amount: i64 },
        Withdraw { seller: usize, amount: i64 },
        Paid { seller: usize, amount: i64 },
        Returned { seller: usize, amount: i64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        let amount = 1i64..5_000_000;
        prop_oneof![
            (0..4usize, amount.clone()).prop_map(|(order, amount)| Op::Pay { order, amount }),
            (0..4usize, amount.clone()).prop_map(|(order, amount)| Op::Release { order, amount }),
            (0..4usize, amount.clone()).prop_map(|(order, amount)| Op::Refund { order, amount }),
            (0..4usize, amount.clone()).prop_map(|(order, amount)| Op::ConfirmRefund { order, amount }),
            (0..4usize, amount.clone()).prop_map(|(order, amount)| Op::Chargeback { order, amount }),
            (0..4usize).prop_map(|order| Op::ChargebackWon { order }),
            (0..4usize).prop_map(|order| Op::ReverseRelease { order }),
            (0..2usize, amount.clone()).prop_map(|(seller, amount)| Op::Clear { seller, amount }),
            (0..2usize, amount.clone()).prop_map(|(seller, amount)| Op::Withdraw { seller, amount }),
            (0..2usize, amount.clone()).prop_map(|(seller, amount)| Op::Paid { seller, amount }),
            (0..2usize, amount).prop_map(|(seller, amount)| Op::Returned { seller, amount }),
        ]
    }

    proptest! {
        /// Random sequences of every movement, each applied only if the books take it (as
        /// the store's conditions would): every entry balances, no escrow, pending,
        /// available or withdrawing balance goes below zero, and for every order what
        /// was paid is what was released, refunded or is still in escrow.
        #[test]
        fn the_books_balance_whatever_happens(ops in proptest::collection::vec(op(), 1..80)) {
            let fee = FeePolicy::default();
            let mut books = Books::default();
            let mut paid = [0i64; 4];
            let mut released = [0i64; 4];
            let mut refunded = [0i64; 4];
            let mut charged_back = [0i64; 4];
            // Each order's last chargeback not decided yet, which the bank may reverse.
            let mut undecided: [Option<Entry>; 4] = Default::default();
            // Each order's releases not reversed yet, which a dispute after completion takes
            // back.
            let mut releases: [Vec<Entry>; 4] = Default::default();
            let order = |i: usize| format!("o{i}");
            let seller = |i: usize| format!("s{}", i % 2);
            for op in ops {
                let made = match op {
                    Op::Pay { order: i, amount } => entries::payment_received("stripe", &order(i), amount, "IRR", "c", at()),
                    Op::Release { order: i, amount } => fee.fee(amount).and_then(|f| {
                        entries::stage_released(&order(i), &seller(i), amount, f, "IRR", "c", at())
                    }),
                    Op::Refund { order: i, amount } => entries::refund_requested(&order(i), amount, "IRR", "c", at()),
                    Op::ConfirmRefund { order: i, amount } => {
                        entries::refund_confirmed("stripe", &order(i), amount, "IRR", "c", at())
                    }
                    Op::Chargeback { order: i, amount } => {
                        let in_escrow = books.balance(&Account::Escrow(order(i)), "IRR");
                        entries::chargeback("stripe", &order(i), amount, in_escrow, "IRR", "c", at())
                    }
                    Op::ChargebackWon { order: i } => match &undecided[i] {
                        Some(taken) => entries::chargeback_reversed(taken, "c", at()),
                        None => continue,
                    },
                    Op::ReverseRelease { order: i } => entries::release_reversed(&releases[i], "c", at()),
                    Op::Clear { seller: s, amount } => {
                        entries::seller_move(EntryKind::Cleared, &seller(s), amount, "IRR", None, "c", at())
                    }
                    Op::Withdraw { seller: s, amount } => {
                        entries::seller_move(EntryKind::WithdrawalRequested, &seller(s), amount, "IRR", None, "c", at())
                    }
                    Op::Paid { seller: s, amount } => {
                        entries::seller_move(EntryKind::WithdrawalPaid, &seller(s), amount, "IRR", None, "c", at())
                    }
                    Op::Returned { seller: s, amount } => {
                        entries::seller_move(EntryKind::WithdrawalReturned, &seller(s), amount, "IRR", None, "c", at())
                    }
                };
                let Ok(entry) = made else { continue };
                prop_assert_eq!(entry.sum(), Some(0), "{:?}", entry);
                let before = books.clone();
                if books.post(&entry).is_err() {
                    prop_assert_eq!(&books, &before, "a refused entry changes nothing");
                    continue;
                }
                if let Some(i) = entry.order_id.as_ref().and_then(|o| o[1..].parse::<usize>().ok()) {
                    let amount = |account: &Account| entry.posted(account);
                    match entry.kind {
                        EntryKind::PaymentReceived => paid[i] += entry.postings[0].amount,
                        EntryKind::StageReleased => {
                            released[i] += amount(&Account::Escrow(order(i)));
                            releases[i].push(entry.clone());
                        }
                        EntryKind::ReleaseReversed => {
                            released[i] += amount(&Account::Escrow(order(i)));
                            releases[i].clear();
                        }
                        EntryKind::RefundRequested => refunded[i] += amount(&Account::Escrow(order(i))),
                        EntryKind::Chargeback => {
                            charged_back[i] += amount(&Account::Escrow(order(i)));
                            undecided[i] = Some(entry.clone());
                        }
                        EntryKind::ChargebackReversed => {
                            charged_back[i] += amount(&Account::Escrow(order(i)));
                            undecided[i] = None;
                        }
                        _ => {}
                    }
                }
                for i in 0..4 {
                    let escrow = books.balance(&Account::Escrow(order(i)), "IRR");
                    prop_assert!(escrow >= 0);
                    prop_assert_eq!(paid[i], released[i] + refunded[i] + charged_back[i] + escrow, "order {}", i);
                }
                for s in 0..2 {
                    for account in [Account::Pending(seller(s)), Account::Available(seller(s)), Account::Withdrawing(seller(s))] {
                        prop_assert!(books.balance(&account, "IRR") >= 0, "{}", account);
                    }
                }
            }
        }
    }
}
