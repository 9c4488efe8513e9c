//! Zarinpal's payment gateway (API v4), the wire format only: request a payment and get
//! its authority, the StartPay page the payer is sent to, verify a payment for the amount
//! *we* stored, list paid authorities not yet verified (for reconciliation), and refund
//! through its separate GraphQL service (`AddRefund`, with the merchant's access token).
//! What the answers mean for an order is the flows' to decide (`flows::zarinpal`,
//! `flows::payments::send_refund`). Locally it talks to our stand-in,
//! `infra/local/zarinpal_server.py`.

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapters::provider_http::{self, Payload};
use peyman_rules::error::ApiError;
use peyman_rules::payment::{Answer, Receipt};

/// The name payments and routes know this provider by.
pub const PROVIDER: &str = "zarinpal";

/// The only currency we request in: Rials (the gateway also takes Tomans, `IRT`).
pub const CURRENCY: &str = "IRR";

/// The smallest refund the refund service takes, in Rials (its documentation: "حداقل
/// مبلغ قابل استرداد ۲۰۰۰۰ ریال"). A smaller one is paid back by hand.
pub const MIN_REFUND: i64 = 20_000;

/// The refund service (`ZARINPAL_GRAPHQL_URL`, default
/// `https://next.zarinpal.com/api/v4/graphql/`; `ZARINPAL_ACCESS_TOKEN`, the merchant's
/// access token). Configured only where the merchant has one.
#[derive(Debug, Clone)]
pub struct RefundService {
    pub graphql_url: String,
    pub access_token: String,
}

/// Whether a refund of `amount` can go through the refund service: the service and the
/// transaction to name, or why support must pay it back by hand instead. Decided before
/// any call is claimed, so a refund that cannot be sent costs no claim.
pub fn refund_route<'a>(
    service: Option<&'a RefundService>,
    amount: i64,
    receipt: Option<&'a Receipt>,
) -> Result<(&'a RefundService, &'a Receipt), String> {
    let Some(service) = service else {
        return Err("this merchant has no access to Zarinpal's refund service".into());
    };
    if amount < MIN_REFUND {
        return Err(format!("below the {MIN_REFUND} Rial minimum of Zarinpal's refund service"));
    }
    // The verify answer's reference id names the transaction (see the README).
    let Some(receipt) = receipt else {
        return Err("the payment's verification named no reference id".into());
    };
    Ok((service, receipt))
}

/// `AddRefund`: the payment by its transaction number, how much, and an instant card
/// refund (`CARD`; `PAYA` waits for the next interbank cycle).
const ADD_REFUND: &str = "mutation AddRefund($session_id: ID!, $amount: BigInteger!, $description: String, \
    $method: InstantPayoutActionTypeEnum, $reason: RefundReasonEnum) { resource: AddRefund(session_id: $session_id, \
    amount: $amount, description: $description, method: $method, reason: $reason) { terminal_id, id, amount, \
    timeline { refund_amount, refund_time, refund_status } } }";

/// A deployment that pays through Zarinpal (`PAYMENT_PROVIDER=zarinpal`).
#[derive(Debug, Clone)]
pub struct ZarinpalConfig {
    /// `ZARINPAL_API_BASE`: `https://payment.zarinpal.com` in production; the stand-in's
    /// address locally.
    pub api_base: String,
    /// `ZARINPAL_MERCHANT_ID`: the merchant's 36-character id.
    pub merchant_id: String,
    /// `ZARINPAL_CALLBACK_URL`: our callback route, where the gateway sends the payer back.
    pub callback_url: String,
    /// `PAYMENT_RETURN_URL`: the frontend page the callback sends the payer on to, with
    /// `order_id` and `payment=paid|failed`.
    pub return_url: String,
    /// `RECONCILE_AFTER_SECONDS` (default 120): how long after its opening a paid but
    /// unverified payment is left to its payer's return before the sweeper verifies it.
    pub reconcile_after: Duration,
    /// Refunds through the gateway, where the merchant has an access token; without
    /// one every refund is paid back by hand.
    pub refunds: Option<RefundService>,
}

#[derive(Debug, Clone)]
pub struct Zarinpal {
    config: ZarinpalConfig,
}

/// What verify said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// 100: verified now; the money is ours.
    Verified { ref_id: i64, card_pan: String },
    /// 101: verified before; the same success again.
    AlreadyVerified { ref_id: i64, card_pan: String },
    /// Anything else: the gateway's code and message (-50 a wrong amount, -51 not paid,
    /// -54 an unknown authority…).
    Refused { code: i64, message: String },
}

#[derive(Debug, Deserialize)]
struct Errors {
    code: i64,
    #[serde(default)]
    message: String,
}

/// The gateway could not be reached or answered nonsense: the caller retries (503 to a
/// frontend, SQS or the next sweep otherwise).
fn gateway_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable { what: "payment provider", cause: format!("zarinpal: {e}") }
}

/// The `errors` object of an answer, when it holds one.
fn refused(body: &Value) -> Option<Errors> {
    serde_json::from_value(body["errors"].clone()).ok()
}

impl Zarinpal {
    pub fn config(&self) -> &ZarinpalConfig {
        &self.config
    }

    pub fn new(config: ZarinpalConfig) -> Self {
        Zarinpal { config }
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, ApiError> {
        let url = format!("{}/pg/v4/payment/{path}", self.config.api_base);
        let (_, answer) = provider_http::post(&url, None, None, Payload::Json(&body)).await.map_err(gateway_error)?;
        serde_json::from_slice(&answer).map_err(gateway_error)
    }

    /// Requests a payment of `amount` Rials for `order_id`, returning to our callback;
    /// returns its authority.
    pub async fn request(&self, amount: i64, description: &str, order_id: &str) -> Result<String, ApiError> {
        let body = json!({
            "merchant_id": self.config.merchant_id,
            "amount": amount,
            "currency": CURRENCY,
            "description": description,
            "callback_url": self.config.callback_url,
            "metadata": { "order_id": order_id },
        });
        let answer = self.call("request.json", body).await?;
        match (answer["data"]["code"].as_i64(), answer["data"]["authority"].as_str()) {
            (Some(100), Some(authority)) => Ok(authority.to_owned()),
            _ => Err(ApiError::internal(format!(
                "zarinpal refused the payment request: {}",
                refused(&answer).map_or(answer.to_string(), |e| format!("{} {}", e.code, e.message))
            ))),
        }
    }

    /// Where the payer pays.
    pub fn start_pay_url(&self, authority: &str) -> String {
        format!("{}/pg/StartPay/{authority}", self.config.api_base)
    }

    /// Verifies `authority` for `amount`, which must be the amount we stored for it.
    pub async fn verify(&self, authority: &str, amount: i64) -> Result<Verification, ApiError> {
        let body = json!({ "merchant_id": self.config.merchant_id, "authority": authority, "amount": amount });
        let answer = self.call("verify.json", body).await?;
        let data = &answer["data"];
        let paid = |data: &Value| {
            (data["ref_id"].as_i64().unwrap_or_default(), data["card_pan"].as_str().unwrap_or_default().to_owned())
        };
        Ok(match data["code"].as_i64() {
            Some(100) => {
                let (ref_id, card_pan) = paid(data);
                Verification::Verified { ref_id, card_pan }
            }
            Some(101) => {
                let (ref_id, card_pan) = paid(data);
                Verification::AlreadyVerified { ref_id, card_pan }
            }
            _ => match refused(&answer) {
                Some(e) => Verification::Refused { code: e.code, message: e.message },
                None => return Err(gateway_error(format!("an answer without a code: {answer}"))),
            },
        })
    }

    /// The merchant's paid authorities not yet verified, with their amounts.
    pub async fn unverified(&self) -> Result<Vec<(String, i64)>, ApiError> {
        let answer = self.call("unVerified.json", json!({ "merchant_id": self.config.merchant_id })).await?;
        if answer["data"]["code"].as_i64() != Some(100) {
            return Err(gateway_error(format!("unVerified refused: {answer}")));
        }
        Ok(answer["data"]["authorities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| Some((a["authority"].as_str()?.to_owned(), a["amount"].as_i64()?)))
            .collect())
    }

    /// Asks the refund service to return `amount` Rials of the payment whose
    /// transaction number is `session_id`, to the card that paid. The service has no
    /// idempotency key: the caller makes sure it asks at most once (`Refund::call`).
    /// `Ok(Answer::Refused)`: it answered no (GraphQL errors, a rejected token);
    /// `Err`: no answer, so the outcome is unknown.
    pub async fn add_refund(
        &self,
        service: &RefundService,
        session_id: &str,
        amount: i64,
        description: &str,
    ) -> Result<Answer<(String, String)>, ApiError> {
        let body = json!({
            "query": ADD_REFUND,
            "variables": {
                "session_id": session_id,
                "amount": amount,
                "description": description,
                "method": "CARD",
                "reason": "CUSTOMER_REQUEST",
            },
        });
        let (status, answer) =
            provider_http::post(&service.graphql_url, Some(&service.access_token), None, Payload::Json(&body))
                .await
                .map_err(gateway_error)?;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        if let Some(errors) = answer["errors"].as_array().filter(|e| !e.is_empty()) {
            let why = errors.iter().filter_map(|e| e["message"].as_str()).collect::<Vec<_>>().join("; ");
            return Ok(Answer::Refused(format!("zarinpal refund: {why}")));
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Ok(Answer::Refused(format!("zarinpal refund: the access token was refused ({status})")));
        }
        let resource = &answer["data"]["resource"];
        match (
            resource["id"].as_str().map(str::to_owned).or_else(|| resource["id"].as_i64().map(|i| i.to_string())),
            status.is_success(),
        ) {
            (Some(id), true) => {
                let state = resource["timeline"]["refund_status"].as_str().unwrap_or("accepted").to_owned();
                Ok(Answer::Done((id, state)))
            }
            _ => Err(gateway_error(format!("an AddRefund answer without a refund ({status}): {answer}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> RefundService {
        RefundService { graphql_url: "http://127.0.0.1:1/api/v4/graphql/".into(), access_token: "token".into() }
    }

    fn receipt() -> Receipt {
        Receipt { reference_id: "201".into(), card_pan: "502229******5995".into() }
    }

    #[test]
    fn a_refund_goes_through_the_service_from_its_minimum_with_a_receipt() {
        let (service, receipt) = (service(), receipt());
        let (to, named) = refund_route(Some(&service), MIN_REFUND, Some(&receipt)).expect("through the service");
        assert_eq!(to.access_token, "token");
        assert_eq!(named.reference_id, "201");
    }

    #[test]
    fn without_an_access_token_support_pays_it_back() {
        let why = refund_route(None, 12_000_000, Some(&receipt())).unwrap_err();
        assert!(why.contains("no access"), "{why}");
    }

    #[test]
    fn below_the_minimum_support_pays_it_back() {
        let why = refund_route(Some(&service()), MIN_REFUND - 1, Some(&receipt())).unwrap_err();
        assert!(why.contains("20000 Rial minimum"), "{why}");
    }

    #[test]
    fn without_the_verifications_reference_support_pays_it_back() {
        let why = refund_route(Some(&service()), 12_000_000, None).unwrap_err();
        assert!(why.contains("no reference id"), "{why}");
    }
}
