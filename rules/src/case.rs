//! A dispute's case as its packet holds it: the whole custom project the builder loaded,
//! and what the packet makes of it, decided here without I/O: which files it names and
//! where each goes, what is wrong with a file as found in storage, the JSON documents,
//! the manifest's heads and the seal. The builder (`flows::exports`) loads the case,
//! streams the files and writes what this decides.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::amendment::Amendment;
use crate::delivery::Delivery;
use crate::dispute::{Dispute, Statement};
use crate::export::Export;
use crate::lifecycle::Actor;
use crate::message::Message;
use crate::offer::Offer;
use crate::order::Order;
use crate::packet::{self, Contract, Entry, Manifest, Seal};
use crate::packet_page::{self, PacketFile};
use crate::payment::{Payment, Refund};
use crate::request::Request;
use crate::timeline::Event;
use crate::upload::{Upload, UploadKind, UploadStatus};

/// Everything a packet holds, as loaded.
#[derive(Debug, Clone)]
pub struct Case {
    pub dispute: Dispute,
    pub order: Order,
    pub offer: Option<Offer>,
    /// The buyer's request the offer answered, if it answered one.
    pub request: Option<Request>,
    pub statements: Vec<Statement>,
    /// Oldest first.
    pub deliveries: Vec<Delivery>,
    /// The files the messages between the parties name, in the messages' order: the
    /// messages themselves are read page by page as the packet is written, never held.
    pub message_files: Vec<String>,
    /// The last message the packet holds (in id order): one sent while the packet is
    /// being written is left out of every document, so they all show the same messages.
    pub last_message_id: Option<String>,
    pub payments: Vec<Payment>,
    pub refunds: Vec<Refund>,
    /// The order's ledger entries, in the order they were made.
    pub ledger: Vec<crate::ledger::Entry>,
    /// The amendments that took effect, in the chain's order.
    pub amendments: Vec<Amendment>,
    /// Each timeline (`offer`, `order`, `dispute`) up to the head of the entity read.
    pub timelines: Vec<(String, Vec<Event>)>,
}

/// Why a file is in the packet other than whole and as checked.
pub mod problem {
    /// The case names an upload that has no record (never expected): listed empty.
    pub const NO_UPLOAD_RECORD: &str = "no_upload_record";
    /// The version the checker checked is gone from storage: listed empty.
    pub const MISSING_FROM_STORAGE: &str = "missing_from_storage";
    /// The bytes found differ from the SHA-256 recorded at the check: listed as found.
    pub const DIFFERS_FROM_RECORDED_HASH: &str = "differs_from_recorded_hash";
    /// The file was never checked (no version recorded): listed as found.
    pub const NOT_CHECKED: &str = "not_checked";
    /// The checker refused the file, or has not decided it: listed empty, its bytes never
    /// shipped.
    pub const NOT_ACCEPTED: &str = "not_accepted";
}

/// Why a named file's bytes must not go into the packet at all: the checker refused it or
/// never decided it (`NOT_ACCEPTED`). Such a file is listed, empty, with that problem.
pub fn withheld(upload: &Upload) -> Option<&'static str> {
    (upload.status != UploadStatus::Ready).then_some(problem::NOT_ACCEPTED)
}

/// What is wrong with a named file as storage gave it: `upload` its record, if any, and
/// `found` the SHA-256 of the bytes read from the checked version, if it was there.
pub fn file_problem(upload: Option<&Upload>, found: Option<&str>) -> Option<&'static str> {
    let upload = upload?;
    let Some(found) = found else { return Some(problem::MISSING_FROM_STORAGE) };
    if upload.sha256.as_deref().is_some_and(|recorded| recorded != found) {
        Some(problem::DIFFERS_FROM_RECORDED_HASH)
    } else if upload.checked_version.is_none() {
        Some(problem::NOT_CHECKED)
    } else {
        None
    }
}

/// A file of the packet as the manifest lists it and as the page shows it.
pub fn listed(
    upload_id: &str,
    upload: Option<&Upload>,
    path: String,
    (size, sha256): (u64, String),
    problem: Option<&str>,
) -> (Entry, PacketFile) {
    let problem = problem.map(str::to_owned);
    let file_name = upload.map(|u| u.file_name.clone());
    let entry = Entry { path: path.clone(), size, sha256: sha256.clone(), problem: problem.clone(), file_name };
    let file = PacketFile {
        upload_id: upload_id.to_owned(),
        file_name: upload.map_or(upload_id, |u| u.file_name.as_str()).to_owned(),
        content_type: upload.map_or("application/octet-stream", |u| u.content_type.as_str()).to_owned(),
        voice_note: upload.is_some_and(|u| u.kind == UploadKind::VoiceNote),
        path,
        size,
        sha256,
        problem,
    };
    (entry, file)
}

impl Case {
    /// Every file the case names, once each, with the folder it goes in: a delivery's
    /// files beside it (`deliveries/{stage}-{delivery_id}`), everything else (the request,
    /// messages, revision requests, the dispute, statements) in `files/`.
    pub fn named_files(&self) -> Vec<(String, String)> {
        let mut named: Vec<(String, String)> = Vec::new();
        let mut add = |folder: &str, ids: &mut dyn Iterator<Item = &String>| {
            for id in ids {
                if !named.iter().any(|(_, known)| known == id) {
                    named.push((folder.to_owned(), id.clone()));
                }
            }
        };
        for d in &self.deliveries {
            add(&format!("deliveries/{}-{}", d.stage, d.delivery_id), &mut d.attachment_upload_ids.iter());
        }
        if let Some(r) = &self.request {
            add("files", &mut r.attachment_upload_ids.iter().chain(&r.voice_note_upload_id));
        }
        add("files", &mut self.message_files.iter());
        let d = &self.dispute;
        add("files", &mut d.files.attachment_upload_ids.iter().chain(&d.files.voice_note_upload_id));
        for s in &self.statements {
            add("files", &mut s.files.attachment_upload_ids.iter().chain(&s.files.voice_note_upload_id));
        }
        // Files the timelines record (revision requests keep theirs only there).
        let recorded: Vec<String> = self
            .timelines
            .iter()
            .flat_map(|(_, events)| events)
            .flat_map(|e| e.data["files"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f["upload_id"].as_str().map(str::to_owned))
            .collect();
        add("files", &mut recorded.iter());
        named
    }

    /// `contract.json`: the terms as accepted, their hash, whether it still matches, and
    /// the amendments that took effect, each with its terms and hashes.
    pub fn contract(&self) -> Contract {
        Contract {
            terms: self.order.terms.clone(),
            terms_hash: self.order.terms_hash.clone(),
            terms_hash_verified: self.order.terms.hash() == self.order.terms_hash,
            amendments: self.amendments.clone(),
        }
    }

    /// `request.json`: the buyer's request the offer answered (text, desired price and
    /// time), with its Jalali time and its files' paths; none for an offer sent from a
    /// message (`messages.json` holds that).
    pub fn request_document(&self, files: &BTreeMap<String, PacketFile>) -> Option<Value> {
        let r = self.request.as_ref()?;
        let named: Vec<&String> = r.attachment_upload_ids.iter().chain(&r.voice_note_upload_id).collect();
        Some(with_jalali_and_paths(r, "created_at", r.created_at, &named, files))
    }

    /// `timeline.json`: each timeline's events as stored (so their chain re-walks), each
    /// also with its time in the Solar Hijri calendar.
    pub fn timeline_document(&self) -> Value {
        let mut document = serde_json::Map::new();
        for (name, events) in &self.timelines {
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

    /// `deliveries/index.json`: the deliveries, each with its Jalali time and its files' paths.
    pub fn deliveries_document(&self, files: &BTreeMap<String, PacketFile>) -> Value {
        fn named(d: &Delivery) -> Vec<&String> {
            d.attachment_upload_ids.iter().collect()
        }
        with_jalali_and_files(&self.deliveries, "delivered_at", |d| d.delivered_at, named, files)
    }

    /// `payments.json`: the payments and refunds as support sees them, the order's
    /// escrow, and its ledger (every movement of its money, each naming the timeline
    /// event that caused it).
    pub fn payments_document(&self) -> Value {
        json!({
            "payments": self.payments.iter().map(|p| p.view(Some(Actor::Support))).collect::<Vec<_>>(),
            "refunds": self.refunds.iter().map(Refund::view).collect::<Vec<_>>(),
            "escrow": self.order.escrow,
            "ledger": self.ledger,
        })
    }

    /// The manifest of the packet `export` built at `now` from this case: every entry
    /// written, the terms hash, and each timeline's head as the entity read names it.
    pub fn manifest(&self, export: &Export, files: Vec<Entry>, now: DateTime<Utc>) -> Manifest {
        let heads: BTreeMap<String, String> = [
            self.offer.as_ref().map(|o| ("offer".to_owned(), o.head_hash.clone())),
            Some(("order".to_owned(), self.order.head_hash.clone())),
            Some(("dispute".to_owned(), self.dispute.head_hash.clone())),
        ]
        .into_iter()
        .flatten()
        .collect();
        Manifest {
            format: packet::FORMAT.into(),
            packet_id: export.export_id.clone(),
            dispute_id: export.dispute_id.clone(),
            order_id: export.order_id.clone(),
            built_at: now.to_rfc3339(),
            built_by: export.requested_by.clone(),
            terms_hash: self.order.terms_hash.clone(),
            terms_in_force_hash: self.order.amended.as_ref().map(|a| a.hash.clone()),
            heads,
            files,
        }
    }
}

/// What is signed for `export`: the packet and its manifest's SHA-256.
pub fn seal(export: &Export, manifest_sha256: &str) -> Seal {
    Seal {
        format: packet::FORMAT.into(),
        packet_id: export.export_id.clone(),
        dispute_id: export.dispute_id.clone(),
        manifest_sha256: manifest_sha256.to_owned(),
    }
}

/// Records as stored, each with its time in the Solar Hijri calendar beside it
/// (`{field}_jalali`) and the packet paths of the files it names.
fn with_jalali_and_files<T: serde::Serialize>(
    records: &[T],
    field: &str,
    at: impl Fn(&T) -> DateTime<Utc>,
    named: impl Fn(&T) -> Vec<&String>,
    files: &BTreeMap<String, PacketFile>,
) -> Value {
    records.iter().map(|r| with_jalali_and_paths(r, field, at(r), &named(r), files)).collect()
}

/// A record as a packet document lists it: with its time `at` in the Solar Hijri calendar
/// (`{field}_jalali`) and the packet path of each file it names (`files`).
fn with_jalali_and_paths<T: serde::Serialize>(
    record: &T,
    field: &str,
    at: DateTime<Utc>,
    named: &[&String],
    files: &BTreeMap<String, PacketFile>,
) -> Value {
    let mut v = serde_json::to_value(record).unwrap_or_default();
    v[format!("{field}_jalali")] = json!(packet_page::jalali(at));
    v["files"] = named.iter().map(|id| files.get(*id).map(|f| f.path.clone())).collect();
    v
}

/// The files a message names, attachments first.
pub fn message_file_ids(m: &Message) -> impl Iterator<Item = &String> {
    m.attachment_upload_ids.iter().chain(&m.voice_note_upload_id)
}

/// One message of `messages.json`, the array the builder writes a page at a time: the
/// message with its Jalali time and its files' paths.
pub fn message_document(m: &Message, files: &BTreeMap<String, PacketFile>) -> Value {
    with_jalali_and_paths(m, "sent_at", m.sent_at, &message_file_ids(m).collect::<Vec<_>>(), files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispute::Files;
    use crate::upload::UploadStatus;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn files(attachments: &[&str], voice: Option<&str>) -> Files {
        Files { attachment_upload_ids: ids(attachments), voice_note_upload_id: voice.map(str::to_owned) }
    }

    /// The one message of [`case`]: two attachments (one a delivery's too) and a voice note.
    fn the_message(order: &Order) -> Message {
        Message {
            message_id: "m1".into(),
            sender_id: order.buyer_id.clone(),
            recipient_id: order.seller_id.clone(),
            text: Some("سلام".into()),
            attachment_upload_ids: ids(&["m1a", "a1"]),
            voice_note_upload_id: Some("v1".into()),
            order_id: None,
            sent_at: at(1),
        }
    }

    fn case() -> Case {
        let order = crate::order::example(at(0));
        let dispute: Dispute = serde_json::from_value(json!({
            "dispute_id": "01D", "order_id": order.order_id, "offer_id": order.offer_id,
            "buyer_id": order.buyer_id, "seller_id": order.seller_id, "opened_by": "buyer", "opener_id": order.buyer_id,
            "reason": "not_as_agreed", "description": "بند ۲", "files": files(&["d1"], Some("v1")),
            "order_state": "delivered", "state": "open", "resolution": null,
            "created_at": at(50), "updated_at": at(50), "version": 2, "head_hash": "dispute-head",
        }))
        .expect("a dispute");
        let delivery = |id: &str, stage: u32, attachments: &[&str], secs| Delivery {
            delivery_id: id.into(),
            order_id: order.order_id.clone(),
            seller_id: order.seller_id.clone(),
            stage,
            message: None,
            attachment_upload_ids: ids(attachments),
            delivered_at: at(secs),
        };
        let revision: Event = serde_json::from_value(json!({
            "subject": format!("order/{}", order.order_id), "seq": 5, "at": at(30), "actor": "buyer",
            "actor_id": order.buyer_id, "event": "revision_requested", "from_state": "delivered",
            "to_state": "in_progress", "data": { "files": [{ "upload_id": "r1" }, { "upload_id": "a1" }] },
            "prev_hash": "p", "hash": "h",
        }))
        .expect("an event");
        Case {
            statements: vec![Statement {
                statement_id: "s".into(),
                dispute_id: "01D".into(),
                by: Actor::Seller,
                author_id: order.seller_id.clone(),
                text: "طبق بند ۲".into(),
                files: files(&["s1", "d1"], None),
                to: None,
                answers: None,
                created_at: at(60),
            }],
            deliveries: vec![delivery("01A", 1, &["a1", "a2"], 10), delivery("01B", 2, &["b1"], 40)],
            message_files: message_file_ids(&the_message(&order)).cloned().collect(),
            last_message_id: Some("m1".into()),
            timelines: vec![("order".into(), vec![revision])],
            dispute,
            order,
            offer: None,
            request: None,
            amendments: Vec::new(),
            payments: vec![],
            ledger: vec![],
            refunds: vec![],
        }
    }

    #[test]
    fn every_file_the_case_names_is_listed_once_beside_what_names_it_first() {
        let named = case().named_files();
        let expected = [
            ("deliveries/1-01A", "a1"),
            ("deliveries/1-01A", "a2"),
            ("deliveries/2-01B", "b1"),
            ("files", "m1a"),
            ("files", "v1"),
            ("files", "d1"),
            ("files", "s1"),
            ("files", "r1"),
        ];
        let named: Vec<(&str, &str)> = named.iter().map(|(f, id)| (f.as_str(), id.as_str())).collect();
        assert_eq!(named, expected, "a delivery's files beside it; a revision's only from the timeline; none twice");
    }

    #[test]
    fn a_file_as_storage_gave_it_has_its_problem_named() {
        let upload: Upload = serde_json::from_value(json!({
            "upload_id": "a1", "owner_id": "s", "kind": "voice_note", "file_name": "پیام.ogg",
            "content_type": "audio/ogg", "size_bytes": 10, "object_key": "uploads/s/a1", "status": "ready",
            "rejection": null, "checked_version": "v7", "sha256": "aa", "created_at": at(0), "checked_at": at(1),
        }))
        .expect("an upload");
        assert_eq!(upload.status, UploadStatus::Ready);
        assert_eq!(file_problem(Some(&upload), Some("aa")), None);
        assert_eq!(file_problem(Some(&upload), Some("bb")), Some(problem::DIFFERS_FROM_RECORDED_HASH));
        assert_eq!(file_problem(Some(&upload), None), Some(problem::MISSING_FROM_STORAGE));
        let unchecked = Upload { checked_version: None, sha256: None, ..upload.clone() };
        assert_eq!(file_problem(Some(&unchecked), Some("aa")), Some(problem::NOT_CHECKED));
        assert_eq!(file_problem(None, None), None, "a missing record is the caller's to name");
        assert_eq!(withheld(&upload), None);
        for status in [UploadStatus::Pending, UploadStatus::Rejected] {
            assert_eq!(withheld(&Upload { status, ..upload.clone() }), Some(problem::NOT_ACCEPTED));
        }

        let (entry, file) = listed("a1", Some(&upload), "files/a1-پیام.ogg".into(), (10, "aa".into()), None);
        assert_eq!((entry.path.as_str(), entry.size, entry.problem), ("files/a1-پیام.ogg", 10, None));
        assert!(file.voice_note && file.file_name == "پیام.ogg" && file.content_type == "audio/ogg");
        let (entry, file) = listed("zz", None, "files/zz".into(), (0, "e3b0".into()), Some(problem::NO_UPLOAD_RECORD));
        assert_eq!(entry.problem.as_deref(), Some("no_upload_record"));
        assert_eq!((file.file_name.as_str(), file.content_type.as_str()), ("zz", "application/octet-stream"));
    }

    #[test]
    fn the_documents_carry_jalali_times_and_file_paths() {
        let case = case();
        let timeline = case.timeline_document();
        assert_eq!(timeline["order"][0]["event"], "revision_requested");
        assert!(timeline["order"][0]["at_jalali"].as_str().is_some_and(|s| s.starts_with('۱')));
        let (_, file) = listed("m1a", None, "files/m1a-x.png".into(), (1, "f".into()), None);
        let files = BTreeMap::from([("m1a".to_owned(), file)]);
        let message = message_document(&the_message(&case.order), &files);
        assert_eq!(message["files"], json!(["files/m1a-x.png", null, null]), "one path per named file, in order");
        assert!(message["sent_at_jalali"].is_string());
        assert!(case.deliveries_document(&files)[1]["delivered_at_jalali"].is_string());
        assert!(case.contract().terms_hash_verified);
    }

    #[test]
    fn the_manifest_names_each_timelines_head_and_the_seal_names_the_manifest() {
        let mut case = case();
        let export = Export::queued("01X".into(), "01D", &case.order.order_id, "support-1", at(70));
        let manifest = case.manifest(&export, vec![], at(80));
        assert_eq!(manifest.heads.keys().collect::<Vec<_>>(), ["dispute", "order"], "no offer read, no offer head");
        assert_eq!(manifest.heads["dispute"], "dispute-head");
        assert_eq!(
            (manifest.built_by.as_str(), manifest.terms_hash.as_str()),
            ("support-1", case.order.terms_hash.as_str())
        );
        case.order.terms.title.push('!');
        assert!(!case.contract().terms_hash_verified, "edited terms no longer match their hash");
        let seal = seal(&export, "abc");
        assert_eq!((seal.packet_id.as_str(), seal.manifest_sha256.as_str()), ("01X", "abc"));
    }
}
