//! The ledger's entries and a seller's balances. An entry is written once, in the
//! partition of what caused it, listed in its seller's statement (GSI1); the balances it
//! moves are summed per seller and currency over the whole transaction and written as one
//! update each, refused when an account would go below zero.

use super::commit::Commit;
use super::{Store, item, keys, put, s};
use peyman_rules::error::ApiError;
use peyman_rules::ledger::{Account, Entry};

/// A seller's balances in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct SellerBalance {
    #[serde(default)]
    pub pending: i64,
    #[serde(default)]
    pub available: i64,
    #[serde(default)]
    pub withdrawing: i64,
}

impl Commit {
    /// Writes `entry`, caused by event `seq` of the entity in partition `pk` (once: a
    /// second write of it fails the transaction), listed in its seller's statement, and
    /// counts what it moves on the seller's balances.
    pub fn ledger(&mut self, pk: &str, seq: u64, entry: &Entry) -> Result<(), ApiError> {
        let kind = serde_json::to_value(entry.kind).map_err(ApiError::internal)?;
        let kind = kind.as_str().unwrap_or_default();
        let key = keys::ledger_entry(pk, seq, kind);
        let mut stored = item(&key, "ledger_entry", entry)?;
        if let Some(seller) = &entry.seller_id {
            let at = entry.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            stored.insert(keys::GSI1PK.into(), s(keys::seller_ledger(seller)));
            stored.insert(keys::GSI1SK.into(), s(format!("{at}#{pk}#{seq:010}#{kind}")));
        }
        self.writes.push(put(&self.table, stored, Some("attribute_not_exists(PK)"))?);
        for posting in &entry.postings {
            let at = match &posting.account {
                Account::Pending(_) => 0,
                Account::Available(_) => 1,
                Account::Withdrawing(_) => 2,
                _ => continue,
            };
            let seller = posting.account.seller().unwrap_or_default().to_owned();
            // A seller's accounts are what we owe: a credit (negative) raises the balance.
            self.balances.entry((seller, entry.currency.clone())).or_default()[at] -= posting.amount;
        }
        Ok(())
    }
}

impl Store {
    /// A seller's balances in `currency` (all zero before their first release).
    pub async fn seller_balance(&self, seller_id: &str, currency: &str) -> Result<SellerBalance, ApiError> {
        Ok(self.get_as(&keys::seller_balance(seller_id, currency)).await?.unwrap_or_default())
    }

    /// An order's ledger entries, in the order they were made.
    pub async fn order_ledger(&self, order_id: &str) -> Result<Vec<Entry>, ApiError> {
        self.all_with_prefix(&keys::tracked("ORDER", order_id).pk, keys::LEDGER_PREFIX).await
    }
}
