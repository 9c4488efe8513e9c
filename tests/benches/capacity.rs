//! Capacity and cost per order (issue 12): one whole custom project through the local
//! gateway, step by step, with what each step cost in AWS terms, read from the gateway's
//! meter (`GET /_local/meter`: `peyman::adapters::meter` for the functions' AWS calls, and
//! the gateway's count of invocations and their time). Then a dispute with its export.
//! Each step waits until the meter stands still (its follow-ups have run), so a step's
//! figures include the work it queued. The sweeper is off for this run
//! (`LOCAL_SCHEDULE_SECONDS` is a day in `make bench`): it is a fixed cost per minute, not
//! per order.
//!
//! Printed, never asserted. The prices are in [`prices`], each with its date and source.

use std::time::Duration;

use peyman::adapters::meter::Usage;
use peyman_e2e::*;
use serde::Deserialize;

/// On-demand prices, us-east-1, in US dollars, as published on each service's pricing page
/// (read 2026-12-03 for this table; the DynamoDB figures are those since the on-demand
/// price cut of 2024-11-01). Lambda is priced for arm64, the template's architecture.
mod prices {
    /// https://aws.amazon.com/dynamodb/pricing/on-demand/ — $0.625 per million write
    /// request units.
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625e-6;
    /// Same page — $0.125 per million read request units.
    pub const DYNAMODB_READ_UNIT: f64 = 0.125e-6;
    /// https://aws.amazon.com/lambda/pricing/ — arm64, $0.20 per million requests.
    pub const LAMBDA_REQUEST: f64 = 0.20e-6;
    /// Same page — arm64, $0.0000133334 per GB-second (first 7.5 billion GB-s a month).
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// https://aws.amazon.com/api-gateway/pricing/ — HTTP APIs, $1.00 per million
    /// requests (first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.00e-6;
    /// https://aws.amazon.com/sqs/pricing/ — standard queues, $0.40 per million requests
    /// (after the first million a month).
    pub const SQS_REQUEST: f64 = 0.40e-6;
    /// https://aws.amazon.com/s3/pricing/ — S3 Standard, $0.005 per 1,000 PUT, COPY,
    /// POST, LIST requests; every S3 request is priced so, an upper bound (GET and HEAD
    /// are $0.0004 per 1,000).
    pub const S3_REQUEST: f64 = 0.005e-3;
    /// https://aws.amazon.com/kms/pricing/ — $0.15 per 10,000 asymmetric requests (the
    /// packet's seal is an ECC signature).
    pub const KMS_REQUEST: f64 = 0.15e-4;
    /// https://aws.amazon.com/eventbridge/pricing/ — custom events, $1.00 per million
    /// (each 64 KB of an event is one; ours are smaller).
    pub const EVENTBRIDGE_EVENT: f64 = 1.00e-6;
    /// The template's `MemorySize` (256 MB), in GB.
    pub const LAMBDA_MEMORY_GB: f64 = 0.25;
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
struct Invocations {
    http: u64,
    sqs: u64,
    scheduled: u64,
    /// The relay's, fed by the table's stream (its reads of the stream are free).
    stream: u64,
    duration_micros: u64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
struct Meter {
    aws: Usage,
    invocations: Invocations,
}

impl Meter {
    fn since(&self, earlier: &Meter) -> Meter {
        let (a, b) = (self.invocations, earlier.invocations);
        Meter {
            aws: self.aws.since(&earlier.aws),
            invocations: Invocations {
                http: a.http - b.http,
                sqs: a.sqs - b.sqs,
                scheduled: a.scheduled - b.scheduled,
                stream: a.stream - b.stream,
                duration_micros: a.duration_micros - b.duration_micros,
            },
        }
    }

    fn plus(&self, other: &Meter) -> Meter {
        let (a, b) = (self.aws, other.aws);
        let (i, j) = (self.invocations, other.invocations);
        Meter {
            aws: Usage {
                dynamodb_requests: a.dynamodb_requests + b.dynamodb_requests,
                items_read: a.items_read + b.items_read,
                bytes_read: a.bytes_read + b.bytes_read,
                read_half_units: a.read_half_units + b.read_half_units,
                items_written: a.items_written + b.items_written,
                bytes_written: a.bytes_written + b.bytes_written,
                write_units: a.write_units + b.write_units,
                sqs_requests: a.sqs_requests + b.sqs_requests,
                s3_requests: a.s3_requests + b.s3_requests,
                kms_requests: a.kms_requests + b.kms_requests,
                events_published: a.events_published + b.events_published,
            },
            invocations: Invocations {
                http: i.http + j.http,
                sqs: i.sqs + j.sqs,
                scheduled: i.scheduled + j.scheduled,
                stream: i.stream + j.stream,
                duration_micros: i.duration_micros + j.duration_micros,
            },
        }
    }

    /// SQS requests billed: ours, plus the event source mapping's receive and delete for
    /// each batch it hands a function (an estimate: one of each per invocation).
    fn sqs_billed(&self) -> u64 {
        self.aws.sqs_requests + 2 * self.invocations.sqs
    }

    /// What this cost in US dollars, by [`prices`], service by service.
    fn costs(&self) -> [(&'static str, f64); 9] {
        let u = &self.aws;
        let i = &self.invocations;
        let invocations = (i.http + i.sqs + i.scheduled + i.stream) as f64;
        let gb_seconds = i.duration_micros as f64 / 1e6 * prices::LAMBDA_MEMORY_GB;
        [
            ("DynamoDB writes", u.write_units as f64 * prices::DYNAMODB_WRITE_UNIT),
            ("DynamoDB reads", u.read_half_units as f64 / 2.0 * prices::DYNAMODB_READ_UNIT),
            ("Lambda requests", invocations * prices::LAMBDA_REQUEST),
            ("Lambda GB-seconds", gb_seconds * prices::LAMBDA_GB_SECOND),
            ("HTTP API", i.http as f64 * prices::HTTP_API_REQUEST),
            ("SQS", self.sqs_billed() as f64 * prices::SQS_REQUEST),
            ("S3", u.s3_requests as f64 * prices::S3_REQUEST),
            ("KMS", u.kms_requests as f64 * prices::KMS_REQUEST),
            ("EventBridge", u.events_published as f64 * prices::EVENTBRIDGE_EVENT),
        ]
    }

    fn dollars(&self) -> f64 {
        self.costs().iter().map(|(_, d)| d).sum()
    }
}

/// Where the money of `m` goes, per million of it.
fn print_costs(m: &Meter) {
    let parts: Vec<String> = m.costs().iter().map(|(name, d)| format!("{name} ${:.2}", d * 1e6)).collect();
    println!("  per million: {}", parts.join(", "));
}

async fn meter(api: &Api) -> Meter {
    let answer = api.get("/_local/meter", "").await;
    serde_json::from_value(answer.ok(200).clone()).expect("the gateway's meter")
}

/// The meter once it has stood still for two seconds (the local queue poller waits at
/// most a second): the step's follow-ups ran.
async fn settled(api: &Api) -> Meter {
    let mut last = meter(api).await;
    let mut still = 0;
    while still < 4 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = meter(api).await;
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    last
}

struct Steps {
    last: Meter,
    rows: Vec<(&'static str, Meter)>,
}

impl Steps {
    async fn start(api: &Api) -> Steps {
        Steps { last: settled(api).await, rows: Vec::new() }
    }

    /// Leaves out of the table what happened since the last step (a check of ours).
    async fn unmetered(&mut self, api: &Api) {
        self.last = settled(api).await;
    }

    async fn done(&mut self, api: &Api, name: &'static str) {
        let now = settled(api).await;
        self.rows.push((name, now.since(&self.last)));
        self.last = now;
    }

    fn print(&self, title: &str) -> Meter {
        println!("\n{title}");
        println!(
            "{:<28} {:>5} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9} {:>10}",
            "step", "ddb", "items", "items", "read", "write", "KB", "KB", "sqs", "s3", "kms", "bus", "inv", "ms", "µ$"
        );
        println!(
            "{:<28} {:>5} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9} {:>10}",
            "", "calls", "read", "written", "units", "units", "read", "written", "", "", "", "", "", "(local)", ""
        );
        let mut total = Meter::default();
        for (name, m) in &self.rows {
            row(name, m);
            total = total.plus(m);
        }
        row("total", &total);
        total
    }
}

fn row(name: &str, m: &Meter) {
    let (u, i) = (&m.aws, &m.invocations);
    println!(
        "{:<28} {:>5} {:>6} {:>6} {:>8.1} {:>8} {:>6.1} {:>6.1} {:>5} {:>4} {:>4} {:>4} {:>4} {:>9.1} {:>10.2}",
        name,
        u.dynamodb_requests,
        u.items_read,
        u.items_written,
        u.read_half_units as f64 / 2.0,
        u.write_units,
        u.bytes_read as f64 / 1024.0,
        u.bytes_written as f64 / 1024.0,
        m.sqs_billed(),
        u.s3_requests,
        u.kms_requests,
        u.events_published,
        i.http + i.sqs + i.scheduled + i.stream,
        i.duration_micros as f64 / 1000.0,
        m.dollars() * 1e6
    );
}

#[tokio::main]
async fn main() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let (seller, buyer, support) = (user("seller"), user("buyer"), support_token(&user("support")));
    let (st, bt) = (token(&seller), token(&buyer));
    // The seller's standing setup, once per seller, not per order.
    api.put("/v1/me/seller-settings", &st, json!({ "custom_projects_enabled": true })).await.ok(200);
    let gig = api.post("/v1/gigs", &st, json!({ "title": "طراحی لوگو" })).await.ok(201)["gig_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut steps = Steps::start(&api).await;
    let order_id = project(&api, &stripe, &mut steps, &seller, &buyer, &gig).await;
    for (action, who, body) in [
        ("deliveries", &st, json!({ "message": "طرح نهایی" })),
        ("revision-requests", &bt, json!({ "reason": "رنگ‌ها گرم‌تر" })),
        ("deliveries", &st, json!({ "message": "طرح نهایی، رنگ گرم" })),
        ("acceptance", &bt, json!({})),
    ] {
        let status = if action == "deliveries" { 201 } else { 200 };
        api.post(&format!("/v1/orders/{order_id}/{action}"), who, body).await.ok(status);
        steps.done(&api, action_name(action)).await;
    }
    let review = json!({ "rating": 5, "text": "عالی بود، ممنون 🌟" });
    api.post(&format!("/v1/orders/{order_id}/review"), &bt, review).await.ok(201);
    steps.done(&api, "review").await;
    let completed = steps.print("One custom project, message to review (Stripe)");
    print_costs(&completed);

    // A second project, delivered, then disputed and exported for support.
    let mut setup = Steps::start(&api).await;
    let order_id = project(&api, &stripe, &mut setup, &seller, &buyer, &gig).await;
    api.post(&format!("/v1/orders/{order_id}/deliveries"), &st, json!({ "message": "طرح" })).await.ok(201);
    let mut steps = Steps::start(&api).await;
    let body = json!({ "reason": "not_as_agreed", "description": "طرح با بند ۲ قرارداد نمی‌خواند" });
    let opened = api.post(&format!("/v1/orders/{order_id}/disputes"), &bt, body).await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    steps.done(&api, "open dispute").await;
    let statements = format!("/v1/orders/{order_id}/disputes/{dispute_id}/statements");
    api.post(&statements, &st, json!({ "text": "طبق قرارداد تحویل شد." })).await.ok(201);
    steps.done(&api, "seller's statement").await;
    let asked = api.post(&format!("/v1/support/disputes/{dispute_id}/exports"), &support, json!({})).await;
    let export_id = asked.ok(202)["export_id"].as_str().unwrap().to_owned();
    // Support's page asks for its status until the packet is ready, as a frontend would.
    let mut ready = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ready = api.get(&format!("/v1/support/exports/{export_id}"), &support).await.body["status"] == "ready";
        if ready {
            break;
        }
    }
    assert!(ready, "the packet is built within a minute");
    steps.done(&api, "export (with status polls)").await;
    let dispute = steps.print("A dispute and its export, on a delivered order");
    print_costs(&dispute);

    let per_order = completed.dollars();
    println!(
        "\nCost per completed order: {:.2} µ$; per million completed orders: ${:.2}",
        per_order * 1e6,
        per_order * 1e6
    );
    println!(
        "A dispute with its export adds {:.2} µ$; per million disputes: ${:.2}",
        dispute.dollars() * 1e6,
        dispute.dollars() * 1e6
    );
    println!(
        "Lambda time is the local gateway's (moto answers slower than DynamoDB), so its share is an upper bound; \
         every other figure is counted."
    );
}

fn action_name(action: &str) -> &'static str {
    match action {
        "deliveries" => "deliver",
        "revision-requests" => "ask a revision",
        _ => "accept the delivery",
    }
}

/// Message, request, offer, accept and pay, each a step; returns the order in progress.
async fn project(api: &Api, stripe: &Stripe, steps: &mut Steps, seller: &str, buyer: &str, gig: &str) -> String {
    let (st, bt) = (token(seller), token(buyer));
    api.post(&format!("/v1/conversations/{seller}/messages"), &bt, json!({ "text": "یک لوگو می‌خواهم" })).await.ok(201);
    steps.done(api, "message").await;
    let request = json!({
        "seller_id": seller, "gig_id": gig, "description": "لوگوی فروشگاه، تا آخر هفته",
        "desired_price": { "amount": 12_000_000, "currency": "IRR" }, "desired_delivery_days": 7
    });
    let created = api.post("/v1/custom-project-requests", &bt, request).await;
    let request_id = created.ok(201)["request_id"].as_str().unwrap().to_owned();
    steps.done(api, "request").await;
    let offer = json!({
        "buyer_id": buyer, "source": { "request_id": request_id }, "gig_id": gig, "title": "لوگوی فروشگاه",
        "description": "سه طرح اولیه، یک طرح نهایی با فایل‌های لایه‌باز.",
        "price": { "amount": 12_000_000, "currency": "IRR" }, "delivery_days": 7,
        "stages": [{ "title": "همه", "deliverables": ["فایل AI", "فایل PNG"] }], "revisions_included": 2,
        "special_conditions": ["پس از انقضا پذیرفته نمی‌شود"]
    });
    let offer_id = api.post("/v1/offers", &st, offer).await.ok(201)["offer_id"].as_str().unwrap().to_owned();
    steps.done(api, "offer").await;
    let accepted = api.post(&format!("/v1/offers/{offer_id}/accept"), &bt, json!({})).await;
    let order = accepted.ok(201)["order"].clone();
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    steps.done(api, "accept (order, intent)").await;
    let intent = order["payment"]["payment_intent_id"].as_str().unwrap();
    let before = steps.last.invocations.http;
    assert_eq!(stripe.pay(intent, "pm_card_visa").await, 200);
    // localstripe posts the webhook on its own time: wait for it, then for its follow-ups.
    eventually(Duration::from_secs(30), async || (meter(api).await.invocations.http > before).then_some(()))
        .await
        .expect("localstripe's webhook");
    steps.done(api, "pay (webhook)").await;
    let read = api.get(&format!("/v1/orders/{order_id}"), &bt).await;
    assert_eq!(read.ok(200)["status"], "in_progress", "the payment started the order");
    steps.unmetered(api).await;
    order_id
}
