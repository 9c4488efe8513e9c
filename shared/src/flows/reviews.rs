//! Reviews on a completed order, double-blind: each party writes one within the review
//! window; the second publishes both, and the window's end (`flows::timers`) publishes
//! what there is. Publishing the buyer's review lists it under the gig and moves the
//! gig's rating summary in the same transaction. The seller answers it once.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::dynamo::Page;
use crate::adapters::dynamo::commit::Commit;
use crate::flows::App;
use crate::flows::gigs;
use crate::flows::tracked::visible;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{self, Actor, ORDER, OrderAction};
use peyman_rules::order::Order;
use peyman_rules::review::{self, NewReply, NewReview, Review, ReviewReply};
use peyman_rules::tracked::{Step, Tracked};

/// A party reviews the other on a completed order: hidden until the other has written
/// theirs (then both are published, in this transaction) or the window closes.
pub async fn write(
    app: &App,
    caller: &Caller,
    order_id: &str,
    new: NewReview,
    now: DateTime<Utc>,
) -> Result<(Order, Review), ApiError> {
    new.check(&app.config.policy)?;
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    let t = lifecycle::step(ORDER, order.state, OrderAction::Review, actor, &order.facts(now))
        .map_err(|why| review::refused(&order, actor, why))?;
    let mut written = new.into_review(&order, actor, now);
    order.reviewed(actor, now);
    let mut commit = app.store.begin();
    let data = if order.reviews.published_at.is_some() {
        // The second review: both are published together.
        let mut first = app.store.order_reviews(order_id).await?;
        first.retain(|r| r.by != actor);
        publish(&mut commit, first.iter_mut().chain([&mut written]), now)?
    } else {
        commit.review(&written)?;
        // The rating stays off the timeline both parties read until it is published.
        json!({ "by": actor })
    };
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    app.commit(commit).await?;
    Ok((order, written))
}

/// Makes `reviews` visible at `now`: each is written again, published; the buyer's is
/// listed under its gig and counted in the gig's rating summary. A review already
/// published is left as it is, so none is ever counted twice. Returns what the timeline
/// event says: the ratings now visible.
pub(crate) fn publish<'a>(
    commit: &mut Commit,
    reviews: impl IntoIterator<Item = &'a mut Review>,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let mut data = json!({});
    for review in reviews {
        let name = if review.by == Actor::Seller { "seller_rating" } else { "buyer_rating" };
        data[name] = json!(review.rating);
        if review.published_at.is_some() {
            continue;
        }
        review.publish(now);
        commit.review(review)?;
        if review.by == Actor::Buyer {
            commit.gig_rating(&review.gig_id, review.rating)?;
        }
    }
    Ok(data)
}

/// The seller answers the buyer's published review, once.
pub async fn reply(
    app: &App,
    caller: &Caller,
    order_id: &str,
    new: NewReply,
    now: DateTime<Utc>,
) -> Result<Review, ApiError> {
    new.check(&app.config.policy)?;
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    let t = lifecycle::step(ORDER, order.state, OrderAction::Reply, actor, &order.facts(now))
        .map_err(|why| review::refused(&order, actor, why))?;
    let mut review = app
        .store
        .order_reviews(order_id)
        .await?
        .into_iter()
        .find(|r| r.by == Actor::Buyer)
        .ok_or_else(|| ApiError::internal("a published buyer's review is missing"))?;
    review.reply = Some(ReviewReply { text: new.text, replied_at: now });
    order.review_replied(now);
    let mut commit = app.store.begin();
    commit.review(&review)?;
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), json!({})), now)?;
    app.commit(commit).await?;
    Ok(review)
}

/// An order's reviews, for its parties and support (each sees what double-blind allows).
pub async fn of_order(app: &App, caller: &Caller, order_id: &str) -> Result<(Order, Actor, Vec<Review>), ApiError> {
    let (order, actor) = visible::<Order>(app, order_id, caller).await?;
    let reviews = app.store.order_reviews(order_id).await?;
    Ok((order, actor, reviews))
}

/// One page of a gig's published reviews, newest first.
pub async fn of_gig(app: &App, gig_id: &str, limit: i32, cursor: Option<&str>) -> Result<Page<Review>, ApiError> {
    gigs::read(app, gig_id).await?;
    app.store.gig_reviews(gig_id, limit, cursor).await
}
