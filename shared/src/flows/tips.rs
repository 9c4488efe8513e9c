//! The buyer tips a completed order (`rules::tip`): a payment is opened for the amount, as
//! accepting an offer opens the order's, and the order records the tip awaiting it in the
//! same transaction. The provider's success releases it to the seller
//! (`flows::payments`). An unpaid tip stays offered (its intent open) and a second one is
//! refused: the buyer pays the first or leaves it.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::flows::App;
use crate::flows::payments::settle_failed_commit;
use crate::flows::tracked::visible;
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::{self, Actor, ORDER, OrderAction};
use peyman_rules::order::Order;
use peyman_rules::payment::{Payment, Purpose};
use peyman_rules::tip::{self, NewTip};
use peyman_rules::tracked::{Step, Tracked};

/// What tipping left: the order with its tip, and the payment the buyer pays it through.
pub struct Tipped {
    pub order: Order,
    pub payment: Payment,
}

impl Tipped {
    pub fn view(&self, now: DateTime<Utc>) -> Value {
        let mut body = self.order.view(Some(Actor::Buyer), now);
        body["payment"] = self.payment.view(Some(Actor::Buyer));
        body
    }
}

pub async fn give(
    app: &App,
    caller: &Caller,
    order_id: &str,
    new: NewTip,
    now: DateTime<Utc>,
) -> Result<Tipped, ApiError> {
    let (mut order, actor) = visible::<Order>(app, order_id, caller).await?;
    let t = lifecycle::step(ORDER, order.state, OrderAction::Tip, actor, &order.facts(now))
        .map_err(|why| tip::refused(&order, why))?;
    new.check(&order)?;
    // One key per order: a twin request opens the same intent, and one of them commits.
    let intent = app.payments.open(&new.amount, &order.order_id, &format!("tip-{}", order.order_id)).await?;
    let payment = Payment::open_for(app.payments.provider(), &intent, &order, (&new.amount, Purpose::Tip), now);
    let data = json!({ "amount": new.amount, "payment_intent_id": intent.id });
    order.tip = Some(new.into_tip(&intent.id, now));
    let mut commit = app.store.begin();
    commit.payment(&payment, 0)?;
    commit.record(&mut order, Step::of(t, actor, Some(&caller.user_id), data), now)?;
    if let Err(e) = app.commit(commit).await {
        let awaits = |o: &Order| o.tip.as_ref().is_some_and(|t| t.payment_intent_id == intent.id);
        settle_failed_commit(app, &order.order_id, &intent.id, e, awaits).await?;
    }
    Ok(Tipped { order, payment })
}
