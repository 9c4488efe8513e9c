//! Money to the seller's bank (issue 26), against the local stack: a paid order's stages
//! are accepted, their releases clear through the stack's own sweeper, the seller
//! withdraws what is available to a Sheba account (two at once that together exceed it:
//! one wins), support batches the withdrawals into the bank's file, returns one and marks
//! the rest paid, and the seller ends with nothing available and all of it paid out.
//! Every step is on the seller's statement and the withdrawal's timeline, once.

use peyman_e2e::*;
use serde_json::{Value, json};

/// A Sheba number whose ISO 13616 check digits match.
const SHEBA: &str = "IR820540102680020817909002";

fn withdrawal(amount: i64) -> Value {
    json!({
        "amount": { "amount": amount, "currency": "IRR" },
        // As people write it: groups, Persian digits.
        "sheba": "IR82 ۰۵۴۰ ۱۰۲۶ ۸۰۰۲ ۰۸۱۷ ۹۰۹۰ ۰۲",
        "holder_name": "زهرا احمدی‌نژاد",
    })
}

async fn balances(api: &Api, seller: &str) -> (i64, i64, i64, i64) {
    let earnings = api.get("/v1/me/earnings", seller).await;
    let irr = earnings.ok(200)["balances"].as_array().unwrap().iter().find(|b| b["currency"] == "IRR").cloned();
    let irr = irr.unwrap_or_default();
    let n = |name: &str| irr[name].as_i64().unwrap_or(0);
    (n("pending"), n("available"), n("withdrawing"), n("paid_out"))
}

fn path(order_id: &str, tail: &str) -> String {
    format!("/v1/orders/{order_id}/{tail}")
}

#[tokio::test]
async fn a_seller_withdraws_what_cleared_and_support_pays_it_out_to_a_zero_balance() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    let support = support_token(&user("agent"));

    // Paid, both stages accepted: 4,500,000 and 6,300,000 IRR pending (less the 10 % fee).
    let order_id = deal.paid_order(&api, &stripe).await;
    for stage in ["مرحلهٔ اول", "مرحلهٔ دوم"] {
        api.post(&path(&order_id, "deliveries"), &seller, json!({ "message": stage })).await.ok(201);
        api.post(&path(&order_id, "acceptance"), &buyer, json!({})).await.ok(200);
    }
    assert_eq!(balances(&api, &seller).await, (10_800_000, 0, 0, 0));
    let fresh = api.post("/v1/me/withdrawals", &seller, withdrawal(1)).await;
    fresh.problem(422, "withdrawal_exceeds_available");

    // Fourteen days on, the stack's sweeper clears both releases.
    let entries = app.store.order_ledger(&order_id).await.unwrap();
    let releases = entries.iter().filter(|e| e.kind == peyman_rules::ledger::EntryKind::StageReleased);
    for release in releases {
        let seq: u64 = release.cause.rsplit_once('#').unwrap().1.parse().unwrap();
        aws.due_now(&peyman_rules::timer::clearance_timer(&order_id, seq)).await;
    }
    let cleared = eventually(WAIT, async || {
        let now = balances(&api, &seller).await;
        (now == (0, 10_800_000, 0, 0)).then_some(now)
    })
    .await;
    assert!(cleared.is_some(), "the sweeper cleared both: {:?}", balances(&api, &seller).await);

    // Bad input changes nothing, each with its own code and field.
    let refused = [
        (withdrawal(0), "invalid_amount", "amount.amount"),
        (withdrawal(10_800_001), "withdrawal_exceeds_available", "amount.amount"),
        (
            json!({ "amount": { "amount": 5, "currency": "USD" }, "sheba": SHEBA, "holder_name": "Ali" }),
            "withdrawal_currency_not_supported",
            "amount.currency",
        ),
        (
            json!({ "amount": { "amount": 5, "currency": "IRR" }, "sheba": "IR820540102680020817909003", "holder_name": "Ali" }),
            "invalid_sheba",
            "sheba",
        ),
        (
            json!({ "amount": { "amount": 5, "currency": "IRR" }, "sheba": SHEBA, "holder_name": "=1+1" }),
            "invalid_holder_name",
            "holder_name",
        ),
    ];
    for (body, code, field) in refused {
        let answer = api.post("/v1/me/withdrawals", &seller, body).await;
        assert_eq!(answer.problem(422, code)["field"], field);
    }
    let mut extra = withdrawal(5);
    extra["iban"] = json!(SHEBA);
    api.post("/v1/me/withdrawals", &seller, extra).await.problem(422, "unknown_field");
    assert_eq!(balances(&api, &seller).await, (0, 10_800_000, 0, 0), "nothing moved");

    // Two at once that together exceed what is available: one wins.
    let (a, b) = tokio::join!(
        api.post("/v1/me/withdrawals", &seller, withdrawal(6_000_000)),
        api.post("/v1/me/withdrawals", &seller, withdrawal(6_000_000)),
    );
    let (won, lost) = if a.status == 201 { (a, b) } else { (b, a) };
    assert_eq!(won.ok(201)["status"], "requested");
    assert_eq!(won.body["sheba"], SHEBA, "stored as IR and 24 ASCII digits");
    lost.problem(422, "withdrawal_exceeds_available");
    assert_eq!(balances(&api, &seller).await, (0, 4_800_000, 6_000_000, 0));
    let first = won.body["withdrawal_id"].as_str().unwrap().to_owned();
    let rest = api.post("/v1/me/withdrawals", &seller, withdrawal(4_800_000)).await;
    let second = rest.ok(201)["withdrawal_id"].as_str().unwrap().to_owned();
    assert_eq!(balances(&api, &seller).await, (0, 0, 10_800_000, 0));

    // Support's queue holds both; only support works it.
    api.get("/v1/support/withdrawals", &seller).await.problem(403, "support_only");
    api.get("/v1/support/withdrawals?status=sent", &support).await.problem(400, "invalid_status");
    let queue = api.get("/v1/support/withdrawals?status=requested&limit=100", &support).await;
    let queued: Vec<&str> =
        queue.ok(200)["items"].as_array().unwrap().iter().map(|w| w["withdrawal_id"].as_str().unwrap()).collect();
    assert!(queued.contains(&first.as_str()) && queued.contains(&second.as_str()), "{queued:?}");

    // A batch takes them out of the queue, in one file for the bank.
    api.post("/v1/support/withdrawal-batches", &support, json!({ "limit": 0 })).await.problem(422, "invalid_value");
    let batch = api.post("/v1/support/withdrawal-batches", &support, json!({})).await;
    let ids: Vec<&str> =
        batch.ok(201)["withdrawal_ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
    assert!(ids.contains(&first.as_str()) && ids.contains(&second.as_str()), "{ids:?}");
    let batch_id = batch.body["batch_id"].as_str().unwrap().to_owned();
    let file = api.get(&format!("/v1/support/withdrawal-batches/{batch_id}"), &support).await;
    assert_eq!((file.status, file.header("content-type")), (200, Some("text/csv; charset=utf-8")));
    let lines: Vec<&str> = file.text.lines().collect();
    assert_eq!(lines[0], "row,sheba,amount_irr,holder_name,description");
    assert!(
        lines.contains(
            &format!(
                "{},{SHEBA},6000000,زهرا احمدی‌نژاد,peyman {first}",
                ids.iter().position(|id| *id == first).unwrap() + 1
            )
            .as_str()
        ),
        "{}",
        file.text
    );
    let again = api.get(&format!("/v1/support/withdrawal-batches/{batch_id}"), &support).await;
    assert_eq!(again.text, file.text, "the same file at every download");
    // No test but this one asks for withdrawals: none is left to batch.
    api.post("/v1/support/withdrawal-batches", &support, json!({})).await.problem(409, "nothing_to_batch");
    let queue = api.get("/v1/support/withdrawals?status=requested&limit=100", &support).await;
    assert!(queue.ok(200)["items"].as_array().unwrap().iter().all(|w| w["withdrawal_id"] != first.as_str()));
    api.get(&format!("/v1/support/withdrawal-batches/{batch_id}"), &seller).await.problem(403, "support_only");

    // The bank refused the second account: returned, the money available again.
    let paid_path = |id: &str| format!("/v1/support/withdrawals/{id}/paid");
    let return_path = |id: &str| format!("/v1/support/withdrawals/{id}/return");
    let reason = json!({ "reason": "نام صاحب حساب با شبا نمی‌خواند" });
    let returned = api.post(&return_path(&second), &support, reason.clone()).await;
    assert_eq!(returned.ok(200)["status"], "returned");
    assert_eq!(balances(&api, &seller).await, (0, 4_800_000, 6_000_000, 0));
    api.post(&return_path(&second), &support, reason).await.problem(409, "withdrawal_decided");

    // The first is paid, with the bank's reference; once.
    api.post(&paid_path(&first), &seller, json!({ "bank_reference": "x" })).await.problem(403, "support_only");
    api.post(&paid_path(&first), &support, json!({ "bank_reference": " " })).await.problem(422, "empty");
    let paid = api.post(&paid_path(&first), &support, json!({ "bank_reference": "پایا ۱۴۰۵۰۹۱۶-۷۷۳۱" })).await;
    assert_eq!(
        (paid.ok(200)["status"].as_str(), paid.body["bank_reference"].as_str()),
        (Some("paid"), Some("پایا ۱۴۰۵۰۹۱۶-۷۷۳۱"))
    );
    api.post(&paid_path(&first), &support, json!({ "bank_reference": "again" }))
        .await
        .problem(409, "withdrawal_decided");
    api.post(&return_path(&first), &support, json!({ "reason": "x" })).await.problem(409, "withdrawal_decided");
    assert_eq!(balances(&api, &seller).await, (0, 4_800_000, 0, 6_000_000));

    // The rest, withdrawn again and paid straight from the queue: nothing is left.
    let last = api.post("/v1/me/withdrawals", &seller, withdrawal(4_800_000)).await;
    let third = last.ok(201)["withdrawal_id"].as_str().unwrap().to_owned();
    api.post(&paid_path(&third), &support, json!({ "bank_reference": "SATNA-991" })).await.ok(200);
    assert_eq!(balances(&api, &seller).await, (0, 0, 0, 10_800_000), "all of it paid out");
    assert!(notified(&api, &deal.seller, "withdrawal_paid", &format!("withdrawal/{first}")).await);

    // Each step is on the seller's statement and the withdrawal's own timeline.
    let statement = api.get("/v1/me/ledger?limit=100", &seller).await;
    let kinds: Vec<&str> =
        statement.ok(200)["items"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "withdrawal_paid",
            "withdrawal_requested",
            "withdrawal_paid",
            "withdrawal_returned",
            "withdrawal_requested",
            "withdrawal_requested",
            "cleared",
            "cleared",
            "stage_released",
            "stage_released",
        ],
        "newest first"
    );
    assert_eq!(statement.body["items"][0]["paid_out"], 4_800_000);
    assert_eq!(statement.body["items"][0]["cause"], format!("withdrawal/{third}#2"));
    let mine = api.get(&format!("/v1/me/withdrawals/{first}"), &seller).await;
    let events: Vec<&str> =
        mine.ok(200)["history"]["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["withdrawal_requested", "withdrawal_batched", "withdrawal_paid"]);
    assert_eq!(mine.body["history"]["verified"], true);
    api.get(&format!("/v1/me/withdrawals/{first}"), &buyer).await.problem(404, "not_found");
    let list = api.get("/v1/me/withdrawals?limit=2", &seller).await;
    let listed: Vec<&str> =
        list.ok(200)["items"].as_array().unwrap().iter().map(|w| w["withdrawal_id"].as_str().unwrap()).collect();
    assert_eq!(listed, [third.as_str(), second.as_str()], "newest first");
    let next = list.body["next_cursor"].as_str().expect("a second page");
    let page = api.get(&format!("/v1/me/withdrawals?limit=2&cursor={next}"), &seller).await;
    assert_eq!(page.ok(200)["items"][0]["withdrawal_id"], first.as_str());
    let theirs = api.get("/v1/me/withdrawals", &buyer).await;
    assert_eq!(theirs.ok(200)["items"], json!([]));
}
