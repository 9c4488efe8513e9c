//! The ledger's entries and a seller's balances. An entry is written once, in the
//! partition of what caused it, listed in its seller's statement (GSI1); the balances it
//! moves are summed per seller and currency over the whole transaction and written as one
//! update each, refused when an account would go below zero.

use super::commit::Commit;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::{Page, Store, db_error, decode, item, key_item, keys, put, s};
use peyman_rules::error::ApiError;
use peyman_rules::ledger::Entry;
use peyman_rules::reconciliation::Report;

/// A seller's balances in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct SellerBalance {
    #[serde(default)]
    pub pending: i64,
    #[serde(default)]
    pub available: i64,
    #[serde(default)]
    pub withdrawing: i64,
    /// Withdrawals the bank paid, in total.
    #[serde(default)]
    pub paid_out: i64,
    #[serde(default)]
    pub currency: String,
}

impl Commit {
    /// Writes `entry`, caused by event `seq` of the entity in partition `pk` (once: a
    /// second write of it fails the transaction), listed in its seller's statement, and
    /// counts what it moves on the seller's balances.
    ///
    /// A release that clears later (`clears_at`) is also listed among its seller's
    /// releases not yet cleared, until [`Commit::cleared`].
    pub fn ledger(
        &mut self,
        pk: &str,
        seq: u64,
        entry: &Entry,
        clears_at: Option<DateTime<Utc>>,
    ) -> Result<(), ApiError> {
        let kind = serde_json::to_value(entry.kind).map_err(ApiError::internal)?;
        let kind = kind.as_str().unwrap_or_default();
        let key = keys::ledger_entry(pk, seq, kind);
        let mut stored = item(&key, "ledger_entry", entry)?;
        let at = entry.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let sort = format!("{at}#{pk}#{seq:010}#{kind}");
        // A movement with a provider (which no seller's is) is listed by its day, for
        // reconciliation.
        if let Some(provider) = entry.provider() {
            stored.insert(keys::GSI1PK.into(), s(keys::provider_ledger(provider, entry.at.date_naive(), pk)));
            stored.insert(keys::GSI1SK.into(), s(&sort));
        }
        if let Some(seller) = &entry.seller_id {
            stored.insert(keys::GSI1PK.into(), s(keys::seller_ledger(seller)));
            stored.insert(keys::GSI1SK.into(), s(sort));
            if let Some(clears_at) = clears_at {
                let clears_at = clears_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                stored.insert(keys::GSI2PK.into(), s(keys::seller_clearing(seller)));
                stored.insert(keys::GSI2SK.into(), s(format!("{clears_at}#{pk}#{seq:010}")));
            }
        }
        self.writes.push(put(&self.table, stored, Some("attribute_not_exists(PK)"))?);
        if let Some(seller) = &entry.seller_id {
            let sums = self.balances.entry((seller.clone(), entry.currency.clone())).or_default();
            for (sum, moved) in sums.iter_mut().zip(entry.for_seller(seller)) {
                *sum += moved;
            }
        }
        Ok(())
    }

    /// The release booked by event `seq` in partition `pk` has cleared, or was taken back
    /// by a dispute after completion: it leaves its seller's releases not yet cleared (its
    /// postings stay as they were), once. A clearance and a reversal of the same release
    /// cannot both commit.
    pub fn cleared(&mut self, pk: &str, seq: u64) -> Result<(), ApiError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::ledger_entry(pk, seq, "stage_released"))))
            .update_expression("REMOVE GSI2PK, GSI2SK")
            .condition_expression("attribute_exists(GSI2PK)")
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().update(update).build());
        Ok(())
    }
}

impl Store {
    /// A seller's balances in every currency they have earned in.
    pub async fn seller_balances(&self, seller_id: &str) -> Result<Vec<SellerBalance>, ApiError> {
        self.all_with_prefix(&keys::seller_balance(seller_id, "").pk, keys::BALANCE_PREFIX).await
    }

    /// When the seller's soonest release not yet cleared clears (past, while one is held).
    pub async fn next_clearance(&self, seller_id: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI2)
            .key_condition_expression("GSI2PK = :pk")
            .expression_attribute_values(":pk", s(keys::seller_clearing(seller_id)))
            .limit(1)
            .send()
            .await
            .map_err(db_error)?;
        let sort = out.items.unwrap_or_default().into_iter().next().and_then(|i| i.get(keys::GSI2SK).cloned());
        let at = sort.as_ref().and_then(|s| s.as_s().ok()).and_then(|s| s.split('#').next().map(str::to_owned));
        Ok(at.and_then(|at| DateTime::parse_from_rfc3339(&at).ok()).map(|at| at.to_utc()))
    }

    /// One page of a seller's statement, newest first.
    pub async fn seller_ledger(
        &self,
        seller_id: &str,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<Entry>, ApiError> {
        // The index's sort key is `{at}#{pk}#{seq}#{kind}`, and `pk` is `ORDER#{id}`.
        self.gsi1_page(&keys::seller_ledger(seller_id), limit, cursor, |sort| {
            let parts: Vec<&str> = sort.split('#').collect();
            let [_, kind_of_pk, id, seq, kind] = parts.as_slice() else { return None };
            let seq = seq.parse::<u64>().ok()?;
            (ulid::Ulid::from_string(id).is_ok()).then(|| keys::ledger_entry(&format!("{kind_of_pk}#{id}"), seq, kind))
        })
        .await
    }

    /// A seller's balances in `currency` (all zero before their first release).
    pub async fn seller_balance(&self, seller_id: &str, currency: &str) -> Result<SellerBalance, ApiError> {
        Ok(self.get_as(&keys::seller_balance(seller_id, currency)).await?.unwrap_or_default())
    }

    /// The ledger entries that moved money with `provider` on `day` (every shard).
    pub async fn provider_entries(&self, provider: &str, day: chrono::NaiveDate) -> Result<Vec<Entry>, ApiError> {
        let mut entries = Vec::new();
        for partition in keys::provider_ledger_partitions(provider, day) {
            for item in self.all_in_gsi1(&partition).await? {
                entries.push(decode(item)?);
            }
        }
        Ok(entries)
    }

    /// An order's ledger entries, in the order they were made.
    pub async fn order_ledger(&self, order_id: &str) -> Result<Vec<Entry>, ApiError> {
        self.all_with_prefix(&keys::tracked("ORDER", order_id).pk, keys::LEDGER_PREFIX).await
    }
}

impl Store {
    /// A day's reconciliation report with `provider`, if it ran.
    pub async fn reconciliation(&self, provider: &str, day: chrono::NaiveDate) -> Result<Option<Report>, ApiError> {
        self.get_as(&keys::reconciliation(provider, day)).await
    }

    /// Keeps a report, once: a second one for the same day and provider is a lost race.
    pub async fn save_reconciliation(&self, report: &Report) -> Result<(), ApiError> {
        let mut commit = self.begin();
        let stored = item(&keys::reconciliation(&report.provider, report.day), "reconciliation", report)?;
        commit.writes.push(put(&self.table, stored, Some("attribute_not_exists(PK)"))?);
        self.commit(commit).await.map(|_| ())
    }

    /// The latest reports with `provider`, newest first.
    pub async fn reconciliations(&self, provider: &str, limit: i32) -> Result<Vec<Report>, ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :day)")
            .expression_attribute_values(":pk", s(keys::reconciliation(provider, chrono::NaiveDate::MIN).pk))
            .expression_attribute_values(":day", s("DAY#"))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(db_error)?;
        out.items.unwrap_or_default().into_iter().map(decode).collect()
    }
}
