//! Dispute export packets on the local stack: support asks, the export-builder function
//! (fed by the exports queue, running in the local gateway) streams the packet into S3 and
//! seals it with the template's KMS key in moto; support downloads it through the link
//! `GET /v1/support/exports/{id}` hands out, and `peyman-verify`'s checks pass under the
//! key's public half. A file gone from S3 or not matching its recorded hash is in the
//! packet with that problem; 1,000 random mutations of the real packet are all rejected;
//! the page reads right to left in headless Chromium; every build and link is on the
//! dispute's timeline; a job that keeps failing is marked failed and lands in the DLQ, and a
//! real dispute's timeline records that failure.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use peyman_e2e::*;
use peyman_rules::packet::{self, Break, Manifest, Seal};
use serde_json::Value;

type Files = Vec<(String, Vec<u8>)>;

fn path(order_id: &str, rest: &str) -> String {
    format!("/v1/orders/{order_id}/{rest}")
}

/// A paid order with a delivered stage (a file), disputed by the buyer with a voice note
/// and a file, and a statement from each party (the seller's with a file).
struct Disputed {
    deal: Deal,
    order_id: String,
    dispute_id: String,
    voice: String,
    seller_evidence: String,
    buyer_file: String,
}

async fn disputed(api: &Api, stripe: &Stripe) -> Disputed {
    let deal = Deal::new(api).await;
    let order_id = deal.paid_order(api, stripe).await;
    let design = ready_file(api, &deal.seller).await;
    let delivery = json!({ "message": "طرح‌های اولیه", "attachment_upload_ids": [design] });
    api.post(&path(&order_id, "deliveries"), &token(&deal.seller), delivery).await.ok(201);
    let (voice, buyer_file) = (ready_voice_note(api, &deal.buyer).await, ready_file(api, &deal.buyer).await);
    let body = json!({
        "reason": "not_as_agreed",
        "description": "طرح‌ها با بند ۲ قرارداد نمی‌خواند 😕",
        "attachment_upload_ids": [buyer_file],
        "voice_note_upload_id": voice,
    });
    let opened = api.post(&path(&order_id, "disputes"), &token(&deal.buyer), body).await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();
    let seller_evidence = ready_file(api, &deal.seller).await;
    let statement = json!({ "text": "سه طرح تحویل شد.", "attachment_upload_ids": [seller_evidence] });
    let statements = path(&order_id, &format!("disputes/{dispute_id}/statements"));
    api.post(&statements, &token(&deal.seller), statement).await.ok(201);
    api.post(&statements, &token(&deal.buyer), json!({ "text": "کیفیت پایین است." })).await.ok(201);
    Disputed { deal, order_id, dispute_id, voice, seller_evidence, buyer_file }
}

/// Support asks for an export and waits until it is ready; returns its status.
async fn exported(api: &Api, support: &str, dispute_id: &str) -> Value {
    let asked = api.post(&format!("/v1/support/disputes/{dispute_id}/exports"), support, json!({})).await;
    assert_eq!(asked.ok(202)["status"], "queued");
    let export_id = asked.body["export_id"].as_str().unwrap().to_owned();
    eventually(WAIT, async || {
        let status = api.get(&format!("/v1/support/exports/{export_id}"), support).await;
        (status.ok(200)["status"] == "ready").then(|| status.body.clone())
    })
    .await
    .expect("the packet is built")
}

fn unzip(bytes: &[u8]) -> Files {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a ZIP");
    let mut files = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        files.push((f.name().to_owned(), content));
    }
    files
}

fn zipped(files: &Files) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in files {
        zip.start_file(path.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn find<'a>(files: &'a Files, path: &str) -> &'a [u8] {
    &files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} is in the packet")).1
}

fn verify(files: &Files, key: &VerifyingKey) -> Result<packet::Report, Break> {
    peyman_verify::check(&peyman_verify::read(Cursor::new(zipped(files)))?, Some(key)).map(|(report, _)| report)
}

async fn deployment_key(aws: &Aws) -> VerifyingKey {
    let sdk = peyman::adapters::sdk::config().await;
    let alias = aws.template.key_alias("ExportSealKey").unwrap();
    let der = peyman::adapters::kms::Sealer::connect(&sdk, &alias).public_key().await.expect("the public key");
    peyman_verify::public_key(&der).expect("a P-256 key")
}

async fn status_of(api: &Api, d: &Disputed) -> Value {
    api.get(&format!("/v1/orders/{}", d.order_id), &token(&d.deal.buyer)).await.ok(200).clone()
}

async fn dispute_events(api: &Api, d: &Disputed) -> Vec<Value> {
    let seen = api.get(&path(&d.order_id, &format!("disputes/{}", d.dispute_id)), &token(&d.deal.buyer)).await;
    assert_eq!(seen.ok(200)["history"]["verified"], true);
    seen.body["history"]["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn support_exports_a_dispute_downloads_it_and_it_verifies_offline_then_resolves_it() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let agent = user("agent");
    let support = support_token(&agent);
    let d = disputed(&api, &stripe).await;

    // Storage loses one file's checked version, and another's record no longer matches
    // its bytes: both are in the packet, said so, never skipped.
    let record = aws.partition(&format!("UPLOAD#{}", d.seller_evidence)).await;
    let checked = record.iter().find_map(|i| i.get("checked_version")?.as_s().ok().cloned()).expect("checked version");
    let key = record.iter().find_map(|i| i.get("object_key")?.as_s().ok().cloned()).unwrap();
    aws.s3.delete_object().bucket(&aws.bucket).key(&key).version_id(checked).send().await.expect("deleted");
    aws.dynamodb
        .update_item()
        .table_name(&aws.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("UPLOAD#{}", d.buyer_file)))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("UPLOAD".into()))
        .update_expression("SET sha256 = :other")
        .expression_attribute_values(":other", aws_sdk_dynamodb::types::AttributeValue::S("00".repeat(32)))
        .send()
        .await
        .expect("updated");

    let status = exported(&api, &support, &d.dispute_id).await;
    assert_eq!(status["files_with_problems"], 2);
    let url = status["download_url"].as_str().expect("a download link").to_owned();
    let bytes = reqwest::get(&url).await.unwrap().bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len() as u64, status["size_bytes"].as_u64().unwrap());

    // peyman-verify's checks pass under the deployment's key, and name what they checked.
    let key = deployment_key(&aws).await;
    let (report, source) = peyman_verify::check(&peyman_verify::read(Cursor::new(&bytes)).unwrap(), Some(&key))
        .expect("the real packet verifies");
    assert_eq!(source, peyman_verify::KeySource::Given);
    assert_eq!(report.dispute_id, d.dispute_id);
    let timelines: Vec<&str> = report.timelines.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(timelines, ["dispute", "offer", "order"]);
    let mut problems: Vec<&str> = report.files_with_problems.iter().map(|(_, p)| p.as_str()).collect();
    problems.sort();
    assert_eq!(problems, ["differs_from_recorded_hash", "missing_from_storage"]);

    // What it holds: the contract as accepted, every file (the voice note's bytes as
    // uploaded), the timelines with Jalali times, messages, deliveries, payments.
    let files = unzip(&bytes);
    let contract: Value = serde_json::from_slice(find(&files, packet::CONTRACT)).unwrap();
    assert_eq!(
        (contract["terms"]["title"].as_str(), contract["terms_hash_verified"].as_bool()),
        (Some("لوگوی فروشگاه"), Some(true))
    );
    let voice = files.iter().find(|(p, _)| p.starts_with(&format!("files/{}-", d.voice))).expect("the voice note");
    assert_eq!(voice.1, OGG);
    assert!(
        files.iter().any(|(p, b)| p.starts_with("deliveries/1-") && b == PNG),
        "the delivered file beside its delivery"
    );
    let manifest: Manifest = serde_json::from_slice(find(&files, packet::MANIFEST)).unwrap();
    let missing = manifest.files.iter().find(|e| e.path.contains(&d.seller_evidence)).unwrap();
    assert_eq!((missing.size, missing.problem.as_deref()), (0, Some("missing_from_storage")));
    assert_eq!(manifest.built_by, agent);
    let timeline: Value = serde_json::from_slice(find(&files, packet::TIMELINE)).unwrap();
    let first = &timeline["order"][0];
    assert!(first["at_jalali"].as_str().unwrap().starts_with('۱'), "{first}");
    let messages: Value = serde_json::from_slice(find(&files, "messages.json")).unwrap();
    assert_eq!(messages[0]["text"], "یک لوگو می‌خواهم");
    let payments: Value = serde_json::from_slice(find(&files, "payments.json")).unwrap();
    assert_eq!(payments["payments"][0]["status"], "succeeded");
    // The order's ledger: the payment into its escrow, with the event that caused it.
    assert_eq!(payments["ledger"][0]["kind"], "payment_received");
    assert_eq!(
        payments["ledger"][0]["postings"][1],
        json!({ "account": format!("escrow/{}", d.order_id), "amount": -12_000_000 })
    );
    assert_eq!(payments["escrow"]["paid"], 12_000_000);
    let page = String::from_utf8(find(&files, "index.html").to_vec()).unwrap();
    assert!(page.contains("<section id=\"ledger\">") && page.contains(&format!("escrow/{}", d.order_id)));
    assert!(page.contains("dir=\"rtl\"") && page.contains("۱۲٬۰۰۰٬۰۰۰ ریال") && page.contains(&manifest.terms_hash));
    assert!(page.contains("مشکل: missing_from_storage") && page.contains("مشکل: differs_from_recorded_hash"));

    // The dispute's timeline tells who asked, that it was built, and who got a link.
    let events = dispute_events(&api, &d).await;
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for name in ["export_requested", "export_built", "export_link_issued"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let link = events.iter().find(|e| e["event"] == "export_link_issued").unwrap();
    assert_eq!(link["actor_id"], agent.as_str());
    let requested = events.iter().find(|e| e["event"] == "export_requested").unwrap();
    assert_eq!(requested["data"]["export_id"], status["export_id"]);

    // The resolution afterwards: a partial refund, and a second export carries it.
    let decision = json!({ "decision": "partial_refund", "amount": { "amount": 4_000_000, "currency": "IRR" }, "note": "نیمی بازگردانده می‌شود." });
    let resolved = api.post(&format!("/v1/support/disputes/{}/resolution", d.dispute_id), &support, decision).await;
    assert_eq!(resolved.ok(200)["order"]["status"], "completed");
    for party in [&d.deal.buyer, &d.deal.seller] {
        let subject = format!("order/{}", d.order_id);
        assert!(notified(&api, party, "dispute_partly_refunded", &subject).await, "{party} is told of the decision");
    }
    // The refund reaches localstripe and the provider's confirmation closes it.
    let intent = status_of(&api, &d).await["payment"]["payment_intent_id"].as_str().unwrap().to_owned();
    let refunded = eventually(WAIT, async || {
        let (_, refunds) =
            stripe.call(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent}"), &[]).await;
        refunds["data"][0]["amount"].as_i64()
    })
    .await;
    assert_eq!(refunded, Some(4_000_000));
    let body = charge_refunded(&intent, 4_000_000);
    let r = api.webhook(&body, Some(&stripe.sign(&body, chrono::Utc::now().timestamp()))).await;
    assert_eq!(r.ok(200)["outcome"], "refund_confirmed");
    let order = status_of(&api, &d).await;
    assert_eq!(
        (order["status"].as_str(), order["payment"]["refund_confirmed"].as_i64()),
        (Some("completed"), Some(4_000_000))
    );
    let timeline = api.get(&path(&d.order_id, "timeline"), &token(&d.deal.buyer)).await;
    assert_eq!(timeline.ok(200)["verified"], true, "the order's timeline verifies");
    dispute_events(&api, &d).await; // and the dispute's
    let again = exported(&api, &support, &d.dispute_id).await;
    let bytes = reqwest::get(again["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap().to_vec();
    let files = unzip(&bytes);
    verify(&files, &key).expect("the packet after the resolution verifies");
    let timeline: Value = serde_json::from_slice(find(&files, packet::TIMELINE)).unwrap();
    assert!(timeline["dispute"].as_array().unwrap().iter().any(|e| e["event"] == "dispute_resolved"));
}

/// The manifest re-listed to match `files` (as a forger would), sealed by `signer` or,
/// without one, keeping the real seal and signature.
fn relisted(files: &Files, signer: Option<&SigningKey>) -> Files {
    let mut files = files.clone();
    let i = files.iter().position(|(p, _)| p == packet::MANIFEST).unwrap();
    let mut manifest: Manifest = serde_json::from_slice(&files[i].1).unwrap();
    for entry in &mut manifest.files {
        if let Some((_, bytes)) = files.iter().find(|(p, _)| *p == entry.path) {
            entry.size = bytes.len() as u64;
            entry.sha256 = packet::sha256_hex(bytes);
        }
    }
    files[i].1 = serde_json::to_vec_pretty(&manifest).unwrap();
    if let Some(signer) = signer {
        let seal = Seal {
            format: packet::FORMAT.into(),
            packet_id: manifest.packet_id.clone(),
            dispute_id: manifest.dispute_id.clone(),
            manifest_sha256: packet::sha256_hex(&files[i].1),
        };
        let seal_bytes = packet::seal_bytes(&seal);
        let signature: Signature = signer.sign(&seal_bytes);
        files.iter_mut().find(|(p, _)| p == packet::SEAL).unwrap().1 = seal_bytes;
        files.iter_mut().find(|(p, _)| p == packet::SIGNATURE).unwrap().1 = signature.to_der().as_bytes().to_vec();
    }
    files
}

#[tokio::test]
async fn a_thousand_random_mutations_of_a_real_packet_are_all_rejected() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let support = support_token(&user("agent"));
    let d = disputed(&api, &stripe).await;
    let status = exported(&api, &support, &d.dispute_id).await;
    let bytes = reqwest::get(status["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap().to_vec();
    let sound = unzip(&bytes);
    let key = deployment_key(&aws).await;
    verify(&sound, &key).expect("the real packet verifies");
    let forger = SigningKey::from_slice(&[9; 32]).unwrap();

    // Seeded: every run makes the same thousand mutations.
    let mut rng = fastrand::Rng::with_seed(0x5DEE_CE66_D1CE_4E5B);
    let mut kinds = BTreeMap::<&str, usize>::new();
    for round in 0..1_000 {
        let mut files = sound.clone();
        let name = match rng.usize(..9) {
            0 => {
                let i = rng.usize(..files.len());
                let bytes = &mut files[i].1;
                if bytes.is_empty() {
                    bytes.push(0);
                } else {
                    let at = rng.usize(..bytes.len());
                    bytes[at] ^= 1 << rng.usize(..8);
                }
                "a flipped bit in any file"
            }
            1 => {
                files.remove(rng.usize(..files.len()));
                "a file removed"
            }
            2 => {
                files.push(("files/extra.bin".into(), vec![rng.usize(..256) as u8]));
                "a file added"
            }
            3 => {
                let i = rng.usize(..files.len());
                files[i].0 = format!("renamed/{}", files[i].0);
                "a file renamed"
            }
            kind @ 4..=6 => {
                // What the packet says is changed, then the manifest edited to match and
                // sealed again by nobody (the real seal kept) or by a forger.
                let i = files.iter().position(|(p, _)| p == packet::TIMELINE).unwrap();
                let mut timelines: BTreeMap<String, Vec<Value>> = serde_json::from_slice(&files[i].1).unwrap();
                let names: Vec<String> = timelines.keys().cloned().collect();
                let events = timelines.get_mut(&names[rng.usize(..names.len())]).unwrap();
                let what = match kind {
                    4 => {
                        events.remove(rng.usize(..events.len()));
                        "an event removed"
                    }
                    5 if events.len() > 1 => {
                        let at = rng.usize(..events.len() - 1);
                        events.swap(at, at + 1);
                        "events reordered"
                    }
                    _ => {
                        let at = rng.usize(..events.len());
                        events[at]["data"]["edited"] = json!("ویرایش شده");
                        "an event edited"
                    }
                };
                files[i].1 = serde_json::to_vec_pretty(&timelines).unwrap();
                files = relisted(&files, if rng.usize(..2) == 0 { None } else { Some(&forger) });
                what
            }
            7 => {
                let i = files.iter().position(|(p, _)| p == packet::CONTRACT).unwrap();
                let mut contract: Value = serde_json::from_slice(&files[i].1).unwrap();
                contract["terms"]["revisions_included"] = json!(rng.usize(..50) + 3);
                files[i].1 = serde_json::to_vec_pretty(&contract).unwrap();
                files = relisted(&files, if rng.usize(..2) == 0 { None } else { Some(&forger) });
                "the terms edited"
            }
            _ => {
                let i = files.iter().position(|(p, _)| p == packet::SIGNATURE).unwrap();
                files[i].1 = match rng.usize(..2) {
                    0 => (0..70).map(|_| rng.usize(..256) as u8).collect(),
                    _ => {
                        let forged: Signature = forger.sign(find(&files, packet::SEAL));
                        forged.to_der().as_bytes().to_vec()
                    }
                };
                "the signature replaced"
            }
        };
        *kinds.entry(name).or_default() += 1;
        assert!(verify(&files, &key).is_err(), "round {round}: {name} was accepted");
    }
    assert!(kinds.len() >= 9, "every kind of mutation was tried: {kinds:?}");
}

/// The page in headless Chromium, from the extracted packet with no network: the text
/// runs right to left, a Jalali date, the terms hash and the amount in Rials are there,
/// and the voice note's player points at a file of the packet the browser can play.
#[tokio::test]
async fn the_packet_page_reads_right_to_left_in_a_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    let (api, stripe) = (Api::default(), Stripe::default());
    let support = support_token(&user("agent"));
    let d = disputed(&api, &stripe).await;
    let status = exported(&api, &support, &d.dispute_id).await;
    let bytes = reqwest::get(status["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap().to_vec();
    let dir = std::env::temp_dir().join(format!("peyman-packet-{}", status["export_id"].as_str().unwrap()));
    for (name, content) in unzip(&bytes) {
        let target = dir.join(&name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, content).unwrap();
    }
    // The page as packed, plus a probe that reports what the browser made of it.
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let probe = r#"<script>
const main = document.querySelector('main'), audio = document.querySelector('audio');
const out = { direction: getComputedStyle(main).direction, text: main.innerText,
  audio: audio ? audio.src : null, playable: audio ? audio.canPlayType(audio.querySelector('source').type) : '' };
const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script></body>"#;
    std::fs::write(dir.join("probe.html"), page.replace("</body>", probe)).unwrap();
    let seen = browse(chromium, &format!("file://{}", dir.join("probe.html").display()));
    assert_eq!(seen["direction"], "rtl");
    let text = seen["text"].as_str().unwrap();
    let built = chrono::DateTime::parse_from_rfc3339(status["updated_at"].as_str().unwrap()).unwrap().to_utc();
    let day = peyman_rules::packet_page::jalali(built);
    assert!(text.contains(&day[..day.find(' ').unwrap()]), "a Jalali date ({day}) in the page");
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join(packet::MANIFEST)).unwrap()).unwrap();
    assert!(text.contains(&manifest.terms_hash), "the terms hash");
    assert!(text.contains("۱۲٬۰۰۰٬۰۰۰ ریال") && text.contains("طرح‌ها با بند ۲ قرارداد نمی‌خواند 😕"));
    let audio = seen["audio"].as_str().expect("a voice note player");
    let file = percent_encoding::percent_decode_str(audio.strip_prefix("file://").unwrap()).decode_utf8().unwrap();
    assert_eq!(std::fs::read(file.as_ref()).unwrap(), OGG, "the player's source is the voice note in the packet");
    assert!(["maybe", "probably"].contains(&seen["playable"].as_str().unwrap()), "{seen}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn exports_are_supports_alone_and_bad_requests_change_nothing() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let support = support_token(&user("agent"));
    let d = disputed(&api, &stripe).await;
    let exports = format!("/v1/support/disputes/{}/exports", d.dispute_id);
    for who in [&d.deal.buyer, &d.deal.seller, &user("stranger")] {
        api.post(&exports, &token(who), json!({})).await.problem(403, "support_only");
    }
    api.post(&exports, &support, json!({ "format": "pdf" })).await.problem(422, "unknown_field");
    let other = ulid::Ulid::new().to_string();
    api.post(&format!("/v1/support/disputes/{other}/exports"), &support, json!({})).await.problem(404, "not_found");
    api.post("/v1/support/disputes/not-an-id/exports", &support, json!({})).await.problem(400, "invalid_id");
    let names: Vec<String> =
        dispute_events(&api, &d).await.iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with("export")), "nothing recorded: {names:?}");

    let asked = api.post(&exports, &support, json!({})).await;
    let export_id = asked.ok(202)["export_id"].as_str().unwrap().to_owned();
    let status = format!("/v1/support/exports/{export_id}");
    for who in [&d.deal.buyer, &d.deal.seller, &user("stranger")] {
        api.get(&status, &token(who)).await.problem(403, "support_only");
    }
    api.get(&format!("/v1/support/exports/{}", ulid::Ulid::new()), &support).await.problem(404, "not_found");
}

#[tokio::test]
async fn an_export_job_whose_requester_dies_after_committing_is_relayed_and_built() {
    use peyman_rules::lifecycle::{self, Actor, DISPUTE, DisputeAction};
    use peyman_rules::tracked::{Step, Tracked};
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = aws.app().await;
    let agent = user("agent");
    let d = disputed(&api, &stripe).await;
    // The request's transaction commits, and the process dies at once: the job is only
    // on the dispute's new timeline event.
    let now = chrono::Utc::now();
    let mut dispute: peyman_rules::dispute::Dispute = app.store.tracked(&d.dispute_id).await.unwrap().unwrap();
    let export =
        peyman_rules::export::Export::queued(ulid::Ulid::new().to_string(), &d.dispute_id, &d.order_id, &agent, now);
    let t = lifecycle::step(DISPUTE, dispute.state, DisputeAction::RequestExport, Actor::Support, &dispute.facts(now))
        .unwrap();
    let mut commit = app.store.begin();
    commit
        .record(&mut dispute, Step::of(t, Actor::Support, Some(&agent), json!({ "export_id": export.export_id })), now)
        .unwrap();
    commit.new_export(&export).unwrap();
    commit.followup(peyman_rules::followup::FollowUp::build_export(&export.export_id, now)).unwrap();
    let pending = app.store.commit(commit).await.unwrap();
    assert_eq!(pending.len(), 1, "the job rides on the event");
    // The relay reads it from the table's stream and sends it to the exports queue; the
    // builder builds it.
    let status = format!("/v1/support/exports/{}", export.export_id);
    let ready = eventually(WAIT, async || {
        let s = api.get(&status, &support_token(&agent)).await;
        (s.ok(200)["status"] == "ready").then(|| s.body.clone())
    })
    .await;
    assert!(ready.is_some(), "the job was not lost");
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_marked_failed_and_lands_in_the_dlq() {
    let aws = Aws::connect().await;
    let app = aws.app().await;
    // An export of a dispute that is not there: every attempt fails.
    let now = chrono::Utc::now();
    let ghost = ulid::Ulid::new().to_string();
    let export = peyman_rules::export::Export::queued(ulid::Ulid::new().to_string(), &ghost, "01ORDER", "agent", now);
    let mut commit = app.store.begin();
    commit.new_export(&export).unwrap();
    commit.followup(peyman_rules::followup::FollowUp::build_export(&export.export_id, now)).unwrap();
    app.commit(commit).await.expect("queued");

    let failed = eventually(WAIT, async || {
        let e = app.store.export(&export.export_id).await.unwrap()?;
        (e.status == peyman_rules::export::ExportStatus::Failed).then_some(e)
    })
    .await
    .expect("marked failed after its attempts");
    assert!(failed.failure.as_deref().unwrap().contains("not there"), "{:?}", failed.failure);
    let dlq = aws.template.queue_url("ExportsDeadLetterQueue").unwrap();
    let landed = eventually(WAIT, async || {
        let out = aws.sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).send().await.unwrap();
        out.messages.unwrap_or_default().into_iter().find(|m| m.body().is_some_and(|b| b.contains(&export.export_id)))
    })
    .await;
    assert!(landed.is_some(), "the job is in the exports DLQ");
}

#[tokio::test]
async fn a_build_that_fails_for_the_last_time_is_on_the_real_disputes_timeline() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let d = disputed(&api, &stripe).await;
    // A builder whose seal key does not exist: the packet is assembled, then cannot be
    // sealed. The export is queued without a job, so the gateway's builder never races it.
    let mut config = peyman_local::local_config(&aws.template).await.unwrap();
    config.export_seal_key_id = Some("alias/peyman-no-such-key".into());
    let app = peyman::flows::App::new(config).await;
    let now = chrono::Utc::now();
    let export =
        peyman_rules::export::Export::queued(ulid::Ulid::new().to_string(), &d.dispute_id, &d.order_id, "agent", now);
    let mut commit = app.store.begin();
    commit.new_export(&export).unwrap();
    app.commit(commit).await.expect("queued");
    let job = serde_json::to_string(&peyman_rules::followup::FollowUp::build_export(&export.export_id, now)).unwrap();
    let before = dispute_events(&api, &d).await.len();

    // Not the last attempt: it fails, and nothing is recorded yet.
    assert!(peyman::flows::exports::build(&app, &job, 1, now).await.is_err());
    assert_eq!(dispute_events(&api, &d).await.len(), before);
    // The last one: the export is failed, with why, and the dispute's timeline says so.
    let attempts = app.config.export_attempts;
    assert!(peyman::flows::exports::build(&app, &job, attempts, now).await.is_err());
    let support = support_token(&user("agent"));
    let status = api.get(&format!("/v1/support/exports/{}", export.export_id), &support).await;
    assert_eq!(status.ok(200)["status"], "failed", "{}", status.text);
    assert!(status.body["failure"].as_str().is_some_and(|f| !f.is_empty()), "{}", status.text);
    let events = dispute_events(&api, &d).await;
    assert_eq!(events.len(), before + 1);
    let failed = events.last().unwrap();
    assert_eq!(
        (failed["event"].as_str(), failed["actor"].as_str()),
        (Some("export_failed"), Some("system")),
        "{failed}"
    );
    assert_eq!(failed["data"]["export_id"], export.export_id.as_str());
    assert_eq!(status_of(&api, &d).await["status"], "disputed", "the order waits on support as before");
    // A duplicate delivery after that changes nothing.
    assert!(peyman::flows::exports::build(&app, &job, attempts, now).await.is_ok());
    assert_eq!(dispute_events(&api, &d).await.len(), before + 1);
}

/// Tried as support staff would: a buyer's file whose name carries what Windows refuses in
/// a file name (and markup) goes into the ZIP under a portable name with the extension of
/// its checked type; the manifest and the page keep the name as the buyer gave it, the page
/// escaped. (A file the checker refused cannot be attached at all; were one named, it would
/// be listed empty: `case::withheld`.)
#[tokio::test]
async fn a_hostile_file_name_gets_a_portable_entry_and_keeps_its_name_on_the_page() {
    let (api, stripe) = (Api::default(), Stripe::default());
    let support = support_token(&user("agent"));
    let d = disputed(&api, &stripe).await;
    let buyer = token(&d.deal.buyer);
    let hostile = "طرح\"><img src=x onerror=alert(3)>.png";
    let declared =
        json!({ "kind": "attachment", "file_name": hostile, "content_type": "image/png", "size_bytes": PNG.len() });
    let declared = api.post("/v1/uploads", &buyer, declared).await;
    let named = declared.ok(201)["upload_id"].as_str().unwrap().to_owned();
    let link = declared.body["upload"]["url"].as_str().unwrap().to_owned();
    let put = reqwest::Client::new().put(&link).header("content-type", "image/png").header("if-none-match", "*");
    let put = put.body(PNG).send().await;
    assert!(put.unwrap().status().is_success());
    assert_eq!(api.decided_upload(&buyer, &named).await["status"], "ready");
    let statements = path(&d.order_id, &format!("disputes/{}/statements", d.dispute_id));
    let said = json!({ "text": "این هم طرح", "attachment_upload_ids": [named] });
    api.post(&statements, &buyer, said).await.ok(201);

    let status = exported(&api, &support, &d.dispute_id).await;
    let bytes = reqwest::get(status["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap().to_vec();
    let files = unzip(&bytes);
    for (name, _) in &files {
        assert!(!name.contains(['<', '>', ':', '"', '|', '?', '*', '\\']), "{name} would not extract on Windows");
    }
    let portable = format!("files/{named}-طرح___img src=x onerror=alert(3)_.png");
    assert_eq!(find(&files, &portable), PNG, "the checked bytes under a portable name");
    let manifest: Manifest = serde_json::from_slice(find(&files, packet::MANIFEST)).unwrap();
    let entry = manifest.files.iter().find(|e| e.path == portable).unwrap();
    assert_eq!(entry.file_name.as_deref(), Some(hostile), "the manifest keeps the name as given");
    let page = String::from_utf8(find(&files, "index.html").to_vec()).unwrap();
    assert!(page.contains("طرح&quot;&gt;&lt;img src=x onerror=alert(3)&gt;.png"), "the name as given, escaped");
    assert!(!page.contains("<img src=x"), "no markup of a party's reaches the page");
    let key = deployment_key(&Aws::connect().await).await;
    verify(&files, &key).expect("and the packet verifies");
}

/// A built packet is kept under S3 Object Lock for the template's retention: its version
/// cannot be deleted or replaced, even by the local cloud's administrator, while a file
/// the dispute refers to stays readable too.
#[tokio::test]
async fn a_built_packet_is_locked_and_its_version_cannot_be_deleted() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let support = support_token(&user("agent"));
    let d = disputed(&api, &stripe).await;
    let status = exported(&api, &support, &d.dispute_id).await;
    let export_id = status["export_id"].as_str().unwrap();
    let record = aws.partition(&format!("EXPORT#{export_id}")).await;
    let text = |name: &str| record.iter().find_map(|i| i.get(name)?.as_s().ok().cloned()).expect(name);
    let (key, version) = (text("object_key"), text("object_version"));

    // The lock as S3 reports it on the version (moto has no GetObjectRetention).
    let head = aws.s3.head_object().bucket(&aws.bucket).key(&key).version_id(&version).send().await.unwrap();
    assert_eq!(head.object_lock_mode().map(|m| m.as_str()), Some("GOVERNANCE"));
    let until = head.object_lock_retain_until_date().expect("a date").secs();
    let days = (until - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
    assert!((364.0..=365.1).contains(&days), "kept for the template's 365 days, not {days}");
    let deleted = aws.s3.delete_object().bucket(&aws.bucket).key(&key).version_id(&version).send().await;
    assert!(deleted.is_err(), "a locked version cannot be deleted");
    let still = aws.s3.head_object().bucket(&aws.bucket).key(&key).version_id(&version).send().await;
    assert_eq!(still.expect("still there").content_length(), status["size_bytes"].as_i64());
}

/// The builder reads a conversation a page at a time (500 messages): one of more than two
/// pages is in the packet whole, in the order it was sent, in `messages.json` and on the
/// page, and the packet verifies.
#[tokio::test]
async fn a_conversation_of_many_pages_is_in_the_packet_whole_and_in_order() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let app = std::sync::Arc::new(aws.app().await);
    let support = support_token(&user("agent"));
    let d = disputed(&api, &stripe).await;
    let (buyer, seller) = (d.deal.buyer.clone(), d.deal.seller.clone());
    let start = chrono::Utc::now();
    let sent: Vec<peyman_rules::message::Message> = (0..1_234)
        .map(|i| peyman_rules::message::Message {
            message_id: ulid::Ulid::from_parts(start.timestamp_millis() as u64 + i, 7).to_string(),
            sender_id: if i % 2 == 0 { buyer.clone() } else { seller.clone() },
            recipient_id: if i % 2 == 0 { seller.clone() } else { buyer.clone() },
            text: Some(format!("پیام {i} 😀")),
            attachment_upload_ids: vec![],
            voice_note_upload_id: None,
            order_id: None,
            sent_at: start + chrono::Duration::milliseconds(i as i64),
        })
        .collect();
    let mut writers = tokio::task::JoinSet::new();
    for chunk in sent.chunks(80) {
        let (app, chunk) = (app.clone(), chunk.to_vec());
        writers.spawn(async move {
            for m in &chunk {
                app.store.insert_message(m).await.expect("stored");
            }
        });
    }
    writers.join_all().await;

    let status = exported(&api, &support, &d.dispute_id).await;
    let url = status["download_url"].as_str().unwrap();
    let files = unzip(&reqwest::get(url).await.unwrap().bytes().await.unwrap());
    let messages: Vec<Value> = serde_json::from_slice(find(&files, "messages.json")).expect("one JSON array");
    let ids: Vec<&str> = messages.iter().map(|m| m["message_id"].as_str().unwrap()).collect();
    assert!(ids.len() > 1_234, "{}", ids.len());
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in the order they were sent, each once");
    for m in &sent {
        assert!(ids.contains(&m.message_id.as_str()), "{} is in the packet", m.message_id);
    }
    let page = String::from_utf8(find(&files, "index.html").to_vec()).unwrap();
    let section = page.split("<section id=\"messages\">").nth(1).unwrap().split("</section>").next().unwrap();
    assert_eq!(section.matches("<article>").count(), ids.len(), "each message on the page once");
    assert!(section.contains("پیام 1233 😀"));
    assert!(verify(&files, &deployment_key(&aws).await).is_ok(), "the packet verifies");
}

#[tokio::test]
async fn a_packet_carries_the_buyer_s_request_and_every_amendment_chained_to_the_contract() {
    let (api, stripe, aws) = (Api::default(), Stripe::default(), Aws::connect().await);
    let support = support_token(&user("agent"));
    let deal = Deal::new(&api).await;
    let (buyer, seller) = (token(&deal.buyer), token(&deal.seller));
    // The buyer's request, with a voice note; the seller's offer answers it.
    let voice = ready_voice_note(&api, &deal.buyer).await;
    let text = "لوگو با فایل لایه‌باز، تا ۱۰ روز";
    let asked = api
        .post(
            "/v1/custom-project-requests",
            &buyer,
            json!({
                "seller_id": deal.seller, "gig_id": deal.gig_id, "description": text,
                "desired_price": { "amount": 10_000_000, "currency": "IRR" }, "desired_delivery_days": 10,
                "voice_note_upload_id": voice
            }),
        )
        .await;
    let request_id = asked.ok(201)["request_id"].as_str().unwrap().to_owned();
    let mut offer = deal.offer();
    offer["source"] = json!({ "request_id": request_id });
    let offer_id = deal.send_offer(&api, offer).await;
    let accepted = api.post(&format!("/v1/offers/{offer_id}/accept"), &buyer, json!({})).await;
    let order = accepted.ok(201)["order"].clone();
    let order_id = order["order_id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.pay(order["payment"]["payment_intent_id"].as_str().unwrap(), "pm_card_visa").await, 200);
    eventually(WAIT, async || (deal.order(&api, &order_id).await["status"] == "in_progress").then_some(()))
        .await
        .expect("paid");

    // Two amendments take effect, one from each side.
    let mut hashes = Vec::new();
    for (by, other, change) in [
        (&seller, &buyer, json!({ "extra_days": { "days": 3, "stage": 2 } })),
        (&buyer, &seller, json!({ "extra_revisions": 1 })),
    ] {
        let proposed = api.post(&path(&order_id, "amendments"), by, change).await;
        let id = proposed.ok(201)["amendment_id"].as_str().unwrap().to_owned();
        let done = api.post(&path(&order_id, &format!("amendments/{id}/accept")), other, json!({})).await;
        hashes.push(done.ok(200)["hash"].as_str().unwrap().to_owned());
    }
    let body = json!({ "reason": "not_delivered", "description": "مرحلهٔ اول نرسید" });
    let opened = api.post(&path(&order_id, "disputes"), &buyer, body).await;
    let dispute_id = opened.ok(201)["dispute_id"].as_str().unwrap().to_owned();

    // Support's case page shows the request and the contract with its amendments.
    let case = api.get(&format!("/v1/support/disputes/{dispute_id}"), &support).await;
    assert_eq!(case.ok(200)["request"]["description"], text);
    assert_eq!(case.body["request"]["voice_note_upload_id"], voice.as_str());
    let amendments = case.body["contract"]["amendments"].as_array().unwrap();
    assert_eq!(amendments.iter().map(|a| a["hash"].as_str().unwrap()).collect::<Vec<_>>(), hashes);
    assert_eq!(amendments[0]["previous_hash"], case.body["contract"]["terms_hash"]);
    assert_eq!(amendments[1]["previous_hash"], hashes[0].as_str());
    assert_eq!(case.body["contract"]["terms_in_force_hash"], hashes[1].as_str());

    // The packet: contract.json with the original terms and both amendments, request.json,
    // both on the page; peyman-verify walks the chain.
    let status = exported(&api, &support, &dispute_id).await;
    let bytes = reqwest::get(status["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap().to_vec();
    let files = unzip(&bytes);
    let contract: Value = serde_json::from_slice(find(&files, "contract.json")).unwrap();
    assert_eq!(
        (contract["terms"]["delivery_days"].as_i64(), contract["amendments"].as_array().map(Vec::len)),
        (Some(7), Some(2))
    );
    assert_eq!(contract["amendments"][1]["terms"]["delivery_days"], 10);
    let request: Value = serde_json::from_slice(find(&files, "request.json")).unwrap();
    assert_eq!((request["description"].as_str(), request["desired_delivery_days"].as_i64()), (Some(text), Some(10)));
    let voice_path = request["files"][0].as_str().expect("the voice note's path").to_owned();
    assert!(!find(&files, &voice_path).is_empty(), "the voice note itself is in the packet");
    let page = String::from_utf8(find(&files, "index.html").to_vec()).unwrap();
    assert!(
        page.contains("درخواست اولیهٔ خریدار") && page.contains(text) && page.contains(&hashes[1]),
        "the page shows both"
    );
    let report = verify(&files, &deployment_key(&aws).await).expect("the packet verifies");
    assert_eq!((report.amendments, report.terms_in_force_hash.as_str()), (2, hashes[1].as_str()));
    // The manifest names the chain's head: a packet whose contract lost its last amendment
    // does not verify, even re-listed and re-sealed around the shorter contract.
    let mut listing = peyman_verify::read(Cursor::new(&bytes)).unwrap();
    let mut cut = contract.clone();
    cut["amendments"].as_array_mut().unwrap().pop();
    let cut = serde_json::to_vec(&cut).unwrap();
    let listed = (cut.len() as u64, packet::sha256_hex(&cut));
    listing.entries.insert("contract.json".into(), listed.clone());
    listing.documents.insert("contract.json".into(), cut);
    let mut manifest: packet::Manifest = serde_json::from_slice(&listing.documents["manifest.json"]).unwrap();
    let entry = manifest.files.iter_mut().find(|e| e.path == "contract.json").unwrap();
    (entry.size, entry.sha256) = listed;
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let mut seal: packet::Seal = serde_json::from_slice(&listing.documents["seal.json"]).unwrap();
    seal.manifest_sha256 = packet::sha256_hex(&manifest);
    let seal = packet::seal_bytes(&seal);
    for (name, bytes) in [("manifest.json", manifest), ("seal.json", seal)] {
        listing.entries.insert(name.into(), (bytes.len() as u64, packet::sha256_hex(&bytes)));
        listing.documents.insert(name.into(), bytes);
    }
    assert_eq!(packet::verify(&listing, |_, _| true).err(), Some(Break::AmendmentHead));
}
