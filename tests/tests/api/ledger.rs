//! The ledger against the local stack (issue 26): the buyer's payment enters the order's
//! escrow, each accepted stage releases its amount less the platform's fee to the
//! seller's pending earnings, and a cancellation returns only what escrow still holds,
//! refunded at localstripe and confirmed by its webhook. Every entry balances, and for
//! the order what was paid is what was released, refunded or is still held.

use peyman_e2e::*;
use peyman_rules::ledger::{Account, EntryKind};
use serde_json::json;

fn path(order_id: &str, tail: &str) -> String {
    format!("/v1/orders/{order_id}/{tail}")
}

#[tokio::test]
async fn a_cancellation_after_one_accepted_stage_refunds_only_the_rest() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    // Two stages: 5,000,000 and 7,000,000 IRR; the fee is 10 %, at least 50,000.
    let order_id = deal.paid_order(&api, &stripe).await;
    let paid = deal.order(&api, &order_id).await;
    assert_eq!(
        paid["money"],
        json!({
            "currency": "IRR", "paid": 12_000_000, "released": 0, "refunded": 0, "in_escrow": 12_000_000,
            "on_cancellation": { "refund_to_buyer": 12_000_000, "seller_keeps": 0 },
        })
    );
    let intent = paid["payment"]["payment_intent_id"].as_str().unwrap().to_owned();

    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "مرحلهٔ اول" })).await.ok(201);
    let accepted = api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await;
    assert_eq!(accepted.ok(200)["money"]["in_escrow"], 7_000_000, "the first stage's amount left escrow");
    let balance = app.store.seller_balance(&deal.seller, "IRR").await.unwrap();
    assert_eq!((balance.pending, balance.available), (4_500_000, 0), "its amount less the fee, pending");
    // The same stage accepted again (a double click): refused, nothing released twice.
    api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.problem(409, "invalid_state");
    assert_eq!(app.store.seller_balance(&deal.seller, "IRR").await.unwrap().pending, 4_500_000);

    // A refund of more than escrow holds is refused, though the payment could cover it.
    let now = chrono::Utc::now();
    let too_much = peyman::flows::payments::refund(&app, &order_id, "too-much", 7_000_001, "x", now).await;
    assert_eq!(too_much.unwrap_err().code(), "refund_exceeds_escrow");
    assert_eq!(deal.order(&api, &order_id).await["money"]["in_escrow"], 7_000_000, "and nothing changed");

    // Cancelled by agreement: only the 7,000,000 still held goes back, as both parties see
    // before they agree.
    let asked = api.post(&path(&order_id, "cancellation-requests"), &seller, json!({ "reason": "نمی‌رسم" })).await;
    let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
    let split = json!({ "refund_to_buyer": 7_000_000, "seller_keeps": 5_000_000 });
    assert_eq!(asked.body["money"]["on_cancellation"], split, "the one asking sees it");
    assert_eq!(deal.order(&api, &order_id).await["money"]["on_cancellation"], split, "and the one answering");
    let answer = path(&order_id, &format!("cancellation-requests/{request_id}/accept"));
    let cancelled = api.post(&answer, &buyer, json!({})).await;
    let money = &cancelled.ok(200)["money"];
    assert_eq!((money["refunded"].as_i64(), money["in_escrow"].as_i64()), (Some(7_000_000), Some(0)));
    let refunded = eventually(WAIT, async || {
        let (status, refunds) =
            stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent}"), &[]).await;
        assert_eq!(status, 200, "{refunds}");
        refunds["data"].as_array().filter(|r| !r.is_empty()).cloned()
    })
    .await
    .expect("the refund reaches localstripe");
    assert_eq!(refunded.len(), 1);
    assert_eq!(refunded[0]["amount"], 7_000_000, "localstripe refunded only what escrow held");

    // Stripe's charge.refunded confirms it (localstripe sends none: the test signs it):
    // the money leaves the provider's account on the ledger.
    let body = charge_refunded(&intent, 7_000_000);
    let confirmed = api.webhook(&body, Some(&stripe.sign(&body, chrono::Utc::now().timestamp()))).await;
    assert_eq!(confirmed.ok(200)["outcome"], "refund_confirmed");
    let entries = app.store.order_ledger(&order_id).await.unwrap();
    let kinds: Vec<EntryKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EntryKind::PaymentReceived, EntryKind::StageReleased, EntryKind::RefundRequested, EntryKind::RefundConfirmed]
    );
    assert!(entries.iter().all(|e| e.sum() == Some(0) && e.cause.starts_with(&format!("order/{order_id}#"))));
    let escrow = Account::Escrow(order_id.clone());
    let held: i64 = -entries.iter().map(|e| e.posted(&escrow)).sum::<i64>();
    assert_eq!(held, 0, "escrow is empty");
    let fee: i64 = -entries.iter().map(|e| e.posted(&Account::PlatformFees)).sum::<i64>();
    assert_eq!(fee, 500_000);
    let provider: i64 = entries.iter().map(|e| e.posted(&Account::Provider("stripe".into()))).sum();
    assert_eq!(provider, 5_000_000, "what the provider still holds: paid less refunded");
}

#[tokio::test]
async fn a_dispute_decided_in_part_releases_what_the_refund_leaves() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let support = support_token(&user("agent"));
    let order_id = deal.paid_order(&api, &stripe).await;
    api.post(&path(&order_id, "deliveries"), &token(&deal.seller), json!({ "message": "طرح" })).await.ok(201);
    let body = json!({ "reason": "not_as_agreed", "description": "طرح با بند ۲ نمی‌خواند" });
    let opened = api.post(&path(&order_id, "disputes"), &token(&deal.buyer), body).await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    let decision = json!({
        "decision": "partial_refund", "amount": { "amount": 3_000_000, "currency": "IRR" }, "note": "بند ۲ نیمه‌کاره"
    });
    api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), &support, decision).await.ok(200);

    let money = deal.order(&api, &order_id).await["money"].clone();
    assert_eq!((money["refunded"].as_i64(), money["released"].as_i64()), (Some(3_000_000), Some(9_000_000)));
    assert_eq!(money["in_escrow"], 0, "release + refund = what escrow held");
    let balance = app.store.seller_balance(&deal.seller, "IRR").await.unwrap();
    assert_eq!(balance.pending, 8_100_000, "9,000,000 less the 10 % fee");
}

/// The seq of the event whose release is the `n`th of the order's ledger.
async fn released_seq(app: &peyman::flows::App, order_id: &str, n: usize) -> u64 {
    let entries = app.store.order_ledger(order_id).await.unwrap();
    let release = entries.iter().filter(|e| e.kind == EntryKind::StageReleased).nth(n).expect("that release");
    release.cause.rsplit_once('#').unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn a_chargeback_on_a_tip_s_payment_holds_the_order_s_clearances() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let order_id = deal.completed_order(&api, &stripe).await;
    let tip = json!({ "amount": { "amount": 500_000, "currency": "IRR" } });
    let tipped = api.post(&path(&order_id, "tip"), &token(&deal.buyer), tip).await;
    let tip_intent = tipped.ok(201)["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.pay(&tip_intent, "pm_card_visa").await, 200);
    eventually(WAIT, async || (!deal.order(&api, &order_id).await["tip"]["paid_at"].is_null()).then_some(()))
        .await
        .expect("the tip is paid");
    let tip_release = released_seq(&app, &order_id, 2).await;
    // The bank disputes the tip's payment, not the order's (signed as Stripe would).
    let dispute = json!({ "id": format!("dp_{}", ulid::Ulid::new()), "object": "dispute", "payment_intent": tip_intent,
        "charge": "ch_x", "amount": 500_000, "currency": "irr", "reason": "fraudulent", "status": "needs_response" });
    let body = stripe_event(&format!("evt_{}", ulid::Ulid::new()), "charge.dispute.created", dispute);
    let told = api.webhook(&body, Some(&stripe.sign(&body, chrono::Utc::now().timestamp()))).await;
    assert_eq!(told.ok(200)["outcome"], "chargeback_recorded", "{}", told.text);
    // At its due time the tip's clearance is held, and asked again a day later.
    let subject = peyman_rules::timer::clearance_timer(&order_id, tip_release);
    let timer = aws.timer(&subject).await;
    let due = timer.due_at.unwrap();
    assert!(!peyman::flows::timers::fire(&app, &timer, due).await.unwrap(), "held");
    assert_eq!(aws.timer(&subject).await.due_at, Some(due + chrono::Duration::days(1)));
    assert_eq!(app.store.seller_balance(&deal.seller, "IRR").await.unwrap().available, 0);
}

#[tokio::test]
async fn released_money_clears_after_its_period_and_is_held_while_the_order_is_disputed() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let support = support_token(&user("agent"));
    let order_id = deal.paid_order(&api, &stripe).await;
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "مرحلهٔ اول" })).await.ok(201);
    api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.ok(200);
    let first = released_seq(&app, &order_id, 0).await;
    let subject = peyman_rules::timer::clearance_timer(&order_id, first);
    let timer = aws.timer(&subject).await;
    let days = (timer.due_at.unwrap() - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((13.9..=14.0).contains(&days), "pending for the 14 days of clearance, not {days}");

    // The second stage is disputed: at its due time the first release's clearance is held.
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "مرحلهٔ دوم" })).await.ok(201);
    let body = json!({ "reason": "not_as_agreed", "description": "مرحلهٔ دوم ناقص است" });
    let dispute_id =
        api.post(&path(&order_id, "disputes"), &buyer, body).await.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    let due = timer.due_at.unwrap();
    assert!(!peyman::flows::timers::fire(&app, &timer, due).await.unwrap(), "held");
    let balance = app.store.seller_balance(&deal.seller, "IRR").await.unwrap();
    assert_eq!((balance.pending, balance.available), (4_500_000, 0));
    let held = aws.timer(&subject).await;
    assert_eq!(held.due_at, Some(due + chrono::Duration::days(1)), "asked again a day later");

    // Decided for the seller: the rest is released, and the held clearance then clears.
    let decision = json!({ "decision": "release", "note": "تحویل مطابق قرارداد" });
    api.post(&format!("/v1/support/disputes/{dispute_id}/resolution"), &support, decision).await.ok(200);
    let balance = app.store.seller_balance(&deal.seller, "IRR").await.unwrap();
    assert_eq!(balance.pending, 4_500_000 + 6_300_000);
    let later = held.due_at.unwrap();
    assert!(peyman::flows::timers::fire(&app, &held, later).await.unwrap(), "cleared");
    let balance = app.store.seller_balance(&deal.seller, "IRR").await.unwrap();
    assert_eq!((balance.pending, balance.available), (6_300_000, 4_500_000));
    // The seller reads it: balances per currency, the next clearance, the statement.
    let earnings = api.get("/v1/me/earnings", &seller).await;
    let irr = &earnings.ok(200)["balances"][0];
    assert_eq!(
        (irr["currency"].as_str(), irr["pending"].as_i64(), irr["available"].as_i64(), irr["paid_out"].as_i64()),
        (Some("IRR"), Some(6_300_000), Some(4_500_000), Some(0))
    );
    let next = earnings.body["next_clearance_at"].as_str().expect("the second release's clearance");
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::days(13), "the second release clears in 14 days: {next}");
    let mut lines = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            None => "/v1/me/ledger?limit=2".to_owned(),
            Some(c) => format!("/v1/me/ledger?limit=2&cursor={c}"),
        };
        let page = api.get(&page_path, &seller).await;
        lines.extend(page.ok(200)["items"].as_array().unwrap().iter().cloned());
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["cleared", "stage_released", "stage_released"], "newest first, the seller's entries only");
    assert_eq!((lines[0]["pending"].as_i64(), lines[0]["available"].as_i64()), (Some(-4_500_000), Some(4_500_000)));
    assert!(lines.iter().all(|l| l["order_id"] == order_id.as_str()));
    // The buyer has earned nothing.
    let theirs = api.get("/v1/me/earnings", &buyer).await;
    assert_eq!(theirs.ok(200)["balances"], json!([]));

    // Once: the same timer fired again changes nothing.
    assert!(!peyman::flows::timers::fire(&app, &held, later).await.unwrap());
    assert_eq!(app.store.seller_balance(&deal.seller, "IRR").await.unwrap().available, 4_500_000);
    let cleared = app.store.order_ledger(&order_id).await.unwrap();
    assert_eq!(cleared.iter().filter(|e| e.kind == EntryKind::Cleared).count(), 1);
}

#[tokio::test]
async fn reconciliation_lists_an_order_whose_provider_records_differ_from_the_ledger() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let (deal, other) = (Deal::new(&api).await, Deal::new(&api).await);
    let clean = deal.paid_order(&api, &stripe).await;
    let tampered = other.paid_order(&api, &stripe).await;
    // Someone refunds 2,000,000 in Stripe's dashboard, past Peyman: the provider now holds
    // less than the ledger says it does.
    let intent = other.order(&api, &tampered).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let form = [("payment_intent", intent.as_str()), ("amount", "2000000")];
    let (status, refund) = stripe.call(reqwest::Method::POST, "/v1/refunds", &form).await;
    assert_eq!(status, 200, "{refund}");

    let now = chrono::Utc::now();
    let report = peyman::flows::reconciliation::run(&app, now.date_naive(), now).await.unwrap();
    let listed = |order: &str| report.mismatches.iter().find(|m| m.order_id == order).cloned();
    let mismatch = listed(&tampered).expect("the order whose records differ is listed");
    assert_eq!((mismatch.ledger, mismatch.provider, mismatch.currency.as_str()), (12_000_000, 10_000_000, "IRR"));
    assert_eq!(mismatch.payments, [intent]);
    assert_eq!(listed(&clean), None, "an order whose books match is not");
    assert!(report.checked >= 2 && report.mismatched >= 1);

    // Support reads the reports, newest first; nobody else.
    app.store.save_reconciliation(&report).await.unwrap();
    let again = app.store.save_reconciliation(&report).await;
    assert_eq!(again.unwrap_err().code(), "concurrent_change", "one report a day");
    let support = support_token(&user("agent"));
    let reports = api.get("/v1/support/reconciliation", &support).await;
    assert_eq!(reports.ok(200)["provider"], "stripe");
    let today = &reports.body["reports"][0];
    assert_eq!(today["day"], now.date_naive().to_string());
    assert!(today["mismatches"].as_array().unwrap().iter().any(|m| m["order_id"] == tampered.as_str()));
    api.get("/v1/support/reconciliation", &token(&deal.seller)).await.problem(403, "support_only");
}

#[tokio::test]
async fn a_cancellation_racing_a_stage_acceptance_moves_the_money_once() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let order_id = deal.paid_order(&api, &stripe).await;
    api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": "مرحلهٔ اول" })).await.ok(201);
    let asked = api.post(&path(&order_id, "cancellation-requests"), &seller, json!({ "reason": "نمی‌رسم" })).await;
    let request_id = asked.ok(201)["cancellation_request"]["request_id"].as_str().unwrap().to_owned();
    // The buyer, in two tabs, accepts the stage (a release) and agrees to cancel (a
    // refund of what escrow holds) at once.
    let (accept, answer) =
        (path(&order_id, "acceptance"), path(&order_id, &format!("cancellation-requests/{request_id}/accept")));
    let (accepted, cancelled) =
        tokio::join!(api.post(&accept, &buyer, json!({})), api.post(&answer, &buyer, json!({})));
    for lost in [&accepted, &cancelled].into_iter().filter(|r| r.status != 200) {
        assert_eq!(lost.status, 409, "{}", lost.text);
        assert!(["invalid_state", "concurrent_change"].contains(&lost.body["code"].as_str().unwrap()), "{}", lost.text);
    }
    assert!(accepted.status == 200 || cancelled.status == 200, "one wins");
    // However they landed, the money moved once: paid = released + refunded + held, and
    // the ledger's entries say the same.
    let money = deal.order(&api, &order_id).await["money"].clone();
    let n = |name: &str| money[name].as_i64().unwrap();
    assert_eq!(n("paid"), n("released") + n("refunded") + n("in_escrow"), "{money}");
    // Cancelled first (all refunded); accepted first and then cancelled (the rest
    // refunded); or accepted, the request closed with it (the rest still held).
    let outcomes = [(0, 12_000_000, 0), (5_000_000, 7_000_000, 0), (5_000_000, 0, 7_000_000)];
    assert!(outcomes.contains(&(n("released"), n("refunded"), n("in_escrow"))), "{money}");
    let entries = app.store.order_ledger(&order_id).await.unwrap();
    let escrow = Account::Escrow(order_id.clone());
    let held: i64 = -entries.iter().map(|e| e.posted(&escrow)).sum::<i64>();
    assert_eq!(held, n("in_escrow"));
    let released = entries.iter().filter(|e| e.kind == EntryKind::StageReleased).count();
    assert_eq!(released, usize::from(n("released") > 0), "released once, or not at all");
}
