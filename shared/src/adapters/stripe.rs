//! Stripe, the first payment provider: the three calls we make to its API (open a
//! PaymentIntent for an order, cancel one, refund one) and its signed webhooks, turned
//! into provider-neutral [`PaymentEvent`]s that `payment` decides on.
//!
//! Zarinpal (`zarinpal`, a callback and then a server-side verify call) is the second
//! provider; `payments` is the seam that chooses one per deployment. Nothing outside
//! these modules knows a provider's wire format.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::adapters::provider_http::{self, Payload};
use peyman_rules::error::ApiError;
use peyman_rules::money::Money;
use peyman_rules::payment::{Answer, Intent, PaymentEvent, ReceivedEvent};

/// How far a webhook's signed timestamp may be from our clock, either way (Stripe's own
/// libraries default to the same five minutes).
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// The name payments and webhook routes know this provider by.
pub const PROVIDER: &str = "stripe";

/// Where and how to reach Stripe (`STRIPE_API_BASE`, `STRIPE_SECRET_KEY`,
/// `STRIPE_WEBHOOK_SECRET`). Functions that call Stripe require the key at init; the
/// webhook function requires the signing secret.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub api_base: String,
    pub secret_key: String,
    pub webhook_secret: String,
    /// Names this deployment in the metadata of every intent it opens.
    pub deployment: String,
}

/// The metadata keys that mark an intent as Peyman's: a Stripe account's webhook
/// endpoint receives the events of every product on the account, and only intents that
/// carry this deployment's mark (or that we hold a record of) are ours to act on.
pub const METADATA_DEPLOYMENT: &str = "peyman_deployment";
pub const METADATA_ORDER_ID: &str = "peyman_order_id";

#[derive(Debug, Clone)]
pub struct Stripe {
    config: StripeConfig,
}

#[derive(Debug, Deserialize)]
struct IntentBody {
    id: String,
    client_secret: String,
}

#[derive(Debug, Deserialize)]
struct RefundBody {
    id: String,
    status: String,
}

impl Stripe {
    pub fn new(config: StripeConfig) -> Self {
        Stripe { config }
    }

    /// Opens a PaymentIntent for exactly `price`, naming the order in its metadata. The
    /// idempotency key makes a retried call return the same intent.
    pub async fn create_intent(
        &self,
        price: &Money,
        order_id: &str,
        idempotency_key: &str,
    ) -> Result<Intent, ApiError> {
        let form = [
            ("amount", price.amount.to_string()),
            ("currency", price.currency.to_lowercase()),
            ("payment_method_types[]", "card".into()),
            // The keys of METADATA_DEPLOYMENT and METADATA_ORDER_ID.
            ("metadata[peyman_deployment]", self.config.deployment.clone()),
            ("metadata[peyman_order_id]", order_id.into()),
        ];
        match self.post("/v1/payment_intents", &form, Some(idempotency_key)).await? {
            Answer::Done(body) => {
                let intent: IntentBody = serde_json::from_value(body).map_err(ApiError::internal)?;
                Ok(Intent { id: intent.id, client_secret: Some(intent.client_secret), pay_url: None })
            }
            Answer::Refused(why) => Err(ApiError::internal(format!("stripe refused the PaymentIntent: {why}"))),
        }
    }

    /// Cancels an unpaid PaymentIntent. Refused when it can no longer be cancelled (it
    /// succeeded meanwhile: its webhook decides what happens to that money).
    pub async fn cancel_intent(&self, intent_id: &str) -> Result<Answer<()>, ApiError> {
        let path = format!("/v1/payment_intents/{intent_id}/cancel");
        Ok(match self.post(&path, &[], Some(&format!("cancel-{intent_id}"))).await? {
            Answer::Done(_) => Answer::Done(()),
            Answer::Refused(why) => Answer::Refused(why),
        })
    }

    /// Refunds `amount` of a PaymentIntent; the idempotency key makes it happen once.
    /// Returns Stripe's refund id and status (`succeeded`, `pending`…).
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: i64,
        refund_id: &str,
        idempotency_key: &str,
    ) -> Result<Answer<(String, String)>, ApiError> {
        let form = [
            ("payment_intent", intent_id.to_owned()),
            ("amount", amount.to_string()),
            ("metadata[refund_id]", refund_id.to_owned()),
        ];
        Ok(match self.post("/v1/refunds", &form, Some(idempotency_key)).await? {
            Answer::Done(body) => {
                let refund: RefundBody = serde_json::from_value(body).map_err(ApiError::internal)?;
                Answer::Done((refund.id, refund.status))
            }
            Answer::Refused(why) => Answer::Refused(why),
        })
    }

    /// What Stripe holds of a PaymentIntent of this deployment's, net (reconciliation):
    /// its amount once it succeeded, less its refunds that succeeded; and its order.
    /// `None` for an intent that is not ours (another product's on the same account).
    pub async fn intent_net(&self, intent_id: &str) -> Result<Option<(String, i64)>, ApiError> {
        let intent = self.get(&format!("/v1/payment_intents/{intent_id}")).await?;
        let ours = intent["metadata"][METADATA_DEPLOYMENT].as_str() == Some(self.config.deployment.as_str());
        let Some(order_id) = intent["metadata"][METADATA_ORDER_ID].as_str().filter(|_| ours) else { return Ok(None) };
        // Only a payment that succeeded has a charge to refund (localstripe answers 500
        // for the refunds of an intent with none).
        if intent["status"] != "succeeded" {
            return Ok(Some((order_id.to_owned(), 0)));
        }
        let paid = intent["amount"].as_i64().unwrap_or(0);
        let refunds = self.get(&format!("/v1/refunds?payment_intent={intent_id}&limit=100")).await?;
        let refunded: i64 = refunds["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"] == "succeeded")
            .filter_map(|r| r["amount"].as_i64())
            .sum();
        Ok(Some((order_id.to_owned(), paid - refunded)))
    }

    /// The PaymentIntents of the charges that succeeded from `from` to before `to`
    /// (reconciliation: money Stripe took that the ledger may not know of), any product's.
    pub async fn charged_intents(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<String>, ApiError> {
        let mut intents = Vec::new();
        let mut after: Option<String> = None;
        loop {
            // `created[gt]` alone, the end filtered below: localstripe takes that bound only.
            let mut path = format!("/v1/charges?limit=100&created%5Bgt%5D={}", from.timestamp() - 1);
            if let Some(after) = &after {
                path += &format!("&starting_after={after}");
            }
            let page = self.get(&path).await?;
            let charges = page["data"].as_array().cloned().unwrap_or_default();
            for charge in &charges {
                let created = charge["created"].as_i64().unwrap_or(i64::MAX);
                if created < to.timestamp() && charge["status"] == "succeeded" {
                    intents.extend(charge["payment_intent"].as_str().map(str::to_owned));
                }
            }
            after = charges.last().and_then(|c| c["id"].as_str()).map(str::to_owned);
            if page["has_more"] != true || after.is_none() {
                return Ok(intents);
            }
        }
    }

    /// One GET of Stripe's records; anything but an answer is `Unavailable`.
    async fn get(&self, path: &str) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.config.api_base);
        let unavailable = |cause: String| ApiError::Unavailable { what: "payment provider", cause };
        let (status, body) =
            provider_http::get(&url, &self.config.secret_key).await.map_err(|e| unavailable(format!("stripe {e}")))?;
        if !status.is_success() {
            return Err(unavailable(format!("stripe {path} answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| unavailable(format!("stripe {path}: {e}")))
    }

    /// One form-encoded POST. A 4xx is a refusal to record; a 5xx, a 429 or a failure to
    /// reach Stripe is `Unavailable` (503 to a frontend), so the caller's retry (the
    /// client's, SQS's) tries again.
    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Answer<Value>, ApiError> {
        let url = format!("{}{path}", self.config.api_base);
        let unavailable = |cause: String| ApiError::Unavailable { what: "payment provider", cause };
        let (status, body) =
            provider_http::post(&url, Some(&self.config.secret_key), idempotency_key, Payload::Form(form))
                .await
                .map_err(|e| unavailable(format!("stripe {e}")))?;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(Answer::Done(body))
        } else if status.is_client_error() && status.as_u16() != 429 {
            let message = body["error"]["message"].as_str().unwrap_or("refused").to_owned();
            Ok(Answer::Refused(format!("{status}: {message}")))
        } else {
            Err(unavailable(format!("stripe {path} answered {status}")))
        }
    }

    /// Reads a verified webhook body as this deployment sees it.
    pub fn parse_event(&self, body: &[u8]) -> Result<ReceivedEvent, String> {
        parse_event(body, &self.config.deployment)
    }

    /// Checks a webhook's `Stripe-Signature` over its raw body before anything reads it.
    pub fn verify(&self, header: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<(), SignatureError> {
        verify_signature(header, body, &self.config.webhook_secret, now.timestamp())
    }
}

/// Why a webhook's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("no v1 signature matches the body")]
    Mismatch,
    #[error("the signature's timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} s from now")]
    OutsideTolerance,
}

/// Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]`. Any
/// `v1` may match (secrets roll over); each is compared in constant time; the timestamp
/// must be within the tolerance in the past or the future.
pub fn verify_signature(header: Option<&str>, body: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secret.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match name {
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            "t" => return Err(SignatureError::Malformed),
            // A v1 that is not hex cannot match; it must not hide a good one beside it.
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {} // v0 and future schemes
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() && !header.contains("v1=") {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time.
    if !signatures.iter().any(|signature| mac.clone().verify_slice(signature).is_ok()) {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(())
}

/// The envelope of every Stripe event.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EnvelopeData,
}

#[derive(Debug, Deserialize)]
struct EnvelopeData {
    object: Value,
}

/// Reads a verified body. Types we do not use become [`PaymentEvent::Ignored`]. A
/// success names its order only when the intent carries `deployment`'s mark: an
/// `order_id` of some other product's metadata means nothing to us.
pub fn parse_event(body: &[u8], deployment: &str) -> Result<ReceivedEvent, String> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| format!("not a Stripe event: {e}"))?;
    let object = &envelope.data.object;
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let required = |name: &str| text(&object[name]).ok_or_else(|| format!("{} has no {name}", envelope.kind));
    // A refund or a chargeback names its PaymentIntent only when the charge had one: one
    // without is not a payment of ours (another product's charge on the same account).
    let of_an_intent = !object["payment_intent"].is_null();
    let event = match envelope.kind.as_str() {
        "payment_intent.succeeded" => PaymentEvent::Succeeded {
            intent_id: required("id")?,
            our_order_id: (object["metadata"][METADATA_DEPLOYMENT].as_str() == Some(deployment))
                .then(|| text(&object["metadata"][METADATA_ORDER_ID]))
                .flatten(),
            received: Money {
                amount: object["amount_received"]
                    .as_i64()
                    .or_else(|| object["amount"].as_i64())
                    .ok_or("payment_intent.succeeded has no amount")?,
                currency: required("currency")?.to_uppercase(),
            },
            receipt: None,
        },
        "payment_intent.payment_failed" => PaymentEvent::Failed {
            intent_id: required("id")?,
            code: text(&object["last_payment_error"]["code"]),
            message: text(&object["last_payment_error"]["message"]),
        },
        "charge.refunded" => PaymentEvent::Refunded {
            intent_id: required("payment_intent")?,
            amount_refunded: object["amount_refunded"].as_i64().ok_or("charge.refunded has no amount_refunded")?,
        },
        // A refund's later word (Stripe's `refund.failed`, and the `refund.updated` /
        // older `charge.refund.updated` that carry the same change): only a failure or a
        // cancellation of one it had taken means anything to us.
        "refund.failed" | "refund.updated" | "charge.refund.updated"
            if of_an_intent && matches!(object["status"].as_str(), Some("failed" | "canceled")) =>
        {
            PaymentEvent::RefundFailed {
                intent_id: required("payment_intent")?,
                refund_id: text(&object["metadata"]["refund_id"]),
                provider_refund_id: required("id")?,
                reason: text(&object["failure_reason"]).or_else(|| text(&object["status"])),
            }
        }
        "charge.dispute.created" if of_an_intent => PaymentEvent::ChargebackOpened {
            intent_id: required("payment_intent")?,
            provider_dispute_id: required("id")?,
            amount: Money {
                amount: object["amount"].as_i64().ok_or("charge.dispute.created has no amount")?,
                currency: required("currency")?.to_uppercase(),
            },
            reason: text(&object["reason"]).unwrap_or_else(|| "general".into()),
            status: text(&object["status"]).unwrap_or_else(|| "needs_response".into()),
        },
        "charge.dispute.closed" if of_an_intent => PaymentEvent::ChargebackClosed {
            intent_id: required("payment_intent")?,
            provider_dispute_id: required("id")?,
            status: required("status")?,
        },
        other => PaymentEvent::Ignored { kind: other.to_owned() },
    };
    Ok(ReceivedEvent { id: envelope.id, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const NOW: i64 = 1_800_000_000;

    fn sign(t: i64, body: &[u8], secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_good_signature_passes_and_any_v1_may_match() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(NOW, body, SECRET);
        assert_eq!(verify_signature(Some(&format!("t={NOW},v1={good}")), body, SECRET, NOW), Ok(()));
        let bad = sign(NOW, body, "whsec_other");
        assert_eq!(verify_signature(Some(&format!("t={NOW},v1={bad},v1={good}")), body, SECRET, NOW), Ok(()));
        assert_eq!(verify_signature(Some(&format!("t={NOW},v1=zz,v1={good}")), body, SECRET, NOW), Ok(()));
    }

    #[test]
    fn every_kind_of_bad_signature_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(NOW, body, SECRET);
        let check = |header: Option<&str>, body: &[u8], now| verify_signature(header, body, SECRET, now);
        assert_eq!(check(None, body, NOW), Err(SignatureError::Missing));
        assert_eq!(check(Some("garbage"), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(check(Some(&format!("v1={good}")), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(check(Some(&format!("t=soon,v1={good}")), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(check(Some(&format!("t={NOW}")), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(
            check(Some(&format!("t={NOW},v1={good}")), br#"{"id":"evt_2"}"#, NOW),
            Err(SignatureError::Mismatch)
        );
        let wrong = sign(NOW, body, "whsec_other");
        assert_eq!(check(Some(&format!("t={NOW},v1={wrong}")), body, NOW), Err(SignatureError::Mismatch));
        for skew in [-301, 301] {
            let t = NOW + skew;
            let signed = sign(t, body, SECRET);
            assert_eq!(check(Some(&format!("t={t},v1={signed}")), body, NOW), Err(SignatureError::OutsideTolerance));
        }
        for skew in [-300, 300] {
            let t = NOW + skew;
            let signed = sign(t, body, SECRET);
            assert_eq!(check(Some(&format!("t={t},v1={signed}")), body, NOW), Ok(()));
        }
        // No secret configured: nothing verifies.
        assert_eq!(verify_signature(Some(&format!("t={NOW},v1={good}")), body, "", NOW), Err(SignatureError::Mismatch));
    }

    #[test]
    fn events_become_payment_events() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":5000,"currency":"irr","metadata":{"peyman_deployment":"peyman-prod","peyman_order_id":"01J"}}}}"#;
        let received = parse_event(body, "peyman-prod").unwrap();
        assert_eq!(received.id, "evt_1");
        assert_eq!(
            received.event,
            PaymentEvent::Succeeded {
                intent_id: "pi_1".into(),
                our_order_id: Some("01J".into()),
                received: Money { amount: 5000, currency: "IRR".into() },
                receipt: None,
            }
        );
        // Another deployment's mark, or another product's order id, names no order of ours.
        for other in [
            br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":5000,"currency":"irr","metadata":{"peyman_deployment":"peyman-staging","peyman_order_id":"01J"}}}}"#.as_slice(),
            br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":5000,"currency":"irr","metadata":{"order_id":"01J"}}}}"#,
        ] {
            let PaymentEvent::Succeeded { our_order_id, .. } = parse_event(other, "peyman-prod").unwrap().event else {
                panic!("a success")
            };
            assert_eq!(our_order_id, None);
        }
        let refunded = br#"{"id":"evt_2","type":"charge.refunded","data":{"object":{"id":"ch_1","payment_intent":"pi_1","amount_refunded":700}}}"#;
        assert_eq!(
            parse_event(refunded, "d").unwrap().event,
            PaymentEvent::Refunded { intent_id: "pi_1".into(), amount_refunded: 700 }
        );
        let other = br#"{"id":"evt_3","type":"customer.created","data":{"object":{}}}"#;
        assert_eq!(parse_event(other, "d").unwrap().event, PaymentEvent::Ignored { kind: "customer.created".into() });
        assert!(parse_event(b"[]", "d").is_err());
    }

    #[test]
    fn a_failed_refund_and_a_chargeback_become_payment_events() {
        let failed = br#"{"id":"evt_4","type":"refund.failed","data":{"object":{"id":"re_1","object":"refund","payment_intent":"pi_1","status":"failed","failure_reason":"expired_or_canceled_card","metadata":{"refund_id":"dispute"}}}}"#;
        assert_eq!(
            parse_event(failed, "d").unwrap().event,
            PaymentEvent::RefundFailed {
                intent_id: "pi_1".into(),
                refund_id: Some("dispute".into()),
                provider_refund_id: "re_1".into(),
                reason: Some("expired_or_canceled_card".into()),
            }
        );
        // An update that is no failure means nothing to us.
        let pending = br#"{"id":"evt_5","type":"refund.updated","data":{"object":{"id":"re_1","payment_intent":"pi_1","status":"pending","metadata":{}}}}"#;
        assert!(matches!(parse_event(pending, "d").unwrap().event, PaymentEvent::Ignored { .. }));
        let canceled = br#"{"id":"evt_6","type":"refund.updated","data":{"object":{"id":"re_2","payment_intent":"pi_1","status":"canceled","metadata":{}}}}"#;
        assert!(matches!(
            parse_event(canceled, "d").unwrap().event,
            PaymentEvent::RefundFailed { refund_id: None, reason: Some(ref r), .. } if r == "canceled"
        ));
        let opened = br#"{"id":"evt_7","type":"charge.dispute.created","data":{"object":{"id":"dp_1","object":"dispute","payment_intent":"pi_1","amount":5000,"currency":"irr","reason":"fraudulent","status":"needs_response"}}}"#;
        assert_eq!(
            parse_event(opened, "d").unwrap().event,
            PaymentEvent::ChargebackOpened {
                intent_id: "pi_1".into(),
                provider_dispute_id: "dp_1".into(),
                amount: Money { amount: 5000, currency: "IRR".into() },
                reason: "fraudulent".into(),
                status: "needs_response".into(),
            }
        );
        let closed = br#"{"id":"evt_8","type":"charge.dispute.closed","data":{"object":{"id":"dp_1","payment_intent":"pi_1","status":"lost"}}}"#;
        assert_eq!(
            parse_event(closed, "d").unwrap().event,
            PaymentEvent::ChargebackClosed {
                intent_id: "pi_1".into(),
                provider_dispute_id: "dp_1".into(),
                status: "lost".into()
            }
        );
        // A dispute of a charge without a PaymentIntent is no payment of ours: acknowledged.
        let bare = br#"{"id":"evt_9","type":"charge.dispute.created","data":{"object":{"id":"dp_2","amount":1,"currency":"usd"}}}"#;
        assert!(matches!(parse_event(bare, "d").unwrap().event, PaymentEvent::Ignored { .. }));
    }
}
