//! Latency of the main routes through the local gateway and moto, sequential and with
//! concurrency, printed as percentiles. Run by `make bench` against its own local stack.
//! The figures describe a laptop with moto, not Lambda; they are for comparing changes.

use std::time::{Duration, Instant};

use peyman_e2e::*;

const ROUNDS: usize = 200;

fn report(name: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{name:<34} n={:<4} p50={:>7.2?} p95={:>7.2?} p99={:>7.2?} max={:>7.2?} throughput={:.0}/s",
        samples.len(),
        pick(0.50),
        pick(0.95),
        pick(0.99),
        samples[samples.len() - 1],
        samples.len() as f64 / wall.as_secs_f64()
    );
}

async fn measure<F, Fut>(name: &str, rounds: usize, concurrency: usize, make: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Res> + Send + 'static,
{
    let start = Instant::now();
    let mut samples = Vec::with_capacity(rounds);
    for batch in (0..rounds).collect::<Vec<_>>().chunks(concurrency) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&i| {
                let request = make(i);
                tokio::spawn(async move {
                    let t = Instant::now();
                    let r = request.await;
                    assert!(r.status < 300, "{}", r.text);
                    t.elapsed()
                })
            })
            .collect();
        for task in tasks {
            samples.push(task.await.expect("request"));
        }
    }
    report(name, samples, start.elapsed());
}

#[tokio::main]
async fn main() {
    let api = Api::default();
    let (seller, buyer) = (user("bench-seller"), user("bench-buyer"));
    let (st, bt) = (token(&seller), token(&buyer));
    let gig =
        api.post("/v1/gigs", &st, json!({ "title": "bench" })).await.ok(201)["gig_id"].as_str().unwrap().to_owned();
    for _ in 0..20 {
        api.post(&format!("/v1/conversations/{seller}/messages"), &bt, json!({ "text": "سلام" })).await.ok(201);
    }
    println!("Peyman API through the local gateway");
    // Transactions first, on the emptiest table, so their figures compare across changes.
    payments(&api).await;
    for concurrency in [1, 8] {
        let (a, t, g) = (api.clone(), bt.clone(), gig.clone());
        measure(&format!("GET /v1/gigs/{{id}} c={concurrency}"), ROUNDS, concurrency, move |_| {
            let (a, t, g) = (a.clone(), t.clone(), g.clone());
            async move { a.get(&format!("/v1/gigs/{g}"), &t).await }
        })
        .await;
        let (a, t) = (api.clone(), st.clone());
        measure(&format!("POST /v1/gigs c={concurrency}"), ROUNDS, concurrency, move |_| {
            let (a, t) = (a.clone(), t.clone());
            async move { a.post("/v1/gigs", &t, json!({ "title": "طراحی" })).await }
        })
        .await;
        let (a, t, s) = (api.clone(), bt.clone(), seller.clone());
        measure(&format!("POST messages c={concurrency}"), ROUNDS, concurrency, move |_| {
            let (a, t, s) = (a.clone(), t.clone(), s.clone());
            async move { a.post(&format!("/v1/conversations/{s}/messages"), &t, json!({ "text": "پیام" })).await }
        })
        .await;
        let (a, t, s) = (api.clone(), bt.clone(), seller.clone());
        measure(&format!("GET messages (20) c={concurrency}"), ROUNDS, concurrency, move |_| {
            let (a, t, s) = (a.clone(), t.clone(), s.clone());
            async move { a.get(&format!("/v1/conversations/{s}/messages?limit=20"), &t).await }
        })
        .await;
        let (a, t) = (api.clone(), st.clone());
        measure(&format!("POST idempotent replay c={concurrency}"), ROUNDS, concurrency, move |_| {
            let (a, t) = (a.clone(), t.clone());
            async move {
                a.send(
                    "POST",
                    "/v1/gigs",
                    Some(&t),
                    Some(r#"{"title":"same"}"#),
                    &[("Idempotency-Key", "bench-replay")],
                )
                .await
            }
        })
        .await;
    }
}

/// How many offers are accepted and webhooks received (each needs an offer or an event
/// prepared first).
const PAYMENT_ROUNDS: usize = 50;

/// Accepting (which opens a PaymentIntent at localstripe) and receiving signed webhooks.
async fn payments(api: &Api) {
    let deal = Deal::new(api).await;
    let mut offers = Vec::new();
    for _ in 0..PAYMENT_ROUNDS {
        offers.push(deal.send_offer(api, deal.offer()).await);
    }
    let (a, t) = (api.clone(), token(&deal.buyer));
    measure("POST accept (+ PaymentIntent) c=1", PAYMENT_ROUNDS, 1, move |i| {
        let (a, t, id) = (a.clone(), t.clone(), offers[i].clone());
        async move { a.post(&format!("/v1/offers/{id}/accept"), &t, json!({})).await }
    })
    .await;

    let order = deal.placed_order(api).await;
    let intent_id = order["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let secret = Stripe::default().webhook_secret;
    let now = chrono::Utc::now().timestamp();
    let events: Vec<String> = (0..PAYMENT_ROUNDS)
        .map(|_| {
            let object = json!({ "id": intent_id, "object": "payment_intent",
                                 "last_payment_error": { "code": "card_declined", "message": "declined" } });
            stripe_event(&format!("evt_{}", ulid::Ulid::new()), "payment_intent.payment_failed", object)
        })
        .collect();
    let requests: Vec<(&str, &str, i64)> = events.iter().map(|e| (e.as_str(), secret.as_str(), now)).collect();
    let headers = Stripe::sign_all(&requests);
    let (a, e, h) = (api.clone(), events.clone(), headers.clone());
    measure("POST webhook (new event) c=1", PAYMENT_ROUNDS, 1, move |i| {
        let (a, body, header) = (a.clone(), e[i].clone(), h[i].clone());
        async move { a.webhook(&body, Some(&header)).await }
    })
    .await;
    let (a, e, h) = (api.clone(), events[0].clone(), headers[0].clone());
    measure("POST webhook (duplicate) c=8", ROUNDS, 8, move |_| {
        let (a, body, header) = (a.clone(), e.clone(), h.clone());
        async move { a.webhook(&body, Some(&header)).await }
    })
    .await;
}
