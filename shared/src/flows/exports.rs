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
use crate::adapters::zip::{PacketZip, Written};
use crate::flows::tracked::events_as_of;
use crate::flows::{App, amendments, requests, until_not_raced};
use peyman_rules::caller::Caller;
use peyman_rules::case::{self, Case, file_problem, listed, withheld};
use peyman_rules::dispute::{self, Dispute};
use peyman_rules::error::{ApiError, Code};
use peyman_rules::export::{Built, Export, ExportStatus};
use peyman_rules::followup::{FollowUp, FollowUpKind};
use peyman_rules::lifecycle::{self, Actor, DISPUTE, DisputeAction};
use peyman_rules::message::Message;
use peyman_rules::offer::Offer;
use peyman_rules::order::Order;
use peyman_rules::packet::{self, Entry};
use peyman_rules::packet_page::{self, PacketFile, Sheet};
use peyman_rules::tracked::{Step, Tracked};
use peyman_rules::upload::Upload;

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
    until_not_raced(ApiError::conflict(Code::ConcurrentChange, "the dispute kept changing; retry"), attempt).await
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
    if e.problem_code() == Code::ConcurrentChange { Ok(()) } else { Err(e) }
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
    let request = requests::answered_by(app, offer.as_ref()).await?;
    // Each timeline as of the entity read, so its events end at the head it names.
    let mut timelines = Vec::new();
    if let Some(offer) = &offer {
        timelines.push(("offer".to_owned(), events_as_of(app, offer).await?));
    }
    timelines.push(("order".to_owned(), events_as_of(app, &order).await?));
    timelines.push(("dispute".to_owned(), events_as_of(app, &dispute).await?));
    // The messages are read page by page three times (their files here; messages.json and
    // the page as they are written), never held together.
    let (mut message_files, mut last_message_id) = (Vec::new(), None);
    let mut pages = MessagePages::new(&order, None);
    while let Some(page) = pages.next(app).await? {
        message_files.extend(page.iter().flat_map(case::message_file_ids).cloned());
        last_message_id = page.last().map(|m| m.message_id.clone());
    }
    let mut deliveries = app.store.all_deliveries(&order.order_id).await?;
    deliveries.sort_by_key(|d| d.delivered_at);
    let (payments, refunds) = app.store.order_payments(&order.order_id).await?;
    let ledger = app.store.order_ledger(&order.order_id).await?;
    let amendments = amendments::in_force(app, &order).await?;
    Ok(Case {
        statements: app.store.statements(dispute_id).await?,
        dispute,
        order,
        offer,
        request,
        deliveries,
        message_files,
        last_message_id,
        ledger,
        amendments,
        payments,
        refunds,
        timelines,
    })
}

/// Builds, seals and stores the packet of `export`; nothing is recorded here.
pub async fn assemble(app: &App, export: &Export, now: DateTime<Utc>) -> Result<Built, ApiError> {
    let sealer = app.sealer.as_ref().ok_or_else(|| ApiError::internal("EXPORT_SEAL_KEY_ID is not set"))?;
    let case = load(app, &export.dispute_id).await?;
    let named = case.named_files();
    let ids: Vec<&str> = named.iter().map(|(_, id)| id.as_str()).collect();
    let uploads: BTreeMap<String, Upload> =
        app.store.uploads(&ids).await?.into_iter().map(|u| (u.upload_id.clone(), u)).collect();
    let public_key = sealer.public_key().await?;

    let (pipe_in, pipe_out) = tokio::io::duplex(256 * 1024);
    // The packet's version is kept under Object Lock before anyone is told it is ready:
    // a retry of this job writes and locks again (same key, its own new version).
    let retain_until = now + app.config.export_retention;
    let upload = app.files.write_stream(&export.object_key, "application/zip", pipe_out, Some(retain_until));
    let write = async {
        let mut zip = PacketZip::new(pipe_in);
        let mut entries: Vec<Entry> = Vec::new();
        add(&mut zip, &mut entries, packet::CONTRACT, &json_bytes(&case.contract())?).await?;
        add(&mut zip, &mut entries, packet::TIMELINE, &json_bytes(&case.timeline_document())?).await?;

        // Every file, streamed from the version that was checked.
        let mut files: BTreeMap<String, PacketFile> = BTreeMap::new();
        for (folder, id) in &named {
            let upload = uploads.get(id);
            let path = packet::file_path(folder, id, &upload.map(Upload::served_name).unwrap_or_default());
            let (written, problem) = match upload {
                // Named without an upload record (never expected): listed, empty, not left out.
                None => (zip.bytes(&path, &[]).await?, Some(case::problem::NO_UPLOAD_RECORD)),
                // Refused or undecided by the checker: its bytes never ship.
                Some(u) if withheld(u).is_some() => (zip.bytes(&path, &[]).await?, withheld(u)),
                Some(u) => match app.files.read(&u.object_key, u.checked_version.as_deref()).await? {
                    None => (zip.bytes(&path, &[]).await?, file_problem(Some(u), None)),
                    Some(body) => {
                        let written = zip.stream(&path, body).await?;
                        let problem = file_problem(Some(u), Some(&written.sha256));
                        (written, problem)
                    }
                },
            };
            let (entry, file) = listed(id, upload, path, (written.size, written.sha256), problem);
            entries.push(entry);
            files.insert(id.clone(), file);
        }
        // A JSON array, a page of messages at a time.
        let mut entry = zip.entry("messages.json").await?;
        let (mut pages, mut first) =
            (MessagePages::new(&case.order, Some(case.last_message_id.as_deref().unwrap_or_default())), true);
        entry.write(b"[").await?;
        while let Some(page) = pages.next(app).await? {
            for m in &page {
                let separator: &[u8] = if first { b"\n" } else { b",\n" };
                first = false;
                entry.write(separator).await?;
                entry.write(&json_bytes(&case::message_document(m, &files))?).await?;
            }
        }
        entry.write(b"\n]").await?;
        let written = entry.close().await?;
        entries.push(document_entry("messages.json", written));
        add(&mut zip, &mut entries, "deliveries/index.json", &json_bytes(&case.deliveries_document(&files))?).await?;
        add(&mut zip, &mut entries, "payments.json", &json_bytes(&case.payments_document())?).await?;
        if let Some(request) = case.request_document(&files) {
            add(&mut zip, &mut entries, "request.json", &json_bytes(&request)?).await?;
        }
        let sheet = Sheet {
            packet_id: &export.export_id,
            built_at: now,
            dispute: &case.dispute,
            statements: &case.statements,
            order: &case.order,
            terms_hash_verified: case.contract().terms_hash_verified,
            timelines: &case.timelines,
            deliveries: &case.deliveries,
            payments: &case.payments,
            refunds: &case.refunds,
            ledger: &case.ledger,
            amendments: &case.amendments,
            request: case.request.as_ref(),
            files: &files,
        };
        // The page around its messages, which are written into it a page at a time.
        let page = packet_page::render(&sheet);
        let mut entry = zip.entry("index.html").await?;
        entry.write(page.head.as_bytes()).await?;
        let mut pages = MessagePages::new(&case.order, Some(case.last_message_id.as_deref().unwrap_or_default()));
        while let Some(messages) = pages.next(app).await? {
            let articles: String =
                messages.iter().map(|m| packet_page::message_article(m, &case.order, &files)).collect();
            entry.write(articles.as_bytes()).await?;
        }
        entry.write(page.tail.as_bytes()).await?;
        let written = entry.close().await?;
        entries.push(document_entry("index.html", written));
        add(&mut zip, &mut entries, packet::PUBLIC_KEY, packet::public_key_pem(&public_key).as_bytes()).await?;

        // The manifest lists everything above; the seal names it and is signed.
        let manifest = case.manifest(export, entries, now);
        let manifest_bytes = json_bytes(&manifest)?;
        let manifest_sha256 = packet::sha256_hex(&manifest_bytes);
        let seal_bytes = packet::seal_bytes(&case::seal(export, &manifest_sha256));
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

/// A document of the packet, listed in the manifest.
async fn add<W: tokio::io::AsyncWrite + Unpin>(
    zip: &mut PacketZip<W>,
    entries: &mut Vec<Entry>,
    path: &str,
    bytes: &[u8],
) -> Result<(), ApiError> {
    let written = zip.bytes(path, bytes).await?;
    entries.push(document_entry(path, written));
    Ok(())
}

/// The manifest's line for a document the builder wrote (not a party's file).
fn document_entry(path: &str, written: Written) -> Entry {
    Entry { path: path.to_owned(), size: written.size, sha256: written.sha256, problem: None, file_name: None }
}

/// How many messages the builder reads at a time: what it holds of a conversation.
const MESSAGES_PER_PAGE: i32 = 500;

/// The messages between an order's parties, read a page at a time in id order, up to
/// and including `until` when given (the last the packet holds; `""`: none at all).
struct MessagePages {
    buyer_id: String,
    seller_id: String,
    after: Option<String>,
    until: Option<String>,
    done: bool,
}

impl MessagePages {
    fn new(order: &Order, until: Option<&str>) -> Self {
        MessagePages {
            buyer_id: order.buyer_id.clone(),
            seller_id: order.seller_id.clone(),
            after: None,
            until: until.map(str::to_owned),
            done: false,
        }
    }

    /// The next page, or `None` after the last.
    async fn next(&mut self, app: &App) -> Result<Option<Vec<Message>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let (mut page, more) =
            app.store.messages_after(&self.buyer_id, &self.seller_id, self.after.as_deref(), MESSAGES_PER_PAGE).await?;
        self.after = page.last().map(|m| m.message_id.clone());
        if let Some(until) = &self.until {
            page.retain(|m| m.message_id <= *until);
        }
        let reached = self.until.is_some() && self.after.as_ref() >= self.until.as_ref();
        self.done = !more || page.is_empty() || reached;
        Ok((!page.is_empty()).then_some(page))
    }
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec_pretty(value).map_err(ApiError::internal)
}
