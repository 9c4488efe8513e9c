//! Orders as the parties see them: one order with its payments and refunds, and its
//! hash-chained timeline.

use serde_json::Value;

use crate::flows::App;
use crate::flows::tracked::{history, visible};
use peyman_rules::caller::Caller;
use peyman_rules::error::ApiError;
use peyman_rules::lifecycle::Actor;
use peyman_rules::order::Order;
use peyman_rules::payment::{Payment, Refund};

/// One order the caller may see, with the caller's part in it and its money.
#[derive(Debug)]
pub struct OrderRecord {
    pub order: Order,
    pub role: Actor,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
}

impl OrderRecord {
    /// The payment opened for the order.
    pub fn opened(&self) -> Option<&Payment> {
        self.payments.iter().find(|p| self.order.payment_intent_id.as_deref() == Some(&p.intent_id))
    }
}

pub async fn read(app: &App, caller: &Caller, order_id: &str) -> Result<OrderRecord, ApiError> {
    let (order, role) = visible::<Order>(app, order_id, caller).await?;
    let (payments, refunds) = app.store.order_payments(order_id).await?;
    Ok(OrderRecord { order, role, payments, refunds })
}

/// The order's timeline and whether it verifies.
pub async fn timeline(app: &App, caller: &Caller, order_id: &str) -> Result<Value, ApiError> {
    let (order, _) = visible::<Order>(app, order_id, caller).await?;
    history(app, &order).await
}
