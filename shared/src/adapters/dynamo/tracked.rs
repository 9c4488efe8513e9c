//! Requests, offers and orders: one item each (listed for the buyer in GSI1 and the
//! seller in GSI2) and their timeline events.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    Item, Page, Store, db_error, decode, decode_cursor, encode_cursor, invalid_cursor, key_item, keys, s,
    still_indexed, table_key,
};
use peyman_rules::error::ApiError;
use peyman_rules::timeline::Event;
use peyman_rules::tracked::Tracked;

impl Store {
    /// One request, offer or order, with its sealed part (one query reads both).
    pub async fn tracked<T: Tracked>(&self, id: &str) -> Result<Option<T>, ApiError> {
        let key = keys::tracked(T::KIND, id);
        if T::SEALED.is_empty() {
            return self.get_as(&key).await;
        }
        let parts = self.all_where("PK = :pk AND begins_with(SK, :sk)", &key.pk, &key.sk).await?;
        whole::<T>(parts).into_iter().next().transpose()
    }

    /// The whole timeline of one entity, in order.
    pub async fn timeline<T: Tracked>(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        self.all_with_prefix(&keys::tracked(T::KIND, id).pk, keys::EVENT_PREFIX).await
    }

    /// A buyer's (`GSI1`) or seller's (`GSI2`; `GSI1` for a kind without buyers)
    /// entities of one kind, newest first, optionally only those in `state`.
    pub async fn list<T: Tracked>(
        &self,
        as_seller: bool,
        user_id: &str,
        state: Option<&str>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ApiError> {
        let (index, pk_name, sk_name, partition) = match (as_seller, T::HAS_BUYER) {
            (true, true) => (keys::GSI2, keys::GSI2PK, keys::GSI2SK, keys::seller_list(T::KIND, user_id)),
            (false, _) => (keys::GSI1, keys::GSI1PK, keys::GSI1SK, keys::buyer_list(T::KIND, user_id)),
            // One without a buyer is listed for its seller where a buyer's list would be.
            (true, false) => (keys::GSI1, keys::GSI1PK, keys::GSI1SK, keys::seller_list(T::KIND, user_id)),
        };
        let start = start_after::<T>(cursor, (pk_name, sk_name, &partition))?;
        let query = self
            .db
            .query()
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(&partition));
        let query = query.table_name(&self.table).scan_index_forward(false).limit(limit);
        let out = query.set_exclusive_start_key(start).send().await.map_err(db_error)?;
        // The index holds keys only: each entity is read from the table, with its sealed
        // part, and kept while it is still in this list.
        let entries = out.items.unwrap_or_default();
        let parts = entries.iter().flat_map(|entry| {
            let id =
                entry.get(keys::PK).and_then(|v| v.as_s().ok()).and_then(|pk| pk.split_once('#')).map(|(_, id)| id);
            let sealed = id.filter(|_| !T::SEALED.is_empty()).map(|id| key_item(&keys::sealed(T::KIND, id)));
            std::iter::once(table_key(entry)).chain(sealed)
        });
        let mut parts = self.read_many(parts.collect(), false).await?;
        parts.retain(|part| is_sealed(part) || entries.iter().any(|entry| still_indexed(entry, part)));
        let mut items = whole::<T>(parts).into_iter().collect::<Result<Vec<T>, _>>()?;
        // Filtered after the page's limit, as a DynamoDB filter would (issue 28 moves it
        // into the keys).
        if let Some(state) = state {
            items.retain(|entity| serde_json::to_value(entity.state()).is_ok_and(|s| s.as_str() == Some(state)));
        }
        Ok(Page { items, next_cursor: out.last_evaluated_key.as_ref().and_then(|k| cursor_of(k, sk_name)) })
    }
}

fn is_sealed(item: &Item) -> bool {
    item.get("entity").and_then(|v| v.as_s().ok()).is_some_and(|e| e.ends_with("_sealed"))
}

/// The entities among `items` (each entity's item followed by its sealed part, if it has
/// one), whole: an entity missing its sealed part does not decode, and a sealed part
/// without its entity is no entity.
fn whole<T: Tracked>(items: Vec<Item>) -> Vec<Result<T, ApiError>> {
    let mut entities: Vec<Item> = Vec::new();
    for item in items {
        let sealed = is_sealed(&item);
        match entities.last_mut() {
            Some(entity) if sealed && entity.get(keys::PK) == item.get(keys::PK) => {
                entity.extend(item.into_iter().filter(|(name, _)| T::SEALED.contains(&name.as_str())));
            }
            _ if sealed => {}
            _ => entities.push(item),
        }
    }
    entities.into_iter().map(decode).collect()
}

/// Where a page of a list of `T` (in the index partition `pk_name = partition`, sorted by
/// `sk_name`) resumes after `cursor`. The cursor names only an id; the keys are rebuilt in
/// the caller's own partition, so no cursor reaches another list.
pub(super) fn start_after<T: Tracked>(
    cursor: Option<&str>,
    (pk_name, sk_name, partition): (&str, &str, &str),
) -> Result<Option<HashMap<String, AttributeValue>>, ApiError> {
    let Some(cursor) = cursor else { return Ok(None) };
    let id = decode_cursor(cursor).filter(|id| ulid::Ulid::from_string(id).is_ok()).ok_or_else(invalid_cursor)?;
    let key = keys::tracked(T::KIND, &id);
    Ok(Some(HashMap::from([
        (keys::PK.to_owned(), s(key.pk)),
        (keys::SK.to_owned(), s(key.sk)),
        (pk_name.to_owned(), s(partition)),
        (sk_name.to_owned(), s(format!("{}#{id}", T::KIND))),
    ])))
}

/// The cursor after the last item of a page of tracked entities: its id.
pub(super) fn cursor_of(key: &HashMap<String, AttributeValue>, sk_name: &str) -> Option<String> {
    let sort = key.get(sk_name)?.as_s().ok()?;
    sort.split_once('#').map(|(_, id)| encode_cursor(id))
}
