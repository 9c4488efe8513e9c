//! The dispute packet's memory: a dispute whose files total 200 MiB, then one whose files
//! total 2 GiB (41 attachments of 50 MiB, the attachment limit, through the upload API
//! and the checker), then one whose parties exchanged 100,000 messages, each exported by
//! the builder's own code in a fresh process, which then prints its peak RSS. The builder
//! streams every file into the ZIP and the ZIP out in 8 MiB parts, and reads the messages
//! 500 at a time, so the peak grows with neither. `PACKET_MIB` and `MESSAGES` set other
//! sizes. Printed, never asserted; run by `make bench` against its own local stack.

use std::time::{Duration, Instant};

use peyman_e2e::*;

const CHILD: &str = "PEYMAN_EXPORT_BENCH_DISPUTE";
const FILE_MIB: usize = 50;

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The child: builds the packet of one dispute as the export-builder function does.
async fn build(dispute_id: &str) {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    let before = peak_rss_kib();
    let dispute: peyman_rules::dispute::Dispute =
        app.store.tracked(dispute_id).await.unwrap().expect("the bench's dispute");
    let now = chrono::Utc::now();
    let export = peyman_rules::export::Export::queued(
        ulid::Ulid::new().to_string(),
        dispute_id,
        &dispute.order_id,
        "bench",
        now,
    );
    let started = Instant::now();
    let built = peyman::flows::exports::assemble(&app, &export, now).await.expect("built");
    let took = started.elapsed();
    let peak = peak_rss_kib();
    let mib = built.size_bytes as f64 / (1024.0 * 1024.0);
    println!(
        "export of a {mib:.0} MiB packet ({} files, {} messages): peak RSS {:.1} MiB (after init {:.1} MiB), {took:.1?}, {:.0} MiB/s",
        built.files,
        messages(&app, &dispute).await,
        peak as f64 / 1024.0,
        before as f64 / 1024.0,
        mib / took.as_secs_f64()
    );
}

/// How many messages the dispute's parties exchanged (counted a page at a time).
async fn messages(app: &peyman::flows::App, dispute: &peyman_rules::dispute::Dispute) -> usize {
    let (mut count, mut after) = (0, None);
    loop {
        let (page, more) =
            app.store.messages_after(&dispute.buyer_id, &dispute.seller_id, after.as_deref(), 1000).await.unwrap();
        count += page.len();
        after = page.last().map(|m| m.message_id.clone());
        if !more || page.is_empty() {
            return count;
        }
    }
}

/// A paid order disputed by its buyer with `files` attachments of 50 MiB (ten on the
/// dispute, ten on each statement after it); returns the dispute's id.
async fn disputed_with(api: &Api, stripe: &Stripe, files: usize, body: &[u8]) -> String {
    let deal = Deal::new(api).await;
    let order_id = deal.paid_order(api, stripe).await;
    let started = Instant::now();
    let buyer = token(&deal.buyer);
    let mut ids = Vec::new();
    for _ in 0..files {
        ids.push(api.upload(&buyer, "attachment", "image/png", body.len() as u64, body).await);
    }
    for id in &ids {
        let decided = eventually(Duration::from_secs(120), async || {
            let r = api.get(&format!("/v1/uploads/{id}"), &buyer).await;
            (r.body["status"] != "pending").then_some(r.body)
        })
        .await
        .expect("checked");
        assert_eq!(decided["status"], "ready", "{decided}");
    }
    println!("uploaded and checked {files} files of {FILE_MIB} MiB in {:.1?}", started.elapsed());
    let mut chunks = ids.chunks(10);
    let first = chunks.next().unwrap_or_default();
    let opened = api
        .post(
            &format!("/v1/orders/{order_id}/disputes"),
            &buyer,
            json!({ "reason": "not_as_agreed", "description": "بنچمارک", "attachment_upload_ids": first }),
        )
        .await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    for chunk in chunks {
        let statement = json!({ "text": "پیوست‌ها", "attachment_upload_ids": chunk });
        api.post(&format!("/v1/orders/{order_id}/disputes/{dispute_id}/statements"), &buyer, statement).await.ok(201);
    }
    dispute_id
}

#[tokio::main]
async fn main() {
    if let Ok(dispute_id) = std::env::var(CHILD) {
        return build(&dispute_id).await;
    }
    let total_mib: usize = std::env::var("PACKET_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    let (api, stripe) = (Api::default(), Stripe::default());
    // Each file: a PNG signature, then a pattern.
    let mut body = vec![0u8; FILE_MIB * 1024 * 1024];
    body[..PNG.len()].copy_from_slice(PNG);
    for (i, b) in body.iter_mut().enumerate().skip(PNG.len()) {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    // A small packet and the large one: the peak should not follow the size.
    for files in [4, total_mib.div_ceil(FILE_MIB)] {
        let dispute_id = disputed_with(&api, &stripe, files, &body).await;
        // A fresh process, so its peak RSS is the build's alone.
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env(CHILD, &dispute_id)
            .status()
            .expect("the build runs");
        assert!(status.success());
    }
    // A conversation of `MESSAGES` messages (written straight to the table, as the
    // messages route stores them), and no files.
    let count: u64 = std::env::var("MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dispute_id = disputed_with(&api, &stripe, 0, &body).await;
    let app = std::sync::Arc::new(Aws::connect().await.app().await);
    let dispute: peyman_rules::dispute::Dispute = app.store.tracked(&dispute_id).await.unwrap().expect("the dispute");
    let (started, at) = (Instant::now(), chrono::Utc::now());
    let mut writers = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let (app, buyer, seller) = (app.clone(), dispute.buyer_id.clone(), dispute.seller_id.clone());
        writers.spawn(async move {
            for i in (worker..count).step_by(8) {
                let from_buyer = i % 2 == 0;
                let message = peyman_rules::message::Message {
                    message_id: ulid::Ulid::from_parts(at.timestamp_millis() as u64 + i, u128::from(worker))
                        .to_string(),
                    sender_id: if from_buyer { buyer.clone() } else { seller.clone() },
                    recipient_id: if from_buyer { seller.clone() } else { buyer.clone() },
                    text: Some(format!("پیام شمارهٔ {i}: طرح‌ها را دیدم، بند ۲ را ببینید 🙏")),
                    attachment_upload_ids: vec![],
                    voice_note_upload_id: None,
                    order_id: None,
                    sent_at: at + chrono::Duration::milliseconds(i as i64),
                };
                app.store.insert_message(&message).await.expect("stored");
            }
        });
    }
    writers.join_all().await;
    println!("wrote {count} messages in {:.1?}", started.elapsed());
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &dispute_id)
        .status()
        .expect("the build runs");
    assert!(status.success());
}
