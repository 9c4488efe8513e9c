//! The sample events in `events/` (the ones `cargo lambda invoke --data-file` takes) run
//! through the handlers against the local stack, so the samples stay true to the code.

use lambda_http::Body;
use peyman_e2e::*;

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"))).expect("sample event")
}

fn request(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&sample(name)).expect("a valid API Gateway v2 event")
}

/// The sample with its subject and idempotency key replaced, so runs never collide.
fn fresh_request(name: &str, sub: &str) -> lambda_http::Request {
    let mut event: serde_json::Value = serde_json::from_str(&sample(name)).unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!(sub);
    if event["headers"].get("idempotency-key").is_some() {
        event["headers"]["idempotency-key"] = json!(ulid::Ulid::new().to_string());
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn status_and_body(response: lambda_http::Response<Body>) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    (status, body)
}

#[tokio::test]
async fn api_samples_run_through_their_handlers() {
    let app = Aws::connect().await.app().await;
    let (status, body) = status_and_body(sellers_api::handle(&app, request("sellers-api.json")).await.unwrap());
    assert_eq!((status, body["user_id"].as_str()), (200, Some("demo-seller")));

    let (status, body) = status_and_body(
        sellers_api::handle(&app, fresh_request("sellers-api-support-level.json", &user("agent"))).await.unwrap(),
    );
    assert_eq!((status, body["level"].as_str()), (200, Some("level_one")));

    let seller = user("seller");
    let (status, body) =
        status_and_body(gigs_api::handle(&app, fresh_request("gigs-api.json", &seller)).await.unwrap());
    assert_eq!((status, body["seller_id"].as_str()), (201, Some(seller.as_str())));
    assert_eq!(body["title"], "طراحی لوگو می‌کنم ۳ روزه 🎨");

    let (status, body) =
        status_and_body(messages_api::handle(&app, fresh_request("messages-api.json", &seller)).await.unwrap());
    assert_eq!((status, body["recipient_id"].as_str()), (201, Some("demo-buyer")));
    let (status, body) =
        status_and_body(messages_api::handle(&app, fresh_request("messages-api-list.json", &seller)).await.unwrap());
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(1)));

    let (status, body) = status_and_body(
        notifications_api::handle(&app, fresh_request("notifications-api.json", &user("nobody"))).await.unwrap(),
    );
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(0)));

    let (status, body) =
        status_and_body(uploads_api::handle(&app, fresh_request("uploads-api.json", &user("buyer"))).await.unwrap());
    assert_eq!((status, body["status"].as_str(), body["kind"].as_str()), (201, Some("pending"), Some("voice_note")));
}

#[tokio::test]
async fn a_sample_without_claims_is_unauthenticated() {
    let app = Aws::connect().await.app().await;
    let mut event: serde_json::Value = serde_json::from_str(&sample("sellers-api.json")).unwrap();
    event["requestContext"].as_object_mut().unwrap().remove("authorizer");
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let (status, body) = status_and_body(sellers_api::handle(&app, request).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
}

#[tokio::test]
async fn the_sqs_sample_runs_through_the_checker() {
    let app = Aws::connect().await.app().await;
    let event = serde_json::from_str(&sample("upload-checker.json")).unwrap();
    // The sample names an upload this stack never saw: ignored, not failed.
    let response = upload_checker::handle(&app, event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
}

#[tokio::test]
async fn custom_project_samples_run_through_their_handlers() {
    let app = Aws::connect().await.app().await;
    // The sample seller has not turned custom projects on here: a clear refusal, no 5xx.
    let (status, body) =
        status_and_body(requests_api::handle(&app, fresh_request("requests-api.json", &user("buyer"))).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (422, Some("custom_projects_disabled")));
    let (status, body) =
        status_and_body(offers_api::handle(&app, fresh_request("offers-api.json", &user("seller"))).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (403, Some("custom_projects_disabled")));
    let (status, body) = status_and_body(
        offer_decisions::handle(&app, fresh_request("offer-decisions.json", &user("buyer"))).await.unwrap(),
    );
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) =
        status_and_body(orders_api::handle(&app, fresh_request("orders-api.json", &user("buyer"))).await.unwrap());
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(0)));
    // The order the work and review samples name does not exist here: 404, nothing stored.
    let (status, body) =
        status_and_body(order_work::handle(&app, fresh_request("order-work.json", &user("seller"))).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) =
        status_and_body(reviews_api::handle(&app, fresh_request("reviews-api.json", &user("buyer"))).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) =
        status_and_body(disputes_api::handle(&app, fresh_request("disputes-api.json", &user("buyer"))).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // An amendment proposed, a tip and a settlement proposed, on that order and a dispute of it.
    for (handled, name) in [
        (order_work::handle(&app, fresh_request("order-work-amendment.json", &user("seller"))).await, "amendment"),
        (order_work::handle(&app, fresh_request("order-work-tip.json", &user("buyer"))).await, "tip"),
        (disputes_api::handle(&app, fresh_request("disputes-api-settlement.json", &user("buyer"))).await, "settlement"),
    ] {
        let (status, body) = status_and_body(handled.unwrap());
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{name}: {body}");
    }
    // Support asks for the packet of a dispute this stack does not have.
    let (status, body) = status_and_body(
        disputes_api::handle(&app, fresh_request("disputes-api-export.json", &user("agent"))).await.unwrap(),
    );
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // A gig of this stack, read through the sample with its id swapped in.
    let gig = Deal::new(&Api::default()).await.gig_id;
    let mut event: serde_json::Value = serde_json::from_str(&sample("reviews-api-gig.json")).unwrap();
    let path = format!("/v1/gigs/{gig}/reviews");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"]["gig_id"] = json!(gig);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let (status, body) = status_and_body(reviews_api::handle(&app, request).await.unwrap());
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(0)));
}

#[tokio::test]
async fn follow_up_and_schedule_samples_run_through_their_functions() {
    let app = Aws::connect().await.app().await;
    let event = serde_json::from_str(&sample("followups.json")).unwrap();
    assert!(followups::handle(&app, event).await.unwrap().batch_item_failures.is_empty());
    // An export job for an export this stack never had: left alone, not failed.
    let event = serde_json::from_str(&sample("export-builder.json")).unwrap();
    assert!(export_builder::handle(&app, event).await.unwrap().batch_item_failures.is_empty());
    // The sample sweep is at a past time: nothing was due then.
    let swept = sweeper::handle(&app, serde_json::from_str(&sample("sweeper.json")).unwrap()).await.unwrap();
    assert_eq!(swept["fired"], 0);
}

#[tokio::test]
async fn the_webhook_sample_runs_through_its_function() {
    let app = Aws::connect().await.app().await;
    // As stored, the sample is signed at its own time, long past the 300 s tolerance.
    let (status, body) =
        status_and_body(payments_webhook::handle(&app, request("payments-webhook.json")).await.unwrap());
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_signature")));
    // Signed now, under fresh ids. Its mark names the sample's deployment, not this one:
    // left alone. Marked as this deployment's, its intent was never opened here (the
    // crash case), so the money is held and refunded, not lost.
    for (deployment, outcome) in [("peyman-sample", "ignored"), (app.config.table_name.as_str(), "held_and_refunding")]
    {
        let mut event: serde_json::Value = serde_json::from_str(&sample("payments-webhook.json")).unwrap();
        let mut stripe_event: serde_json::Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        stripe_event["id"] = json!(format!("evt_{}", ulid::Ulid::new()));
        stripe_event["data"]["object"]["id"] = json!(format!("pi_{}", ulid::Ulid::new()));
        stripe_event["data"]["object"]["metadata"]["peyman_deployment"] = json!(deployment);
        let payload = stripe_event.to_string();
        event["headers"]["stripe-signature"] = json!(Stripe::default().sign(&payload, chrono::Utc::now().timestamp()));
        event["body"] = json!(payload);
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let (status, body) = status_and_body(payments_webhook::handle(&app, request).await.unwrap());
        assert_eq!((status, body["outcome"].as_str()), (200, Some(outcome)), "{body}");
    }
}

#[tokio::test]
async fn the_zarinpal_callback_sample_runs_through_its_function() {
    let mut app = Aws::connect().await.app().await;
    // This stack pays through Stripe: there is no Zarinpal callback here.
    let response = payments_webhook::handle(&app, request("payments-webhook-zarinpal-callback.json")).await.unwrap();
    let (status, body) = status_and_body(response);
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // Configured for Zarinpal, the sample's authority was never opened here: the payer
    // goes on to the return page, told it failed, and nothing is verified.
    app.config.zarinpal = Some(peyman::adapters::zarinpal::ZarinpalConfig {
        api_base: std::env::var("ZARINPAL_API_BASE").unwrap(),
        merchant_id: std::env::var("ZARINPAL_MERCHANT_ID").unwrap(),
        callback_url: "https://api.example.com/v1/payments/zarinpal/callback".into(),
        return_url: "https://shop.example.com/payment".into(),
        reconcile_after: std::time::Duration::from_secs(120),
        refunds: None,
    });
    app.payments = peyman::adapters::payments::Payments::new(&app.config);
    let response = payments_webhook::handle(&app, request("payments-webhook-zarinpal-callback.json")).await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "https://shop.example.com/payment?payment=failed");
}
