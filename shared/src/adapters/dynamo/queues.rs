//! Support's queues: GSI2 partitions spread over [`keys::QUEUE_SHARDS`] shards (an item's
//! shard is a hash of its own partition key), read shard by shard and merged into one
//! page in sort-key order.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::de::DeserializeOwned;

use super::{Item, Page, Store, db_error, decode, decode_cursor, encode_cursor, invalid_cursor, keys, s};
use peyman_rules::error::ApiError;

/// Where an item stands in a queue: its GSI2 sort key, then its table key (the tie-break
/// DynamoDB's own order does not promise across shards).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    sort: String,
    pk: String,
    sk: String,
}

impl Place {
    fn of(item: &Item) -> Option<Place> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some(Place { sort: text(keys::GSI2SK)?, pk: text(keys::PK)?, sk: text(keys::SK)? })
    }

    fn cursor(&self) -> String {
        encode_cursor([self.sort.as_str(), &self.pk, &self.sk].join("\n"))
    }

    /// The place a cursor names; only one of an item whose key begins with `pk_prefix`.
    fn from_cursor(cursor: &str, pk_prefix: &str) -> Result<Place, ApiError> {
        decode_cursor(cursor)
            .and_then(|text| {
                let mut parts = text.splitn(3, '\n').map(str::to_owned);
                Some(Place { sort: parts.next()?, pk: parts.next()?, sk: parts.next()? })
            })
            .filter(|place| place.pk.starts_with(pk_prefix))
            .ok_or_else(invalid_cursor)
    }
}

impl Store {
    /// One page of support's queue `queue` (`PAYMENTS#HELD`, `DISPUTES#OPEN`), oldest
    /// first when `ascending`, else newest first, after `cursor`, which names the last
    /// item of the page before (an item whose key begins with `pk_prefix`).
    ///
    /// Each shard is asked for a page from the cursor's place on (the shard that holds
    /// the cursor's item resumes exactly after it; the others from its sort key, ties
    /// dropped here by the table key); the pages are merged and cut to `limit`.
    pub async fn queue_page<T: DeserializeOwned>(
        &self,
        queue: &str,
        pk_prefix: &str,
        ascending: bool,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ApiError> {
        let after = cursor.map(|c| Place::from_cursor(c, pk_prefix)).transpose()?;
        let beyond = |place: &Place| match &after {
            None => true,
            Some(after) => place.cmp(after) == if ascending { Ordering::Greater } else { Ordering::Less },
        };
        let mut merged: Vec<(Place, Item)> = Vec::new();
        let mut more = false;
        for partition in keys::queue_partitions(queue) {
            let mut query = self
                .db
                .query()
                .table_name(&self.table)
                .index_name(keys::GSI2)
                .scan_index_forward(ascending)
                .limit(limit)
                .expression_attribute_values(":pk", s(&partition));
            query = match &after {
                None => query.key_condition_expression("GSI2PK = :pk"),
                Some(after) if keys::queue_shard(queue, &after.pk) == partition => {
                    query.key_condition_expression("GSI2PK = :pk").set_exclusive_start_key(Some(HashMap::from([
                        (keys::PK.to_owned(), s(&after.pk)),
                        (keys::SK.to_owned(), s(&after.sk)),
                        (keys::GSI2PK.to_owned(), s(&partition)),
                        (keys::GSI2SK.to_owned(), s(&after.sort)),
                    ])))
                }
                Some(after) => query
                    .key_condition_expression(if ascending {
                        "GSI2PK = :pk AND GSI2SK >= :sort"
                    } else {
                        "GSI2PK = :pk AND GSI2SK <= :sort"
                    })
                    .expression_attribute_values(":sort", s(&after.sort)),
            };
            let out = query.send().await.map_err(db_error)?;
            more |= out.last_evaluated_key.is_some();
            for item in out.items.unwrap_or_default() {
                let place = Place::of(&item).ok_or_else(|| ApiError::internal("a queued item without its keys"))?;
                if beyond(&place) {
                    merged.push((place, item));
                }
            }
        }
        merged.sort_by(|a, b| if ascending { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) });
        let limit = usize::try_from(limit.max(1)).unwrap_or(1);
        more |= merged.len() > limit;
        merged.truncate(limit);
        let next_cursor = if more { merged.last().map(|(place, _)| place.cursor()) } else { None };
        // The index holds keys only: the items are read from the table.
        let items = self.indexed(merged.into_iter().map(|(_, entry)| entry).collect()).await?;
        let items = items.into_iter().map(decode).collect::<Result<Vec<T>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
