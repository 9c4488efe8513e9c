//! Payments and refunds: their items (listed on their order in GSI1, held payments and
//! failed and manual refunds and undecided chargebacks queued for support in GSI2), received provider events, support queues.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::commit::Commit;
use super::{Item, Store, decode, item, key_item, keys, n, put, s};
use peyman_rules::error::ApiError;
use peyman_rules::payment::{Payment, PaymentStatus, Refund, RefundSeen, RefundStatus};

/// How long a received provider event is remembered: well past any provider's retries
/// (Stripe retries for three days).
const RECEIVED_EVENT_TTL_DAYS: i64 = 30;

fn payment_item(payment: &Payment) -> Result<Item, ApiError> {
    let mut item = item(&keys::payment(&payment.intent_id), "payment", payment)?;
    if !payment.order_id.is_empty() {
        item.insert(keys::GSI1PK.into(), s(keys::order_payments(&payment.order_id)));
        item.insert(keys::GSI1SK.into(), s(format!("PAYMENT#{}", payment.created_at.to_rfc3339())));
    }
    // One queue at a time: a chargeback the bank has not decided comes first (the
    // provider has taken the money back meanwhile), then a payment held for review.
    let queue = if payment.chargeback.as_ref().is_some_and(|c| c.is_open()) {
        Some(keys::CHARGEBACK_PAYMENTS)
    } else if payment.status == PaymentStatus::Held {
        Some(keys::HELD_PAYMENTS)
    } else {
        None
    };
    if let Some(queue) = queue {
        item.insert(keys::GSI2PK.into(), s(keys::queue_shard(queue, &keys::payment(&payment.intent_id).pk)));
        item.insert(keys::GSI2SK.into(), s(payment.updated_at.to_rfc3339()));
    }
    Ok(item)
}

fn refund_item(refund: &Refund) -> Result<Item, ApiError> {
    let mut item = item(&keys::refund(&refund.intent_id, &refund.refund_id), "refund", refund)?;
    if !refund.order_id.is_empty() {
        item.insert(keys::GSI1PK.into(), s(keys::order_payments(&refund.order_id)));
        item.insert(keys::GSI1SK.into(), s(format!("REFUND#{}", refund.created_at.to_rfc3339())));
    }
    let queue = match refund.status {
        RefundStatus::Failed => Some(keys::FAILED_REFUNDS),
        RefundStatus::Manual => Some(keys::MANUAL_REFUNDS),
        _ => None,
    };
    if let Some(queue) = queue {
        item.insert(keys::GSI2PK.into(), s(keys::queue_shard(queue, &keys::payment(&refund.intent_id).pk)));
        item.insert(keys::GSI2SK.into(), s(refund.updated_at.to_rfc3339()));
    }
    Ok(item)
}

impl Commit {
    /// Puts `payment`, which must still be at `expected` version (0: must not exist yet).
    pub fn payment(&mut self, payment: &Payment, expected: u64) -> Result<(), ApiError> {
        self.versioned(payment_item(payment)?, expected, None)
    }

    /// A new refund; one with the same id already recorded makes the commit fail.
    pub fn new_refund(&mut self, refund: &Refund) -> Result<(), ApiError> {
        self.writes.push(put(&self.table, refund_item(refund)?, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }

    /// Puts `refund`, which must still be as it was read (`seen`): in the same status,
    /// after as many refused attempts and started calls (of two deliveries racing, one
    /// records its answer, and one claims a call).
    pub fn refund(&mut self, refund: &Refund, seen: RefundSeen) -> Result<(), ApiError> {
        let from = serde_json::to_value(seen.status).map_err(ApiError::internal)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(refund_item(refund)?))
            .condition_expression(
                "#status = :from AND (attempts = :attempts OR attribute_not_exists(attempts)) \
                 AND (calls = :calls OR attribute_not_exists(calls))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.as_str().unwrap_or_default()))
            .expression_attribute_values(":attempts", n(seen.attempts))
            .expression_attribute_values(":calls", n(seen.calls))
            .build()
            .map_err(ApiError::internal)?;
        self.writes.push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    /// Records that a provider's event was applied; a second commit of it fails.
    pub fn event_received(&mut self, provider: &str, event_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        let mut item = key_item(&keys::received_event(provider, event_id));
        item.insert("entity".into(), s("received_event"));
        item.insert("received_at".into(), s(now.to_rfc3339()));
        item.insert("ttl".into(), n((now + chrono::Duration::days(RECEIVED_EVENT_TTL_DAYS)).timestamp()));
        self.writes.push(put(&self.table, item, Some("attribute_not_exists(PK)"))?);
        Ok(())
    }
}

impl Store {
    pub async fn payment(&self, intent_id: &str) -> Result<Option<Payment>, ApiError> {
        self.get_as(&keys::payment(intent_id)).await
    }

    pub async fn refund_record(&self, intent_id: &str, refund_id: &str) -> Result<Option<Refund>, ApiError> {
        self.get_as(&keys::refund(intent_id, refund_id)).await
    }

    /// Every refund of a payment.
    pub async fn refunds(&self, intent_id: &str) -> Result<Vec<Refund>, ApiError> {
        self.all_with_prefix(&keys::payment(intent_id).pk, keys::REFUND_PREFIX).await
    }

    pub async fn event_received(&self, provider: &str, event_id: &str) -> Result<bool, ApiError> {
        Ok(self.get(&keys::received_event(provider, event_id)).await?.is_some())
    }

    /// An order's payments and refunds, oldest first (GSI1).
    pub async fn order_payments(&self, order_id: &str) -> Result<(Vec<Payment>, Vec<Refund>), ApiError> {
        let (mut payments, mut refunds) = (Vec::new(), Vec::new());
        for item in self.all_in_gsi1(&keys::order_payments(order_id)).await? {
            match item.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) {
                Some("payment") => payments.push(decode(item)?),
                Some("refund") => refunds.push(decode(item)?),
                _ => {}
            }
        }
        Ok((payments, refunds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peyman_rules::money::Money;

    fn payment(status: PaymentStatus, order_id: &str) -> Payment {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut payment = Payment::unknown("stripe", "pi_1", None, &Money { amount: 5, currency: "IRR".into() }, now);
        payment.order_id = order_id.into();
        payment.status = status;
        payment
    }

    fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
        item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
    }

    #[test]
    fn a_payment_is_listed_on_its_order_and_queued_for_support_only_while_held() {
        let open = payment_item(&payment(PaymentStatus::Open, "01ORDER")).unwrap();
        assert_eq!((text(&open, "PK"), text(&open, "entity")), (Some("PAYMENT#pi_1"), Some("payment")));
        assert_eq!(text(&open, "GSI1PK"), Some("ORDER#01ORDER#PAYMENTS"));
        assert_eq!(text(&open, "GSI2PK"), None, "an open payment is in no support queue");
        let held = payment_item(&payment(PaymentStatus::Held, "")).unwrap();
        let shard = keys::queue_shard(keys::HELD_PAYMENTS, "PAYMENT#pi_1");
        assert_eq!(text(&held, "GSI2PK"), Some(shard.as_str()));
        assert!(shard.starts_with("PAYMENTS#HELD#"), "{shard}");
        assert_eq!(text(&held, "GSI1PK"), None, "a payment without an order is on no order");
        let decoded: Payment = decode(held).unwrap();
        assert_eq!(decoded, payment(PaymentStatus::Held, ""));
    }

    #[test]
    fn a_refund_is_queued_for_support_once_failed_and_moves_only_from_what_was_read() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut paid = payment(PaymentStatus::Succeeded, "01ORDER");
        let mut refund = paid.refund("r1", 3, "why", now, now).unwrap();
        assert_eq!(text(&refund_item(&refund).unwrap(), "GSI2PK"), None);
        refund.status = RefundStatus::Failed;
        let item = refund_item(&refund).unwrap();
        let shard = keys::queue_shard(keys::FAILED_REFUNDS, "PAYMENT#pi_1");
        assert_eq!(text(&item, "GSI2PK"), Some(shard.as_str()), "in the shard of its payment");
        assert_eq!(text(&item, "SK"), Some("REFUND#r1"));

        let mut commit = Commit { table: "t".into(), ..Commit::default() };
        commit.refund(&refund, RefundSeen { status: RefundStatus::Requested, attempts: 2, calls: 1 }).unwrap();
        let put = commit.writes[0].put().unwrap();
        let values = put.expression_attribute_values().unwrap();
        assert_eq!(values[":from"].as_s().map(String::as_str), Ok("requested"));
        assert_eq!(values[":attempts"].as_n().map(String::as_str), Ok("2"));
        assert_eq!(values[":calls"].as_n().map(String::as_str), Ok("1"));
    }
}
