//! `POST /v1/webhooks/payments/{provider}`: the payment provider's signed events, with no
//! JWT. The signature is verified over the raw body before anything reads it; each event
//! id is applied once (`payment::receive`). Answers 2xx to what was applied, repeated or
//! not used, 400 to what is not signed by the provider, and 5xx only when the provider
//! should retry (our storage failed, or the event kept losing races).

use lambda_http::{Body, Error, Request, RequestExt, Response};
use peyman::error::ApiError;
use peyman::http::{Outcome, Reply, body_bytes};
use peyman::{App, payment, stripe};
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(Outcome::from(receive(app, &request).await).into_response())
}

async fn receive(app: &App, request: &Request) -> Result<Reply, ApiError> {
    let provider = request.path_parameters().first("provider").unwrap_or_default().to_owned();
    if provider != stripe::PROVIDER {
        return Err(ApiError::NotFound { what: "payment provider" });
    }
    let body = body_bytes(request.body());
    let header = request.headers().get("stripe-signature").map(|v| v.to_str().unwrap_or_default());
    app.payments
        .verify(header, &body, chrono::Utc::now())
        .map_err(|e| ApiError::malformed("invalid_signature", Some("Stripe-Signature"), e.to_string()))?;
    let received =
        app.payments.parse_event(&body).map_err(|e| ApiError::malformed("malformed_event", Some("body"), e))?;
    let outcome = payment::receive(app, stripe::PROVIDER, &received).await?;
    Reply::ok(json!({ "event_id": received.id, "outcome": outcome }))
}
