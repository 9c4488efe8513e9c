//! Requests, offers and orders: one item each (listed for the buyer in GSI1 and the
//! seller in GSI2) and their timeline events.

use std::collections::HashMap;

use super::{Page, Store, decode_cursor, encode_cursor, invalid_cursor, keys, s};
use crate::rules::error::ApiError;
use crate::rules::timeline::Event;
use crate::rules::tracked::Tracked;

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
        let start = match cursor {
            None => None,
            Some(cursor) => {
                let id = decode_cursor(cursor)
                    .filter(|id| ulid::Ulid::from_string(id).is_ok())
                    .ok_or_else(invalid_cursor)?;
                // The cursor names only an id; the keys are rebuilt in the caller's own partition.
                let key = keys::tracked(T::KIND, &id);
                let sort = s(format!("{}#{id}", T::KIND));
                Some(HashMap::from([
                    (keys::PK.to_owned(), s(key.pk)),
                    (keys::SK.to_owned(), s(key.sk)),
                    (pk_name.to_owned(), s(&partition)),
                    (sk_name.to_owned(), sort),
                ]))
            }
        };
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
        self.newest_first(query, limit, start, |k| {
            let sort = k.get(sk_name)?.as_s().ok()?;
            sort.split_once('#').map(|(_, id)| encode_cursor(id))
        })
        .await
    }
}
