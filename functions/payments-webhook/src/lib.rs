//! How payment providers reach us, with no JWT:
//! - `POST /v1/webhooks/payments/{provider}`: Stripe's signed events. The signature is
//!   verified over the raw body before anything reads it; each event id is applied once
//!   (`peyman::flows::payments::receive_webhook`). Answers 2xx to what was applied,
//!   repeated or not used, 400 to what is not signed by the provider, and 5xx only when
//!   the provider should retry (our storage failed, or the event kept losing races).
//! - `GET /v1/payments/zarinpal/callback?Authority=…&Status=OK|NOK`: the payer's browser,
//!   sent back by Zarinpal. Nothing of the query is trusted: the authority only finds our
//!   payment, which is verified with the gateway for the amount we stored
//!   (`peyman::flows::zarinpal::callback`). Answers 303 to the frontend's return page
//!   (`PAYMENT_RETURN_URL` with `payment=paid|failed` and the `order_id`), or a problem
//!   for a query that names no authority.

use chrono::{DateTime, Utc};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use peyman::flows::{App, payments, zarinpal};
use peyman::shell::answer::{Outcome, Reply};
use peyman::shell::http::body_bytes;
use peyman_rules::error::{ApiError, Code};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    let now = chrono::Utc::now();
    if request.method() == Method::GET {
        return Ok(match returned(app, &request, now).await {
            Ok(page) => Response::builder()
                .status(303)
                .header("location", page)
                .header("cache-control", "no-store")
                .body(Body::Empty)
                .unwrap_or_default(),
            Err(error) => Outcome::from(Err(error)).into_response(),
        });
    }
    Ok(Outcome::from(receive(app, &request, now).await).into_response())
}

async fn receive(app: &App, request: &Request, now: DateTime<Utc>) -> Result<Reply, ApiError> {
    let provider = request.path_parameters().first("provider").unwrap_or_default().to_owned();
    let signature = request.headers().get("stripe-signature").map(|v| v.to_str().unwrap_or_default());
    let body = body_bytes(request.body());
    let (event, outcome) = payments::receive_webhook(app, &provider, signature, &body, now).await?;
    Reply::ok(json!({ "event_id": event.id, "outcome": outcome }))
}

/// The callback's query read, the payment verified; the page the payer goes on to.
async fn returned(app: &App, request: &Request, now: DateTime<Utc>) -> Result<String, ApiError> {
    let query = request.query_string_parameters();
    let authority = query.first("Authority").ok_or_else(|| {
        ApiError::invalid(Code::AuthorityRequired, "Authority", "the gateway's Authority is required")
    })?;
    // Zarinpal's authorities: 36 letters and digits, beginning with A or S.
    if authority.len() != 36
        || !authority.starts_with(['A', 'S'])
        || !authority.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(ApiError::invalid(Code::InvalidAuthority, "Authority", "not a Zarinpal authority"));
    }
    let status_ok = match query.first("Status") {
        Some("OK") => true,
        Some("NOK") => false,
        _ => return Err(ApiError::invalid(Code::InvalidStatus, "Status", "Status is OK or NOK")),
    };
    zarinpal::callback(app, authority, status_ok, now).await
}
