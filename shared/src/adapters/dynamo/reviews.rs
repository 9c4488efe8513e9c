//! Reviews: the two of an order under it, the buyer's (once published) listed under its
//! gig, and the gig's rating summary moved in the transaction that publishes one.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::commit::Commit;
use super::{Page, Store, item, key_item, keys, n, put, s};
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::Actor;
use peyman_rules::review::Review;

/// The word a review's key names its author by.
fn by(actor: Actor) -> &'static str {
    match actor {
        Actor::Seller => "seller",
        _ => "buyer",
    }
}

impl Commit {
    /// `review` as it now is (new, published or answered). The order's version condition
    /// in the same transaction is what makes each party's review one.
    pub fn review(&mut self, review: &Review) -> Result<(), ApiError> {
        let mut item = item(&keys::review(&review.order_id, by(review.by)), "review", review)?;
        if let (Actor::Buyer, Some(at)) = (review.by, review.published_at) {
            item.insert(keys::GSI1PK.into(), s(keys::gig_reviews(&review.gig_id)));
            item.insert(keys::GSI1SK.into(), s(keys::gig_review_sort(at, &review.order_id)));
        }
        self.writes.push(put(&self.table, item, None)?);
        Ok(())
    }

    /// The gig's rating summary counts one more review of `rating` stars (1–5).
    pub fn gig_rating(&mut self, gig_id: &str, rating: u8) -> Result<(), ApiError> {
        let star = usize::from(rating.clamp(1, 5) - 1);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&keys::gig(gig_id))))
            .update_expression(format!(
                "SET rating_count = rating_count + :one, rating_sum = rating_sum + :rating, \
                 rating_stars[{star}] = rating_stars[{star}] + :one"
            ))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":rating", n(rating))
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().update(update).build());
        Ok(())
    }
}

impl Store {
    /// The reviews written on an order (none, one or two).
    pub async fn order_reviews(&self, order_id: &str) -> Result<Vec<Review>, ApiError> {
        self.all_with_prefix(&keys::review(order_id, "").pk, keys::REVIEW_PREFIX).await
    }

    /// One page of a gig's published reviews, newest first.
    pub async fn gig_reviews(&self, gig_id: &str, limit: i32, cursor: Option<&str>) -> Result<Page<Review>, ApiError> {
        // The index's sort key ends with the review's order; the item is the buyer's review.
        self.gsi1_page(&keys::gig_reviews(gig_id), limit, cursor, |sort| {
            let (_, order_id) = sort.rsplit_once('#')?;
            ulid::Ulid::from_string(order_id).is_ok().then(|| keys::review(order_id, by(Actor::Buyer)))
        })
        .await
    }
}
