//! Zarinpal's payment gateway (API v4), the wire format only: request a payment and get
//! its authority, the StartPay page the payer is sent to, verify a payment for the amount
//! *we* stored, and list paid authorities not yet verified (for reconciliation). What the
//! answers mean for an order is the flows' to decide (`flows::zarinpal`). Locally it
//! talks to our stand-in, `infra/local/zarinpal_server.py`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::rules::error::ApiError;

/// Below the shortest timeout of a function that calls it (10 s), as for Stripe.
const CALL_TIMEOUT: Duration = Duration::from_secs(6);

/// The name payments and routes know this provider by.
pub const PROVIDER: &str = "zarinpal";

/// The only currency we request in: Rials (the gateway also takes Tomans, `IRT`).
pub const CURRENCY: &str = "IRR";

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
}

#[derive(Debug, Clone)]
pub struct Zarinpal {
    http: reqwest::Client,
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
        crate::adapters::stripe::install_tls_provider();
        let http =
            reqwest::Client::builder().timeout(CALL_TIMEOUT).build().expect("a TLS client with the installed provider");
        Zarinpal { http, config }
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, ApiError> {
        let url = format!("{}/pg/v4/payment/{path}", self.config.api_base);
        let response = self.http.post(url).json(&body).send().await.map_err(gateway_error)?;
        response.json::<Value>().await.map_err(gateway_error)
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
}
