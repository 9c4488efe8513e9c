//! Warm cost of the hot routes (issue 12): instructions per request of our process only,
//! the release `bootstrap` of each route's function run under callgrind through our
//! runtime-API emulator (`peyman_bench::runtime`), against the local stack (moto, and
//! localstripe for the accept's payment intent). Each call is a real one with data of its
//! own, seeded through the local gateway first: get an order, create an offer (one deal
//! each), accept an offer (one offer each), and the payment webhook (one signed
//! `payment_intent.succeeded` per placed order). A process answering one call is set
//! against one answering [`CALLS`] + 1, so INIT, the first call's connections and the exit
//! fall out: what is left is per warm call. Every answer is checked for the route's status,
//! so what is measured is the work done, never a refusal.
//!
//! Printed, never asserted. `make bench` builds the release binaries and runs this under
//! its own local stack.

use std::path::{Path, PathBuf};

use std::time::Duration;

use peyman_bench::runtime::{self, Runtime};
use peyman_e2e::*;
use serde_json::{Value, json};

/// Warm calls per figure.
const CALLS: usize = 5;

fn release_binary(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release").join(name)
}

/// What the function would get from the template here, as the gateway's functions do:
/// the template's environment, what the local stack overrides in this process's
/// environment, and the AWS endpoint and credentials it set.
fn environment() -> Vec<(String, String)> {
    let template = peyman_local::local_template(&template_path()).expect("template");
    let mut env = peyman_local::local_environment(&template).expect("environment");
    for (name, value) in std::env::vars() {
        if env.contains_key(&name) || name.starts_with("AWS_") {
            env.insert(name, value);
        }
    }
    env.insert("RUST_LOG".into(), "warn".into());
    env.into_iter().collect()
}

/// An API Gateway (HTTP API, payload 2.0) event as the template's routes deliver it, with
/// the JWT authorizer's claims for `caller` (none for the public webhook).
fn event(route: &str, path: &str, parameters: Value, caller: Option<&str>, headers: Value, body: &str) -> Vec<u8> {
    let (method, _) = route.split_once(' ').unwrap();
    let now = chrono::Utc::now();
    let authorizer = caller.map(|sub| {
        json!({ "jwt": { "claims": { "sub": sub, "iss": "https://peyman.local/issuer", "aud": "peyman-local",
            "iat": now.timestamp().to_string(), "exp": (now.timestamp() + 3600).to_string() }, "scopes": null } })
    });
    let mut headers = headers;
    headers["host"] = json!("127.0.0.1");
    headers["content-type"] = json!("application/json");
    serde_json::to_vec(&json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "127.0.0.1", "domainPrefix": "bench",
            "authorizer": authorizer,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
            "requestId": ulid::Ulid::new().to_string(), "routeKey": route, "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(), "timeEpoch": now.timestamp_millis()
        },
        "isBase64Encoded": false,
        "body": body,
        "pathParameters": parameters
    }))
    .unwrap()
}

fn fresh_key() -> Value {
    json!({ "idempotency-key": ulid::Ulid::new().to_string() })
}

/// One route's events: one for a process of one call, and [`CALLS`] + 1 for the other.
struct Route {
    name: &'static str,
    function: &'static str,
    status: u64,
    make: Box<dyn Fn() -> Vec<Vec<u8>>>,
}

/// The instructions of `route`'s first call in a process (after INIT) and per warm call
/// after it, or why there are none.
fn per_call(route: &Route, env: &[(String, String)]) -> Result<(u64, u64), String> {
    let binary = release_binary(route.function);
    if !binary.exists() {
        return Err(format!("not built (cargo build --release -p {})", route.function));
    }
    if !runtime::valgrind() {
        return Err("no valgrind".into());
    }
    let events = (route.make)();
    let (one, many) = events.split_at(1);
    let run = |events: &[Vec<u8>]| {
        let (ir, answers) = runtime::instructions(&binary, env, &[], events).expect("a callgrind run");
        for answer in answers {
            check(route, &answer);
        }
        ir
    };
    let (none, one, many) = (run(&[]), run(one), run(many));
    Ok((one.saturating_sub(none), many.saturating_sub(one) / CALLS as u64))
}

/// The answer must be the route's success: what is measured is the work, not a refusal.
fn check(route: &Route, answer: &[u8]) {
    let answer: Value = serde_json::from_slice(answer).expect("an API Gateway answer");
    assert_eq!(answer["statusCode"], route.status, "{}: {answer}", route.name);
}

/// Times of the first call and the tenth in one process (median over `processes`), each
/// from handing the function the event to its answer, against the local stack.
fn first_against_tenth(route: &Route, env: &[(String, String)], processes: usize) -> Option<(Duration, Duration)> {
    let binary = release_binary(route.function);
    if !binary.exists() {
        return None;
    }
    let mut firsts = Vec::new();
    let mut tenths = Vec::new();
    for _ in 0..processes {
        let events: Vec<_> = (0..10).map(|_| (route.make)().remove(0)).collect();
        let mut process = Runtime::start(&binary, env, &[]);
        let waiting = process.wait_for_next();
        let (answers, _) = process.serve(waiting, &events);
        process.kill();
        for (_, answer) in &answers {
            check(route, answer);
        }
        firsts.push(answers[0].0);
        tenths.push(answers[9].0);
    }
    firsts.sort();
    tenths.sort();
    Some((firsts[processes / 2], tenths[processes / 2]))
}

#[tokio::main]
async fn main() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let runs = CALLS + 2;

    // Get an order: the same placed order, read by its buyer.
    let deal = Deal::new(&api).await;
    let placed = deal.placed_order(&api).await;
    let order_id = placed["order_id"].as_str().unwrap().to_owned();
    let buyer = deal.buyer.clone();
    let get = Route {
        name: "get order",
        function: "orders-api",
        status: 200,
        make: Box::new(move || {
            let path = format!("/v1/orders/{order_id}");
            let one = || {
                event("GET /v1/orders/{order_id}", &path, json!({ "order_id": order_id }), Some(&buyer), json!({}), "")
            };
            (0..runs).map(|_| one()).collect()
        }),
    };

    // Create an offer: one deal (a buyer's message to a seller) per call.
    let mut offers = Vec::new();
    for _ in 0..runs {
        let deal = Deal::new(&api).await;
        offers.push(event(
            "POST /v1/offers",
            "/v1/offers",
            json!({}),
            Some(&deal.seller),
            fresh_key(),
            &deal.offer().to_string(),
        ));
    }
    let create =
        Route { name: "create offer", function: "offers-api", status: 201, make: Box::new(move || offers.clone()) };

    // Accept an offer: one sent offer per call; each accept opens a payment intent at localstripe.
    let mut accepts = Vec::new();
    for _ in 0..runs {
        let deal = Deal::new(&api).await;
        let offer_id = deal.send_offer(&api, deal.offer()).await;
        let path = format!("/v1/offers/{offer_id}/accept");
        let parameters = json!({ "offer_id": offer_id });
        accepts.push(event(
            "POST /v1/offers/{offer_id}/accept",
            &path,
            parameters,
            Some(&deal.buyer),
            fresh_key(),
            "{}",
        ));
    }
    let accept = Route {
        name: "accept offer",
        function: "offer-decisions",
        status: 201,
        make: Box::new(move || accepts.clone()),
    };

    // The payment webhook: a placed order per call, its intent reported paid, signed as
    // Stripe signs (just before the run, well within the 5 minutes' tolerance).
    let (mut intents, mut paid) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let deal = Deal::new(&api).await;
        let placed = deal.placed_order(&api).await;
        paid.push((placed["order_id"].as_str().unwrap().to_owned(), deal));
        let mut intent = stripe.intent(placed["payment"]["payment_intent_id"].as_str().unwrap()).await;
        intent["status"] = json!("succeeded");
        intent["amount_received"] = intent["amount"].clone();
        intents.push(stripe_event(&format!("evt_{}", ulid::Ulid::new()), "payment_intent.succeeded", intent));
    }
    let secret = stripe.webhook_secret.clone();
    let webhook = Route {
        name: "payment webhook",
        function: "payments-webhook",
        status: 200,
        make: Box::new(move || {
            let now = chrono::Utc::now().timestamp();
            let requests: Vec<_> = intents.iter().map(|body| (body.as_str(), secret.as_str(), now)).collect();
            let signatures = Stripe::sign_all(&requests);
            let path = "/v1/webhooks/payments/stripe";
            intents
                .iter()
                .zip(signatures)
                .map(|(body, signature)| {
                    let headers = json!({ "stripe-signature": signature });
                    let route = "POST /v1/webhooks/payments/{provider}";
                    event(route, path, json!({ "provider": "stripe" }), None, headers, body)
                })
                .collect()
        }),
    };

    let env = environment();
    if let Some((first, tenth)) = first_against_tenth(&get, &env, 11) {
        println!("First call against the 10th, one process (orders-api, get order, against moto; median of 11)");
        println!(
            "first call: {first:.2?}   10th call: {tenth:.2?}   ratio {:.2}",
            first.as_secs_f64() / tenth.as_secs_f64()
        );
        println!();
    }
    println!(
        "Instructions of our process per call (callgrind; the first call after INIT, then per warm call of {CALLS})"
    );
    println!("{:<18} {:<18} {:>12} {:>12} {:>7}", "route", "function", "first call", "warm call", "ratio");
    for route in [get, create, accept, webhook] {
        let figures = tokio::task::block_in_place(|| per_call(&route, &env));
        match figures {
            Ok((first, warm)) => println!(
                "{:<18} {:<18} {:>10.2} M {:>10.2} M {:>7.2}",
                route.name,
                route.function,
                first as f64 / 1e6,
                warm as f64 / 1e6,
                first as f64 / warm as f64
            ),
            Err(why) => println!("{:<18} {:<18} {why}", route.name, route.function),
        }
    }

    // A webhook answers 200 to what it leaves alone too: the orders must have started.
    if runtime::valgrind() && release_binary("payments-webhook").exists() {
        for (order_id, deal) in &paid {
            let started = eventually(std::time::Duration::from_secs(20), async || {
                (deal.order(&api, order_id).await["status"] == "in_progress").then_some(())
            });
            assert!(
                started.await.is_some(),
                "order {order_id} did not start: the webhook's calls were not the real work"
            );
        }
    }
}
