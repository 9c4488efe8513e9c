//! Dispute export packets. Support asks for one (`request`): the export record, the
//! request on the dispute's timeline and the job in the outbox, in one transaction. The
//! builder (`build`, fed by the exports queue) gathers the whole custom project, streams
//! every file from S3 into a ZIP that goes back to S3 as a multipart upload, seals the
//! manifest with the KMS key, and records the packet ready with the object version it
//! wrote; on its last attempt a failure marks the export failed and the job goes to the
//! DLQ. `status` hands support a short-lived link to that version, recorded on the
//! dispute's timeline like every build.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::adapters::dynamo::commit::Commit;
use crate::adapters::zip::PacketZip;
use crate::flows::tracked::events_as_of;
use crate::flows::{App, until_not_raced};
use peyman_rules::caller::Caller;
use peyman_rules::delivery::Delivery;
use peyman_rules::dispute::{self, Dispute};
use peyman_rules::error::ApiError;
use peyman_rules::export::{Built, Export, ExportStatus};
use peyman_rules::followup::{FollowUp, FollowUpKind};
use peyman_rules::lifecycle::{self, Actor, DISPUTE, DisputeAction};
use peyman_rules::message::Message;
use peyman_rules::offer::{Offer, OfferSource};
use peyman_rules::order::Order;
use peyman_rules::packet::{self, Contract, Entry, Manifest, Seal};
use peyman_rules::packet_page::{self, PacketFile, Sheet};
use peyman_rules::request::Request;
use peyman_rules::timeline::Event;
use peyman_rules::tracked::{Step, Tracked};
use peyman_rules::upload::{Upload, UploadKind};

/// Records an export's step on its dispute's timeline, with `also` in the same
/// transaction; a lost race on the dispute's version is tried again on the dispute as it
/// now is.
async fn on_dispute_timeline(
    app: &App,
    dispute_id: &str,
    action: DisputeAction,
    (actor, actor_id): (Actor, Option<&str>),
    data: Value,
    also: impl Fn(&mut Commit) -> Result<(), ApiError>,
    now: DateTime<Utc>,
) -> Result<Dispute, ApiError> {
    let attempt = || async {
        let mut dispute: Dispute =
            app.store.tracked(dispute_id).await?.ok_or(ApiError::NotFound { what: "dispute" })?;
        let t = lifecycle::step(DISPUTE, dispute.state, action, actor, &dispute.facts(now)).map_err(dispute::closed)?;
        let mut commit = app.store.begin();
        commit.record(&mut dispute, Step::of(t, actor, actor_id, data.clone()), now)?;
        also(&mut commit)?;
        app.commit(commit).await.map(|()| dispute)
    };
    until_not_raced(ApiError::conflict("concurrent_change", "the dispute kept changing; retry"), attempt).await
}

/// Support asks for a dispute's packet (open or resolved); it is built in the background.
pub async fn request(app: &App, caller: &Caller, dispute_id: &str, now: DateTime<Utc>) -> Result<Export, ApiError> {
    caller.require_support("exports disputes")?;
    let dispute: Dispute = app.store.tracked(dispute_id).await?.ok_or(ApiError::NotFound { what: "dispute" })?;
    let export = Export::queued(ulid::Ulid::new().to_string(), dispute_id, &dispute.order_id, &caller.user_id, now);
    let data = json!({ "export_id": export.export_id });
    let by = (Actor::Support, Some(caller.user_id.as_str()));
    let also = |commit: &mut Commit| {
        commit.new_export(&export)?;
        commit.followup(FollowUp::build_export(&export.export_id, now))
    };
    on_dispute_timeline(app, dispute_id, DisputeAction::RequestExport, by, data, also, now).await?;
    Ok(export)
}

/// An export's status for support; a ready one comes with a fresh download link to the
/// version the builder wrote, and the link handed out is recorded (who, until when).
pub async fn status(
    app: &App,
    caller: &Caller,
    export_id: &str,
    now: DateTime<Utc>,
) -> Result<(Export, Option<(String, DateTime<Utc>)>), ApiError> {
    caller.require_support("reads exports")?;
    let export = app.store.export(export_id).await?.ok_or(ApiError::NotFound { what: "export" })?;
    if export.status != ExportStatus::Ready {
        return Ok((export, None));
    }
    let name = format!("dispute-{}-{}.zip", export.dispute_id, export.export_id);
    let (url, expires_at) =
        app.files.download_link(&export.object_key, export.object_version.as_deref(), &name, now).await?;
    let data = json!({ "export_id": export.export_id, "link_expires_at": expires_at });
    let by = (Actor::Support, Some(caller.user_id.as_str()));
    on_dispute_timeline(app, &export.dispute_id, DisputeAction::HandOutExportLink, by, data, |_| Ok(()), now).await?;
    Ok((export, Some((url, expires_at))))
}

/// Applies one job from the exports queue. `receive_count` is SQS's count of deliveries
/// of this message: on the last one allowed (`EXPORT_ATTEMPTS`) a failure marks the
/// export failed before the message goes to the DLQ. A job for an export we do not have,
/// or one already finished, is left alone.
pub async fn build(app: &App, body: &str, receive_count: u32, now: DateTime<Utc>) -> Result<(), ApiError> {
    let followup: FollowUp =
        serde_json::from_str(body).map_err(|e| ApiError::internal(format!("not an export job: {e}")))?;
    let Some(export_id) =
        followup.subject.strip_prefix("export/").filter(|_| followup.kind == FollowUpKind::BuildExport)
    else {
        tracing::warn!(subject = followup.subject, "not an export job; left alone");
        return Ok(());
    };
    let Some(mut export) = app.store.export(export_id).await? else {
        tracing::warn!(export_id, "no such export; left alone");
        return Ok(());
    };
    if export.status != ExportStatus::Queued {
        return Ok(());
    }
    match assemble(app, &export, now).await {
        Ok(built) => {
            export.ready(&built, now);
            let data = json!({
                "export_id": export.export_id,
                "manifest_sha256": built.manifest_sha256,
                "size_bytes": built.size_bytes,
                "files": built.files,
                "files_with_problems": built.files_with_problems,
            });
            finish(app, &export, DisputeAction::RecordExport, data, now).await
        }
        Err(e) if receive_count >= app.config.export_attempts => {
            tracing::error!(export_id, error = %e, "export failed for the last time; marked failed");
            export.failed(&e.to_string(), now);
            let data = json!({ "export_id": export.export_id, "failure": export.failure });
            finish(app, &export, DisputeAction::FailExport, data, now).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Records the outcome (only from queued: a duplicate build that finished first wins, and
/// this one changes nothing).
async fn finish(
    app: &App,
    export: &Export,
    action: DisputeAction,
    data: Value,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let also = |commit: &mut Commit| commit.finished_export(export);
    let by = (Actor::System, None);
    match on_dispute_timeline(app, &export.dispute_id, action, by, data, also, now).await {
        Ok(_) => Ok(()),
        // The dispute is gone (never ours to build): the export alone says it failed.
        Err(ApiError::NotFound { .. }) => {
            let mut commit = app.store.begin();
            commit.finished_export(export)?;
            app.commit(commit).await.or_else(already_finished)
        }
        Err(e) => already_finished(e),
    }
}

fn already_finished(e: ApiError) -> Result<(), ApiError> {
    if e.code() == "concurrent_change" { Ok(()) } else { Err(e) }
}

/// Everything a packet holds, as loaded.
struct Case {
    dispute: Dispute,
    order: Order,
    offer: Option<Offer>,
    request: Option<Request>,
    statements: Vec<dispute::Statement>,
    deliveries: Vec<Delivery>,
    messages: Vec<Message>,
    payments: Vec<peyman_rules::payment::Payment>,
    refunds: Vec<peyman_rules::payment::Refund>,
    timelines: Vec<(String, Vec<Event>)>,
}

async fn load(app: &App, dispute_id: &str) -> Result<Case, ApiError> {
    let dispute: Dispute = app
        .store
        .tracked(dispute_id)
        .await?
        .ok_or_else(|| ApiError::internal("an export of a dispute that is not there"))?;
    let order: Order =
        app.store.tracked(&dispute.order_id).await?.ok_or_else(|| ApiError::internal("a dispute without its order"))?;
    let offer: Option<Offer> = app.store.tracked(&order.offer_id).await?;
    let request: Option<Request> = match offer.as_ref().map(|o| &o.source) {
        Some(OfferSource::RequestId(id)) => app.store.tracked(id).await?,
        _ => None,
    };
    // Each timeline as of the entity read, so its events end at the head it names.
    let mut timelines = Vec::new();
    if let Some(offer) = &offer {
        timelines.push(("offer".to_owned(), events_as_of(app, offer).await?));
    }
    timelines.push(("order".to_owned(), events_as_of(app, &order).await?));
    timelines.push(("dispute".to_owned(), events_as_of(app, &dispute).await?));
    let mut messages = app.store.all_messages(&order.buyer_id, &order.seller_id).await?;
    messages.sort_by(|a, b| a.sent_at.cmp(&b.sent_at).then_with(|| a.message_id.cmp(&b.message_id)));
    let mut deliveries = app.store.all_deliveries(&order.order_id).await?;
    deliveries.sort_by_key(|d| d.delivered_at);
    let (payments, refunds) = app.store.order_payments(&order.order_id).await?;
    Ok(Case {
        statements: app.store.statements(dispute_id).await?,
        dispute,
        order,
        offer,
        request,
        deliveries,
        messages,
        payments,
        refunds,
        timelines,
    })
}

/// Every file the case names, each with the folder it goes in: a delivery's files beside
/// it, everything else (request, messages, revision requests, the dispute, statements)
/// in `files/`.
fn named_files(case: &Case) -> Vec<(String, String)> {
    let mut named: Vec<(String, String)> = Vec::new();
    let mut add = |folder: &str, ids: &mut dyn Iterator<Item = &String>| {
        for id in ids {
            if !named.iter().any(|(_, known)| known == id) {
                named.push((folder.to_owned(), id.clone()));
            }
        }
    };
    for d in &case.deliveries {
        add(&format!("deliveries/{}-{}", d.stage, d.delivery_id), &mut d.attachment_upload_ids.iter());
    }
    if let Some(r) = &case.request {
        add("files", &mut r.attachment_upload_ids.iter().chain(&r.voice_note_upload_id));
    }
    for m in &case.messages {
        add("files", &mut m.attachment_upload_ids.iter().chain(&m.voice_note_upload_id));
    }
    let d = &case.dispute;
    add("files", &mut d.files.attachment_upload_ids.iter().chain(&d.files.voice_note_upload_id));
    for s in &case.statements {
        add("files", &mut s.files.attachment_upload_ids.iter().chain(&s.files.voice_note_upload_id));
    }
    // Files the timelines record (revision requests keep theirs only there).
    let recorded: Vec<String> = case
        .timelines
        .iter()
        .flat_map(|(_, events)| events)
        .flat_map(|e| e.data["files"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["upload_id"].as_str().map(str::to_owned))
        .collect();
    add("files", &mut recorded.iter());
    named
}

/// Builds, seals and stores the packet of `export`; nothing is recorded here.
pub async fn assemble(app: &App, export: &Export, now: DateTime<Utc>) -> Result<Built, ApiError> {
    let sealer = app.sealer.as_ref().ok_or_else(|| ApiError::internal("EXPORT_SEAL_KEY_ID is not set"))?;
    let case = load(app, &export.dispute_id).await?;
    let named = named_files(&case);
    let ids: Vec<&str> = named.iter().map(|(_, id)| id.as_str()).collect();
    let uploads: BTreeMap<String, Upload> =
        app.store.uploads(&ids).await?.into_iter().map(|u| (u.upload_id.clone(), u)).collect();
    let public_key = sealer.public_key().await?;

    let (pipe_in, pipe_out) = tokio::io::duplex(256 * 1024);
    let upload = app.files.write_stream(&export.object_key, "application/zip", pipe_out);
    let write = async {
        let mut zip = PacketZip::new(pipe_in);
        let mut entries: Vec<Entry> = Vec::new();
        let terms_hash_verified = case.order.terms.hash() == case.order.terms_hash;
        let contract = Contract {
            terms: case.order.terms.clone(),
            terms_hash: case.order.terms_hash.clone(),
            terms_hash_verified,
        };
        add(&mut zip, &mut entries, packet::CONTRACT, &json_bytes(&contract)?).await?;
        add(&mut zip, &mut entries, packet::TIMELINE, &json_bytes(&timeline_document(&case.timelines))?).await?;

        // Every file, streamed from the version that was checked.
        let mut files: BTreeMap<String, PacketFile> = BTreeMap::new();
        for (folder, id) in &named {
            // A file named without an upload record (never expected) is listed, empty, with
            // that problem rather than left out.
            let Some(upload) = uploads.get(id) else {
                let path = packet::file_path(folder, id, "");
                let written = zip.bytes(&path, &[]).await?;
                list(&mut entries, &mut files, id, None, path, written, "no_upload_record");
                continue;
            };
            let path = packet::file_path(folder, id, &upload.file_name);
            let (written, problem) = match app.files.read(&upload.object_key, upload.checked_version.as_deref()).await?
            {
                None => (zip.bytes(&path, &[]).await?, "missing_from_storage"),
                Some(body) => {
                    let written = zip.stream(&path, body).await?;
                    let differs = upload.sha256.as_deref().is_some_and(|recorded| recorded != written.sha256);
                    let problem = if differs {
                        "differs_from_recorded_hash"
                    } else if upload.checked_version.is_none() {
                        "not_checked"
                    } else {
                        ""
                    };
                    (written, problem)
                }
            };
            list(&mut entries, &mut files, id, Some(upload), path, written, problem);
        }
        let path_of = |id: &String| files.get(id).map(|f| f.path.clone());
        let messages = with_jalali_and_files(
            &case.messages,
            "sent_at",
            |m| m.sent_at,
            |m| m.attachment_upload_ids.iter().chain(&m.voice_note_upload_id).collect(),
            &path_of,
        );
        add(&mut zip, &mut entries, "messages.json", &json_bytes(&messages)?).await?;
        let deliveries = with_jalali_and_files(
            &case.deliveries,
            "delivered_at",
            |d| d.delivered_at,
            |d| d.attachment_upload_ids.iter().collect(),
            &path_of,
        );
        add(&mut zip, &mut entries, "deliveries/index.json", &json_bytes(&deliveries)?).await?;
        let payments = json!({
            "payments": case.payments.iter().map(|p| p.view(Some(Actor::Support))).collect::<Vec<_>>(),
            "refunds": case.refunds.iter().map(peyman_rules::payment::Refund::view).collect::<Vec<_>>(),
        });
        add(&mut zip, &mut entries, "payments.json", &json_bytes(&payments)?).await?;
        let sheet = Sheet {
            packet_id: &export.export_id,
            built_at: now,
            dispute: &case.dispute,
            statements: &case.statements,
            order: &case.order,
            terms_hash_verified,
            timelines: &case.timelines,
            messages: &case.messages,
            deliveries: &case.deliveries,
            payments: &case.payments,
            refunds: &case.refunds,
            files: &files,
        };
        add(&mut zip, &mut entries, "index.html", packet_page::render(&sheet).as_bytes()).await?;
        add(&mut zip, &mut entries, packet::PUBLIC_KEY, packet::public_key_pem(&public_key).as_bytes()).await?;

        // The manifest lists everything above; the seal names it and is signed.
        let heads: BTreeMap<String, String> = [
            case.offer.as_ref().map(|o| ("offer".to_owned(), o.head_hash.clone())),
            Some(("order".to_owned(), case.order.head_hash.clone())),
            Some(("dispute".to_owned(), case.dispute.head_hash.clone())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let manifest = Manifest {
            format: packet::FORMAT.into(),
            packet_id: export.export_id.clone(),
            dispute_id: export.dispute_id.clone(),
            order_id: export.order_id.clone(),
            built_at: now.to_rfc3339(),
            built_by: export.requested_by.clone(),
            terms_hash: case.order.terms_hash.clone(),
            heads,
            files: entries,
        };
        let manifest_bytes = json_bytes(&manifest)?;
        let manifest_sha256 = packet::sha256_hex(&manifest_bytes);
        let seal = Seal {
            format: packet::FORMAT.into(),
            packet_id: export.export_id.clone(),
            dispute_id: export.dispute_id.clone(),
            manifest_sha256: manifest_sha256.clone(),
        };
        let seal_bytes = packet::seal_bytes(&seal);
        let signature = sealer.sign(&seal_bytes).await?;
        zip.bytes(packet::MANIFEST, &manifest_bytes).await?;
        zip.bytes(packet::SEAL, &seal_bytes).await?;
        zip.bytes(packet::SIGNATURE, &signature).await?;
        zip.finish().await?;
        let problems = manifest.files.iter().filter(|e| e.problem.is_some()).count() as u32;
        Ok::<_, ApiError>((manifest_sha256, files.len(), problems))
    };
    // Both halves run together: the ZIP fills the pipe while the upload drains it in
    // parts. If writing fails, the upload is dropped unfinished (the bucket's lifecycle
    // rule aborts it), and the job is retried.
    let ((object_version, size_bytes), (manifest_sha256, files, files_with_problems)) =
        tokio::try_join!(upload, write)?;
    Ok(Built { object_version, size_bytes, manifest_sha256, files, files_with_problems })
}

/// A file of the packet, listed in the manifest and on the page; `problem` is empty when
/// there is none.
fn list(
    entries: &mut Vec<Entry>,
    files: &mut BTreeMap<String, PacketFile>,
    upload_id: &str,
    upload: Option<&Upload>,
    path: String,
    written: crate::adapters::zip::Written,
    problem: &str,
) {
    let problem = (!problem.is_empty()).then(|| problem.to_owned());
    entries.push(Entry {
        path: path.clone(),
        size: written.size,
        sha256: written.sha256.clone(),
        problem: problem.clone(),
    });
    files.insert(
        upload_id.to_owned(),
        PacketFile {
            upload_id: upload_id.to_owned(),
            file_name: upload.map_or(upload_id, |u| u.file_name.as_str()).to_owned(),
            content_type: upload.map_or("application/octet-stream", |u| u.content_type.as_str()).to_owned(),
            voice_note: upload.is_some_and(|u| u.kind == UploadKind::VoiceNote),
            path,
            size: written.size,
            sha256: written.sha256,
            problem,
        },
    );
}

/// A document of the packet, listed in the manifest.
async fn add<W: tokio::io::AsyncWrite + Unpin>(
    zip: &mut PacketZip<W>,
    entries: &mut Vec<Entry>,
    path: &str,
    bytes: &[u8],
) -> Result<(), ApiError> {
    let w = zip.bytes(path, bytes).await?;
    entries.push(Entry { path: path.to_owned(), size: w.size, sha256: w.sha256, problem: None });
    Ok(())
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec_pretty(value).map_err(ApiError::internal)
}

/// `timeline.json`: each timeline's events as stored (so their chain re-walks), each
/// also with its time in the Solar Hijri calendar.
fn timeline_document(timelines: &[(String, Vec<Event>)]) -> Value {
    let mut document = serde_json::Map::new();
    for (name, events) in timelines {
        let events: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["at_jalali"] = json!(packet_page::jalali(e.at));
                v
            })
            .collect();
        document.insert(name.clone(), Value::Array(events));
    }
    Value::Object(document)
}

/// Records as stored, each with its time in the Solar Hijri calendar beside it
/// (`{field}_jalali`) and the packet paths of the files it names.
fn with_jalali_and_files<T: serde::Serialize>(
    records: &[T],
    field: &str,
    at: impl Fn(&T) -> DateTime<Utc>,
    files: impl Fn(&T) -> Vec<&String>,
    path_of: &dyn Fn(&String) -> Option<String>,
) -> Value {
    records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v[format!("{field}_jalali")] = json!(packet_page::jalali(at(r)));
            v["files"] = files(r).into_iter().map(path_of).collect();
            v
        })
        .collect()
}
