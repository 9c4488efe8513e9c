//! Requests, offers and orders: one item each (listed for the buyer in GSI1 and the
//! seller in GSI2) and their timeline events.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Page, Store, decode_cursor, encode_cursor, invalid_cursor, keys, s};
use peyman_rules::error::ApiError;
use peyman_rules::timeline::Event;
use peyman_rules::tracked::Tracked;

impl Store {
    pub async fn tracked<T: Tracked>(&self, id: &str) -> Result<Option<T>, ApiError> {
        self.get_as(&keys::tracked(T::KIND, id)).await
    }

    /// The whole timeline of one entity, in order.
    pub async fn timeline<T: Tracked>(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        self.all_with_prefix(&keys::tracked(T::KIND, id).pk, keys::EVENT_PREFIX).await
    }

    /// A buyer's (`GSI1`) or seller's (`GSI2`) entities of one kind, newest first,
    /// optionally only those in `state`.
    pub async fn list<T: Tracked>(
        &self,
        as_seller: bool,
        user_id: &str,
        state: Option<&str>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<T>, ApiError> {
        let (index, pk_name, sk_name, partition) = if as_seller {
            (keys::GSI2, keys::GSI2PK, keys::GSI2SK, keys::seller_list(T::KIND, user_id))
        } else {
            (keys::GSI1, keys::GSI1PK, keys::GSI1SK, keys::buyer_list(T::KIND, user_id))
        };
        let start = start_after::<T>(cursor, (pk_name, sk_name, &partition))?;
        let mut query = self
            .db
            .query()
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(&partition));
        if let Some(state) = state {
            query = query
                .filter_expression("#state = :state")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":state", s(state));
        }
        self.newest_first(query, limit, start, |k| cursor_of(k, sk_name)).await
    }
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
