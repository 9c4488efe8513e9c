//! `POST /v1/webhooks/payments/{provider}`: the payment provider's signed events, with no
//! JWT. The signature is verified over the raw body before anything reads it; each event
//! id is applied once (`peyman::flows::payments::receive_webhook`). Answers 2xx to what
//! was applied, repeated or not used, 400 to what is not signed by the provider, and 5xx
//! only when the provider should retry (our storage failed, or the event kept losing
//! races).

use lambda_http::{Body, Error, Request, RequestExt, Response};
use peyman::flows::{App, payments};
use peyman::rules::error::ApiError;
use peyman::shell::answer::{Outcome, Reply};
use peyman::shell::http::body_bytes;
use serde_json::json;

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    Ok(Outcome::from(receive(app, &request).await).into_response())
}

async fn receive(app: &App, request: &Request) -> Result<Reply, ApiError> {
    let provider = request.path_parameters().first("provider").unwrap_or_default().to_owned();
    let signature = request.headers().get("stripe-signature").map(|v| v.to_str().unwrap_or_default());
    let body = body_bytes(request.body());
    let (event, outcome) = payments::receive_webhook(app, &provider, signature, &body, chrono::Utc::now()).await?;
    Reply::ok(json!({ "event_id": event.id, "outcome": outcome }))
}
