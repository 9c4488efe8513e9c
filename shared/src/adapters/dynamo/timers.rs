//! Timers: due ones, a shard and a page at a time, oldest first; one that failed is moved
//! later or parked for support.

use super::keys::Key;
use super::{Item, Store, db_error, key_item, keys, n, put, s, timer_item};
use chrono::{DateTime, Utc};
use peyman_rules::error::ApiError;

/// How many due timers the sweeper reads at once: its memory is a page, whatever the
/// backlog.
pub const DUE_PAGE: i32 = 100;

/// A timer that is due.
#[derive(Debug, Clone)]
pub struct DueTimer {
    pub key: Key,
    pub subject: String,
    /// How often firing it failed so far.
    pub attempts: u32,
    /// When it was set to fire (a retried timer fires later than this).
    pub due_at: Option<DateTime<Utc>>,
    /// Why firing it last failed, and, for a parked timer, when it was set aside.
    pub last_error: Option<String>,
    pub parked_at: Option<DateTime<Utc>>,
}

impl DueTimer {
    pub fn from_item(item: &Item) -> DueTimer {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let attempts = item.get("attempts").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        let at = |name: &str| DateTime::parse_from_rfc3339(&text(name)).ok().map(|t| t.to_utc());
        DueTimer {
            key: Key { pk: text(keys::PK), sk: text(keys::SK) },
            subject: text("subject"),
            attempts,
            due_at: at("due_at"),
            last_error: Some(text("last_error")).filter(|e| !e.is_empty()),
            parked_at: at("parked_at"),
        }
    }
}

impl Store {
    /// One page (at most [`DUE_PAGE`]) of the timers of one shard `partition` due before
    /// `now`, oldest first, after `start` (the last key of the page before); with where
    /// the next page starts, `None` after the last. A timer moved to `now` or later while
    /// the sweep runs (a retry) is not due again in the same sweep.
    pub async fn due_timers(
        &self,
        partition: &str,
        now: DateTime<Utc>,
        start: Option<Key>,
    ) -> Result<(Vec<DueTimer>, Option<Key>), ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK < :sk")
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":sk", s(format!("{:013}", now.timestamp_millis())))
            .consistent_read(true)
            .limit(DUE_PAGE)
            .set_exclusive_start_key(start.as_ref().map(key_item))
            .send()
            .await
            .map_err(db_error)?;
        let due = out.items.unwrap_or_default().iter().map(DueTimer::from_item).collect();
        let next = out.last_evaluated_key.map(|k| DueTimer::from_item(&k).key);
        Ok((due, next))
    }

    /// The timers started for `subject` (in its one shard), whenever they are due.
    pub async fn timers_for(&self, subject: &str) -> Result<Vec<DueTimer>, ApiError> {
        let out = self
            .db
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .filter_expression("subject = :subject")
            .expression_attribute_values(":pk", s(keys::timer(0, subject).pk))
            .expression_attribute_values(":subject", s(subject))
            .consistent_read(true)
            .send()
            .await
            .map_err(db_error)?;
        Ok(out.items.unwrap_or_default().iter().map(DueTimer::from_item).collect())
    }

    /// Moves a timer that failed to `next` (a later due time), counting the attempt.
    pub async fn retry_timer(&self, timer: &DueTimer, next: DateTime<Utc>, error: &str) -> Result<(), ApiError> {
        let mut commit = self.begin();
        commit.take(&timer.key)?;
        let mut item = timer_item(&keys::timer(next.timestamp_millis(), &timer.subject), &timer.subject, next);
        item.insert("attempts".into(), n(timer.attempts + 1));
        item.insert("last_error".into(), s(error));
        commit.writes.push(put(&self.table, item, None)?);
        self.commit(commit).await.map(|_| ())
    }

    /// Sets aside a timer that kept failing, where support lists them: it no longer
    /// fires, and nothing behind it waits for it.
    pub async fn park_timer(&self, timer: &DueTimer, error: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut commit = self.begin();
        commit.take(&timer.key)?;
        let mut item = key_item(&keys::parked_timer(&timer.key.sk, &timer.subject));
        item.insert("entity".into(), s("parked_timer"));
        item.insert("subject".into(), s(&timer.subject));
        item.insert("attempts".into(), n(timer.attempts + 1));
        item.insert("last_error".into(), s(error));
        item.insert("parked_at".into(), s(now.to_rfc3339()));
        commit.writes.push(put(&self.table, item, None)?);
        self.commit(commit).await.map(|_| ())
    }

    /// Timers set aside after failing too often, oldest first (by when they were due).
    pub async fn parked_timers(&self) -> Result<Vec<DueTimer>, ApiError> {
        let mut parked = Vec::new();
        for partition in keys::parked_timer_partitions() {
            parked.extend(
                self.all_where("PK = :pk AND SK <= :sk", &partition, "~").await?.iter().map(DueTimer::from_item),
            );
        }
        parked.sort_by(|a, b| a.key.sk.cmp(&b.key.sk));
        Ok(parked)
    }

    pub async fn delete_key(&self, key: &Key) -> Result<(), ApiError> {
        self.db.delete_item().table_name(&self.table).set_key(Some(key_item(key))).send().await.map_err(db_error)?;
        Ok(())
    }
}
