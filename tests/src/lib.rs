//! What the end-to-end tests share: an HTTP client for the local gateway, identities,
//! and SDK clients to look at what really landed in the table, bucket and queues.
//! Every test makes its own users and ids, so tests run in parallel.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use peyman_local::template::Template;
use serde_json::Value;

pub use serde_json::json;

/// Runs the test named `path` (`module::test`) again, alone, in a child process of this
/// test binary, and asserts that it passed there; `true` in that child, where the test's
/// body runs. For the few tests that change what the whole process shares (its environment,
/// the capacity meter's totals), which the other tests of this one binary must not see.
pub fn in_a_process_of_its_own(path: &str) -> bool {
    const CHILD: &str = "PEYMAN_TEST_IN_ITS_OWN_PROCESS";
    if std::env::var(CHILD).is_ok_and(|running| running == path) {
        return true;
    }
    let child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", path, "--test-threads=1"])
        .env(CHILD, path)
        .output()
        .expect("the test binary runs again");
    let out = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success() && out.contains("1 passed"), "{out}{}", String::from_utf8_lossy(&child.stderr));
    false
}

/// A fresh user id, unique to the test that asks.
pub fn user(role: &str) -> String {
    format!("{role}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

pub fn token(user: &str) -> String {
    peyman_local::tokens::mint(user, &[], 3600)
}

pub fn support_token(user: &str) -> String {
    peyman_local::tokens::mint(user, &["support"], 3600)
}

#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and code, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!((self.status, self.body["code"].as_str()), (status, Some(code)), "{}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text);
        &self.body
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }
}

#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            base: std::env::var("PEYMAN_API").unwrap_or_else(|_| "http://127.0.0.1:3100".into()),
            http: reqwest::Client::builder().no_proxy().build().expect("client"),
        }
    }
}

impl Api {
    /// The gateway of the deployment that pays through Zarinpal (`stack.sh` starts it
    /// beside the Stripe one for commands). It follows no redirect, so a test sees where
    /// the payer is sent.
    pub fn zarinpal() -> Api {
        Api {
            base: std::env::var("PEYMAN_ZARINPAL_API").expect("run inside infra/local/stack.sh"),
            http: reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        }
    }

    /// The gateway of the deployment whose order and dispute windows are seconds long
    /// (`stack.sh`'s clock stack), paid through localstripe: its own sweeper moves what
    /// production's would days later.
    pub fn clock() -> Api {
        Api {
            base: std::env::var("PEYMAN_CLOCK_API").expect("run inside infra/local/stack.sh"),
            http: reqwest::Client::builder().no_proxy().build().expect("client"),
        }
    }

    /// Sends `body` as raw text, so tests control every byte.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Res {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("the local gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res { status, headers, text, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Res {
        self.send("GET", path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Res {
        self.send("POST", path, Some(token), Some(&body.to_string()), &[]).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Res {
        self.send("PUT", path, Some(token), Some(&body.to_string()), &[]).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Res {
        self.send("PATCH", path, Some(token), Some(&body.to_string()), &[]).await
    }

    /// Declares an upload and PUTs `bytes` to its presigned link; returns the upload id.
    pub async fn upload(
        &self,
        token: &str,
        kind: &str,
        content_type: &str,
        declared_size: u64,
        bytes: &[u8],
    ) -> String {
        let declared = self
            .post("/v1/uploads", token, json!({ "kind": kind, "file_name": "فایل نمونه.bin", "content_type": content_type, "size_bytes": declared_size }))
            .await;
        let link = &declared.ok(201)["upload"];
        let mut put = self.http.put(link["url"].as_str().expect("url")).body(bytes.to_vec());
        // The signed headers, as a client sends them (the length is reqwest's own, of `bytes`:
        // another than the declared one is refused, as S3 refuses it).
        for (name, value) in link["headers"].as_object().expect("headers") {
            if name != "content-length" {
                put = put.header(name, value.as_str().expect("header value"));
            }
        }
        let stored = put.send().await.expect("moto answers");
        assert!(stored.status().is_success(), "{:?}", stored.text().await);
        declared.body["upload_id"].as_str().expect("upload_id").to_owned()
    }

    /// Polls an upload until the checker has decided it.
    pub async fn decided_upload(&self, token: &str, upload_id: &str) -> Value {
        eventually(WAIT, async || {
            let r = self.get(&format!("/v1/uploads/{upload_id}"), token).await;
            (r.body["status"] != "pending").then_some(r.body)
        })
        .await
        .unwrap_or_else(|| panic!("upload {upload_id} was never checked"))
    }
}

/// How long a test waits for what happens in the background (a webhook, a follow-up, the
/// sweeper, a build) before it fails. Generous, since the local stack shares two cores with
/// whatever else runs; a passing test waits only as long as it must.
pub const WAIT: Duration = Duration::from_secs(60);

/// Polls `probe` until it yields a value or `deadline` passes: no sleeps as synchronisation.
pub async fn eventually<T>(deadline: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The local stack's resources, named by the same template reading the gateway uses.
pub struct Aws {
    pub template: Template,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub bucket: String,
}

pub fn template_path() -> String {
    format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"))
}

impl Aws {
    pub async fn connect() -> Aws {
        let template = peyman_local::local_template(&template_path()).expect("template");
        let sdk = peyman::adapters::sdk::config().await;
        Aws {
            table: template.physical_name("Table").expect("table"),
            bucket: template.physical_name("UploadsBucket").expect("bucket"),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build()),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            template,
        }
    }

    /// The core's `App` as the template's functions get it, for calling handlers directly.
    pub async fn app(&self) -> peyman::flows::App {
        peyman::flows::App::new(peyman_local::local_config(&self.template).await.expect("config")).await
    }

    /// Every item in one partition, page by page (a query answers at most 1 MB at a time).
    pub async fn partition(&self, pk: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("query");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Every item of a sharded partition (the timers, the outbox), shard by shard.
    pub async fn shards(
        &self,
        partitions: impl Iterator<Item = String>,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        for pk in partitions {
            items.extend(self.partition(&pk).await);
        }
        items
    }

    /// Every timer, whatever its shard.
    pub async fn timers(&self) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        self.shards(peyman::adapters::dynamo::keys::timer_partitions()).await
    }

    /// Every item in support's queue `queue` (GSI2), whatever its shard.
    pub async fn queue(&self, queue: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        for pk in peyman::adapters::dynamo::keys::queue_partitions(queue) {
            let out = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .index_name(peyman::adapters::dynamo::keys::GSI2)
                .key_condition_expression("GSI2PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk))
                .send()
                .await
                .expect("query");
            items.extend(out.items.unwrap_or_default());
        }
        // The index holds keys only: each item as the table has it now.
        let mut whole = Vec::new();
        for entry in items {
            let key = entry.into_iter().filter(|(name, _)| name == "PK" || name == "SK").collect();
            let got = self.dynamodb.get_item().table_name(&self.table).set_key(Some(key)).send().await.expect("get");
            whole.extend(got.item);
        }
        whole
    }

    /// The latest timer started for `subject`, to fire through the sweeper's own code at
    /// a chosen time (sweeping everything ahead would fire other tests' timers too).
    pub async fn timer(&self, subject: &str) -> peyman::adapters::dynamo::timers::DueTimer {
        // Only its own shard: the tests that race a timer against a webhook cannot wait
        // for a read of every shard.
        let timers = self.partition(&peyman::adapters::dynamo::keys::timer(0, subject).pk).await;
        let item = timers
            .iter()
            .filter(|t| t["subject"].as_s().ok().map(String::as_str) == Some(subject))
            .max_by_key(|t| t["SK"].as_s().ok().cloned())
            .unwrap_or_else(|| {
                let prefix = subject.split('/').take(2).collect::<Vec<_>>().join("/");
                let mine: Vec<_> =
                    timers.iter().filter(|t| t["subject"].as_s().is_ok_and(|s| s.starts_with(&prefix))).collect();
                panic!("no timer for {subject}; {} timers, of its entity: {mine:?}", timers.len())
            });
        peyman::adapters::dynamo::timers::DueTimer::from_item(item)
    }

    /// Moves the latest timer of `subject` to now, for the stack's own sweeper to fire
    /// as production's would at its time (a clearance 14 days on, say).
    pub async fn due_now(&self, subject: &str) {
        let timer = self.timer(subject).await;
        let app = self.app().await;
        let mut commit = app.store.begin();
        commit.take(&timer.key).unwrap();
        commit.timer(chrono::Utc::now(), subject).unwrap();
        app.commit(commit).await.expect("the timer moved");
    }

    /// Every item whose attribute `name` equals `value` (a scan: tests only).
    pub async fn items_where(&self, name: &str, value: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .filter_expression("#n = :v")
                .expression_attribute_names("#n", name)
                .expression_attribute_values(":v", AttributeValue::S(value.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return found;
            }
        }
    }
}

/// A seller who takes custom projects, with an active gig, and a buyer who messaged them.
pub struct Deal {
    pub seller: String,
    pub buyer: String,
    pub gig_id: String,
    pub message_id: String,
}

impl Deal {
    pub async fn new(api: &Api) -> Deal {
        let (seller, buyer) = (user("seller"), user("buyer"));
        api.put("/v1/me/seller-settings", &token(&seller), json!({ "custom_projects_enabled": true })).await.ok(200);
        let gig = api.post("/v1/gigs", &token(&seller), json!({ "title": "طراحی لوگو" })).await;
        let gig_id = gig.ok(201)["gig_id"].as_str().unwrap().to_owned();
        let message = api
            .post(&format!("/v1/conversations/{seller}/messages"), &token(&buyer), json!({ "text": "یک لوگو می‌خواهم" }))
            .await;
        let message_id = message.ok(201)["message_id"].as_str().unwrap().to_owned();
        Deal { seller, buyer, gig_id, message_id }
    }

    /// A valid offer body from the buyer's message, to change field by field.
    pub fn offer(&self) -> serde_json::Value {
        json!({
            "buyer_id": self.buyer,
            "source": { "message_id": self.message_id },
            "gig_id": self.gig_id,
            "title": "لوگوی فروشگاه",
            "description": "سه طرح اولیه، یک طرح نهایی با فایل‌های لایه‌باز.",
            "price": { "amount": 12_000_000, "currency": "IRR" },
            "delivery_days": 7,
            "stages": [
                { "title": "طرح‌های اولیه", "deliverables": ["۳ طرح PNG"], "amount": 5_000_000, "days": 3 },
                { "title": "نهایی", "deliverables": ["فایل AI", "فایل PNG"], "amount": 7_000_000, "days": 4 }
            ],
            "revisions_included": 2,
            "special_conditions": ["پس از انقضا پذیرفته نمی‌شود"]
        })
    }

    /// Sends `body` as the seller; returns the offer id.
    pub async fn send_offer(&self, api: &Api, body: serde_json::Value) -> String {
        api.post("/v1/offers", &token(&self.seller), body).await.ok(201)["offer_id"].as_str().unwrap().to_owned()
    }
}

/// A one-pixel PNG, a file the upload checker accepts.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// Waits until `user` has been told of `event` on `subject` through their notifications.
pub async fn notified(api: &Api, user: &str, event: &str, subject: &str) -> bool {
    eventually(WAIT, async || {
        let page = api.get("/v1/me/notifications?limit=100", &token(user)).await;
        let items = page.body["items"].as_array().cloned().unwrap_or_default();
        items.iter().any(|n| n["event"] == event && n["subject"] == subject).then_some(())
    })
    .await
    .is_some()
}

/// A few bytes of Ogg Opus, a voice note the upload checker accepts.
pub const OGG: &[u8] =
    b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0";

/// A voice note of `owner`'s that passed the check.
pub async fn ready_voice_note(api: &Api, owner: &str) -> String {
    let id = api.upload(&token(owner), "voice_note", "audio/ogg", OGG.len() as u64, OGG).await;
    assert_eq!(api.decided_upload(&token(owner), &id).await["status"], "ready");
    id
}

/// A file of `owner`'s that passed the check.
pub async fn ready_file(api: &Api, owner: &str) -> String {
    let id = api.upload(&token(owner), "attachment", "image/png", PNG.len() as u64, PNG).await;
    assert_eq!(api.decided_upload(&token(owner), &id).await["status"], "ready");
    id
}

impl Deal {
    /// The order `order_id` as its buyer reads it.
    pub async fn order(&self, api: &Api, order_id: &str) -> Value {
        api.get(&format!("/v1/orders/{order_id}"), &token(&self.buyer)).await.ok(200).clone()
    }

    /// An order of the deal, paid at localstripe and in progress.
    pub async fn paid_order(&self, api: &Api, stripe: &Stripe) -> String {
        let placed = self.placed_order(api).await;
        let order_id = placed["order_id"].as_str().unwrap().to_owned();
        let intent = placed["payment"]["payment_intent_id"].as_str().unwrap();
        assert_eq!(stripe.pay(intent, "pm_card_visa").await, 200);
        eventually(WAIT, async || (self.order(api, &order_id).await["status"] == "in_progress").then_some(()))
            .await
            .expect("the payment starts the order");
        order_id
    }

    /// An order of the deal, paid, both its stages delivered and accepted by the buyer.
    pub async fn completed_order(&self, api: &Api, stripe: &Stripe) -> String {
        let order_id = self.paid_order(api, stripe).await;
        for stage in 1..=2 {
            let body = json!({ "stage": stage, "message": format!("مرحله {stage}") });
            api.post(&format!("/v1/orders/{order_id}/deliveries"), &token(&self.seller), body).await.ok(201);
            api.post(&format!("/v1/orders/{order_id}/acceptance"), &token(&self.buyer), json!({})).await.ok(200);
        }
        assert_eq!(self.order(api, &order_id).await["status"], "completed");
        order_id
    }

    /// Sends an offer and accepts it as the buyer; returns the accept response's order.
    pub async fn placed_order(&self, api: &Api) -> Value {
        let id = self.send_offer(api, self.offer()).await;
        api.post(&format!("/v1/offers/{id}/accept"), &token(&self.buyer), json!({})).await.ok(201)["order"].clone()
    }
}

/// The local Stripe (localstripe, started by `stack.sh`) as a frontend and Stripe's own
/// library would use it: pay an intent with a test card, sign a webhook payload.
pub struct Stripe {
    base: String,
    key: String,
    pub webhook_secret: String,
    http: reqwest::Client,
}

impl Default for Stripe {
    fn default() -> Self {
        let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Stripe {
            base: var("STRIPE_API_BASE", "http://127.0.0.1:8520"),
            key: var("STRIPE_SECRET_KEY", "sk_test_local"),
            webhook_secret: var("STRIPE_WEBHOOK_SECRET", "whsec_local"),
            http: reqwest::Client::builder().no_proxy().build().expect("client"),
        }
    }
}

impl Stripe {
    pub async fn call(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.key, Some(""))
            .form(form)
            .send()
            .await
            .expect("localstripe answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Pays an intent as Stripe.js would: attach a test card (`pm_card_visa`,
    /// `pm_card_chargeCustomerFail`…) and confirm. Returns Stripe's status code.
    pub async fn pay(&self, intent_id: &str, payment_method: &str) -> u16 {
        let path = format!("/v1/payment_intents/{intent_id}");
        let (status, body) = self.call(reqwest::Method::POST, &path, &[("payment_method", payment_method)]).await;
        assert_eq!(status, 200, "{body}");
        self.call(reqwest::Method::POST, &format!("{path}/confirm"), &[]).await.0
    }

    /// The refunds localstripe holds for `intent_id`, newest first.
    pub async fn refunds(&self, intent_id: &str) -> Vec<Value> {
        let (status, refunds) =
            self.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent_id}"), &[]).await;
        assert_eq!(status, 200, "{refunds}");
        refunds["data"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until localstripe holds exactly one refund of `intent_id`, of `amount`.
    pub async fn refunded(&self, intent_id: &str, amount: i64) {
        let seen = eventually(WAIT, async || {
            let refunds = self.refunds(intent_id).await;
            (!refunds.is_empty()).then_some(refunds)
        })
        .await
        .unwrap_or_default();
        let amounts: Vec<_> = seen.iter().map(|r| r["amount"].as_i64()).collect();
        assert_eq!(amounts, [Some(amount)], "the refund reaches localstripe, once");
    }

    pub async fn intent(&self, intent_id: &str) -> Value {
        self.call(reqwest::Method::GET, &format!("/v1/payment_intents/{intent_id}"), &[]).await.1
    }

    /// `Stripe-Signature` headers for `(payload, secret, timestamp)`s, made by Stripe's own
    /// Python library (`stripe.WebhookSignature.generate_signature_header`).
    pub fn sign_all(requests: &[(&str, &str, i64)]) -> Vec<String> {
        use std::io::Write;
        let python = std::env::var("PEYMAN_PYTHON").unwrap_or_else(|_| "../.venv/localstripe/bin/python".into());
        let script = format!("{}/sign_webhook.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = std::process::Command::new(python)
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the localstripe venv's python (make tools installs it)");
        let mut stdin = child.stdin.take().unwrap();
        for (payload, secret, timestamp) in requests {
            writeln!(stdin, "{}", json!({ "payload": payload, "secret": secret, "timestamp": timestamp })).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "sign_webhook.py failed");
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
    }

    pub fn sign(&self, payload: &str, timestamp: i64) -> String {
        Self::sign_all(&[(payload, &self.webhook_secret, timestamp)]).remove(0)
    }
}

impl Api {
    /// Delivers a webhook body with its `Stripe-Signature` header (none if `None`).
    pub async fn webhook(&self, body: &str, signature: Option<&str>) -> Res {
        let headers: Vec<(&str, &str)> = signature.map(|s| ("Stripe-Signature", s)).into_iter().collect();
        self.send("POST", "/v1/webhooks/payments/stripe", None, Some(body), &headers).await
    }
}

/// A Stripe event as Stripe would send it, for the tests that deliver their own.
pub fn stripe_event(event_id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": chrono::Utc::now().timestamp(),
        "type": kind,
        "data": { "object": object }
    })
    .to_string()
}

/// Stripe's `charge.refunded` for `intent_id` with `total` refunded so far: localstripe
/// sends none, Stripe would.
pub fn charge_refunded(intent_id: &str, total: i64) -> String {
    stripe_event(
        &format!("evt_{}", ulid::Ulid::new()),
        "charge.refunded",
        json!({ "id": "ch_x", "object": "charge", "payment_intent": intent_id, "amount_refunded": total }),
    )
}

/// The API Gateway v2 event the gateway would build for `sub` calling `POST path`, to run
/// a handler in-process with a config of the test's own (a shortened policy, a provider
/// that is down).
pub fn accept_event(offer_id: &str, sub: &str) -> lambda_http::Request {
    let path = format!("/v1/offers/{offer_id}/accept");
    let route = "POST /v1/offers/{offer_id}/accept";
    let event = json!({
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
        "headers": { "content-type": "application/json" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "requestId": "r", "stage": "$default",
            "routeKey": route, "time": "28/Nov/2026:12:00:00 +0000", "timeEpoch": 0,
            "authorizer": { "jwt": { "claims": { "sub": sub }, "scopes": null } },
            "http": { "method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t" }
        },
        "isBase64Encoded": false, "body": "{}", "pathParameters": { "offer_id": offer_id }
    });
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

/// The payer at our Zarinpal stand-in's StartPay page: opens it and clicks `button`
/// (`pay` or `cancel`); returns where the gateway sends the browser back.
pub async fn at_start_pay(pay_url: &str, button: &str) -> String {
    let browser = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = browser.get(pay_url).send().await.expect("the stand-in answers");
    assert_eq!(page.status(), 200);
    let clicked = browser.post(format!("{pay_url}/{button}")).send().await.expect("the stand-in answers");
    assert_eq!(clicked.status(), 302);
    clicked.headers()["location"].to_str().unwrap().to_owned()
}

/// Headless Chromium, if this machine has it (`make test` installs Debian's when run as
/// root); `None` says the test skipped, and why.
pub fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        eprintln!("SKIPPED: no chromium on this machine (make test installs Debian's chromium when run as root)");
    }
    found
}

/// Opens `url` in headless Chromium and returns what the page's probe reported: the JSON
/// text of its `<pre id="probe">`.
pub fn browse(chromium: &str, url: &str) -> Value {
    let out = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--virtual-time-budget=5000", "--dump-dom", url])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = dom
        .split_once("<pre id=\"probe\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(probe, _)| probe.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("the probe ran: {dom}\n{}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}
