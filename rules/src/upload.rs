//! Uploads: what may be declared before a presigned upload, and the verdict on what was
//! really stored. S3 (and moto far more so) may hold anything, so every object is
//! judged again by its real size and its magic bytes before anyone can use it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::caller::Caller;
use crate::error::{ApiError, Code};
pub use crate::lifecycle::UploadStatus;
use crate::lifecycle::{self, Actor, Facts, UPLOAD, UploadAction};
use crate::policy::Policy;
use crate::validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadKind {
    Attachment,
    VoiceNote,
}

/// `POST /v1/uploads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadDeclaration {
    pub kind: UploadKind,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub upload_id: String,
    pub owner_id: String,
    pub kind: UploadKind,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub object_key: String,
    pub status: UploadStatus,
    /// Why the checker refused the object (a stable code).
    pub rejection: Option<String>,
    /// The object version that was checked; downloads are pinned to it so a later
    /// overwrite through a still-valid upload link is never served.
    pub checked_version: Option<String>,
    /// The SHA-256 (hex) of the checked version: what deliveries and revision requests
    /// record on the order's timeline, so a file can be proven the one exchanged.
    #[serde(default)]
    pub sha256: Option<String>,
    pub created_at: DateTime<Utc>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// Declared types we accept, per kind, and the types the magic bytes may reveal for each.
/// `None` as the only revealed type means "no signature": plain text.
const VOICE_TYPES: &[(&str, &str, &[&str])] = &[
    ("audio/ogg", "ogg", &["audio/ogg", "audio/opus"]),
    ("audio/opus", "opus", &["audio/ogg", "audio/opus"]),
    ("audio/webm", "webm", &["video/webm"]),
    ("audio/mpeg", "mp3", &["audio/mpeg"]),
    ("audio/mp4", "m4a", &["audio/m4a", "video/mp4"]),
    ("audio/x-m4a", "m4a", &["audio/m4a", "video/mp4"]),
    ("audio/wav", "wav", &["audio/x-wav"]),
    ("audio/x-wav", "wav", &["audio/x-wav"]),
];

const ATTACHMENT_TYPES: &[(&str, &str, &[&str])] = &[
    ("image/jpeg", "jpg", &["image/jpeg"]),
    ("image/png", "png", &["image/png"]),
    ("image/gif", "gif", &["image/gif"]),
    ("image/webp", "webp", &["image/webp"]),
    ("application/pdf", "pdf", &["application/pdf"]),
    ("application/zip", "zip", &["application/zip"]),
    ("video/mp4", "mp4", &["video/mp4"]),
    // Office files are ZIP containers; the signature may reveal either.
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
        &["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        &["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
        &["application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/zip"],
    ),
    ("text/plain", "txt", &[]),
];

type AcceptedType = (&'static str, &'static str, &'static [&'static str]);

fn accepted_types(kind: UploadKind) -> impl Iterator<Item = &'static AcceptedType> {
    let attachments: &[_] = if kind == UploadKind::Attachment { ATTACHMENT_TYPES } else { &[] };
    VOICE_TYPES.iter().chain(attachments.iter())
}

/// The file extension of an accepted type (`None` for a type we never accept).
pub fn extension(content_type: &str) -> Option<&'static str> {
    VOICE_TYPES.iter().chain(ATTACHMENT_TYPES).find(|(t, _, _)| *t == content_type).map(|(_, ext, _)| *ext)
}

/// `file_name` with the extension of `content_type` in place of its own: a file declared
/// and verified as a PDF but named `report.exe` is handed out as `report.pdf`, so what a
/// person opens is what the checker judged. A last dot followed by 1 to 8 letters or
/// digits is taken as the name's own extension.
pub fn with_verified_extension(file_name: &str, content_type: &str) -> String {
    let Some(ext) = extension(content_type) else { return file_name.to_owned() };
    let stem = match file_name.rsplit_once('.') {
        Some((stem, own))
            if !stem.is_empty() && (1..=8).contains(&own.len()) && own.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            stem
        }
        _ => file_name,
    };
    format!("{stem}.{ext}")
}

impl UploadDeclaration {
    pub fn check(&self, policy: &Policy) -> Result<(), ApiError> {
        validate::line("file_name", &self.file_name, policy.file_name_max)?;
        if self.file_name.contains(['/', '\\']) {
            return Err(ApiError::invalid(Code::InvalidFileName, "file_name", "file_name must not contain a path"));
        }
        if !accepted_types(self.kind).any(|(t, _, _)| *t == self.content_type) {
            return Err(ApiError::invalid(
                Code::UnsupportedContentType,
                "content_type",
                format!("{} is not accepted for this kind of upload", self.content_type),
            ));
        }
        if self.size_bytes == 0 {
            return Err(ApiError::invalid(Code::EmptyFile, "size_bytes", "size_bytes must be at least 1"));
        }
        let max = self.kind.max_bytes(policy);
        if self.size_bytes > max {
            return Err(ApiError::invalid(
                Code::FileTooLarge,
                "size_bytes",
                format!("at most {max} bytes for this kind"),
            ));
        }
        Ok(())
    }
}

impl UploadKind {
    pub fn max_bytes(self, policy: &Policy) -> u64 {
        match self {
            UploadKind::Attachment => policy.files.attachment_max_bytes,
            UploadKind::VoiceNote => policy.files.voice_note_max_bytes,
        }
    }
}

/// The checker's verdict on a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// A stable reason code.
    Rejected(&'static str),
}

/// How many leading bytes the checker reads to judge an object.
pub const SNIFF_BYTES: u64 = 64 * 1024;

impl Upload {
    /// The name the file is handed out under (a download's, a packet's): its owner's
    /// name with the extension of its verified type ([`with_verified_extension`]).
    pub fn served_name(&self) -> String {
        with_verified_extension(&self.file_name, &self.content_type)
    }

    /// A declared upload of `owner_id`, whose object will be at `object_key`, pending
    /// its check.
    pub fn declare(
        declared: UploadDeclaration,
        upload_id: String,
        owner_id: &str,
        object_key: String,
        now: DateTime<Utc>,
    ) -> Upload {
        Upload {
            upload_id,
            owner_id: owner_id.to_owned(),
            kind: declared.kind,
            file_name: declared.file_name,
            content_type: declared.content_type,
            size_bytes: declared.size_bytes,
            object_key,
            status: lifecycle::UploadStatus::Pending,
            rejection: None,
            checked_version: None,
            sha256: None,
            created_at: now,
            checked_at: None,
        }
    }

    /// Whether `caller` may see it: its owner, support, or someone it was sent to
    /// (`shared_with_caller`).
    pub fn visible_to(&self, caller: &Caller, shared_with_caller: bool) -> bool {
        self.owner_id == caller.user_id || caller.is_support || shared_with_caller
    }

    /// Records the checker's verdict on object `version` (whose content hashes to
    /// `sha256`) through the [`UPLOAD`] table: only a pending upload moves. `false` when it
    /// was decided already.
    pub fn decide(
        &mut self,
        verdict: &Verdict,
        version: Option<String>,
        sha256: Option<String>,
        now: DateTime<Utc>,
    ) -> bool {
        let (action, rejection) = match verdict {
            Verdict::Ready => (UploadAction::Accept, None),
            Verdict::Rejected(code) => (UploadAction::Reject, Some((*code).to_owned())),
        };
        match lifecycle::step(UPLOAD, self.status, action, Actor::System, &Facts::at(now)) {
            Ok(t) => {
                self.status = t.to;
                self.rejection = rejection;
                self.checked_version = version;
                self.sha256 = sha256;
                self.checked_at = Some(now);
                true
            }
            Err(_) => false,
        }
    }

    /// Judges an object by its real size and its first bytes (at most [`SNIFF_BYTES`]).
    pub fn judge(&self, policy: &Policy, real_size: u64, head: &[u8]) -> Verdict {
        if real_size > self.kind.max_bytes(policy) {
            return Verdict::Rejected("file_too_large");
        }
        if real_size != self.size_bytes {
            return Verdict::Rejected("size_mismatch");
        }
        let Some((_, _, revealed)) = accepted_types(self.kind).find(|(t, _, _)| *t == self.content_type) else {
            return Verdict::Rejected("unsupported_content_type");
        };
        let detected = infer::get(head).map(|t| t.mime_type());
        let type_ok = match detected {
            Some(mime) => revealed.contains(&mime),
            None => revealed.is_empty() && is_plain_text(head),
        };
        if !type_ok {
            return Verdict::Rejected(if self.kind == UploadKind::VoiceNote {
                "not_allowed_audio"
            } else {
                "content_type_mismatch"
            });
        }
        if self.kind == UploadKind::VoiceNote
            && let Some(seconds) = wav_seconds(head, real_size)
            && seconds > u64::from(policy.files.voice_note_max_seconds)
        {
            return Verdict::Rejected("voice_note_too_long");
        }
        Verdict::Ready
    }

    /// Who may see the file: its owner, support, and the people it was sent to.
    pub fn view(&self, download: Option<(String, DateTime<Utc>)>) -> Value {
        let (url, expires) = download.unzip();
        json!({
            "upload_id": self.upload_id,
            "kind": self.kind,
            "file_name": self.file_name,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "status": self.status,
            "rejection": self.rejection,
            "created_at": self.created_at,
            "checked_at": self.checked_at,
            "download_url": url,
            "download_expires_at": expires,
        })
    }
}

/// The shape of the files a delivery, a revision request or a dispute names: ids, at most
/// the message limit, none twice.
pub fn check_ids(ids: &[String], policy: &Policy) -> Result<(), ApiError> {
    if ids.len() > policy.message_attachments_max {
        return Err(ApiError::invalid(
            Code::TooManyAttachments,
            "attachment_upload_ids",
            format!("at most {} files", policy.message_attachments_max),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        let field = format!("attachment_upload_ids[{i}]");
        validate::ulid(&field, id)?;
        if ids[..i].contains(id) {
            return Err(ApiError::invalid(Code::DuplicateAttachment, field, "a file is named twice"));
        }
    }
    Ok(())
}

/// What a timeline event records of the files it names, in their order: each file's id,
/// name, size and the SHA-256 of its checked content, so the record proves which bytes
/// were exchanged. `uploads` holds the loaded records (a missing one records its id only).
pub fn recorded(ids: &[String], uploads: &[Upload]) -> Value {
    let files: Vec<Value> = ids
        .iter()
        .map(|id| match uploads.iter().find(|u| &u.upload_id == id) {
            Some(u) => json!({
                "upload_id": u.upload_id,
                "file_name": u.file_name,
                "size_bytes": u.size_bytes,
                "sha256": u.sha256,
            }),
            None => json!({ "upload_id": id }),
        })
        .collect();
    Value::Array(files)
}

/// Checks the files a message or request names: each must be the sender's own upload
/// of the right kind and not rejected; `require_ready` also refuses pending ones.
/// Someone else's upload looks exactly like a missing one.
pub fn check_references(
    uploads: &[Upload],
    owner_id: &str,
    attachments: &[String],
    voice_note: Option<&String>,
    require_ready: bool,
) -> Result<(), ApiError> {
    let attachments = attachments
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("attachment_upload_ids[{i}]"), id, UploadKind::Attachment));
    let voice = voice_note.map(|id| ("voice_note_upload_id".to_owned(), id, UploadKind::VoiceNote));
    for (field, id, kind) in attachments.chain(voice) {
        let upload = uploads
            .iter()
            .find(|u| &u.upload_id == id && u.owner_id == owner_id)
            .ok_or_else(|| ApiError::invalid(Code::UploadNotFound, field.clone(), "no such upload of yours"))?;
        if upload.kind != kind {
            return Err(ApiError::invalid(Code::WrongUploadKind, field, "this upload is of another kind"));
        }
        match upload.status {
            UploadStatus::Rejected => {
                return Err(ApiError::invalid(
                    Code::UploadRejected,
                    field,
                    "this upload was rejected by the file check",
                ));
            }
            UploadStatus::Pending if require_ready => {
                return Err(ApiError::invalid(
                    Code::UploadNotReady,
                    field,
                    "this upload has not passed the file check yet",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// UTF-8 text without NULs; a character cut at the end of the sniffed bytes is fine.
fn is_plain_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && !head.contains(&0)
}

/// A WAV file's duration from its header (byte rate at offset 28). Other formats need a
/// demuxer to know their length; for them the size cap is the bound (see README).
fn wav_seconds(head: &[u8], real_size: u64) -> Option<u64> {
    if head.len() < 44 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let byte_rate = u32::from_le_bytes(head[28..32].try_into().ok()?);
    (byte_rate > 0).then(|| real_size.saturating_sub(44) / u64::from(byte_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const OGG: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01\x01";

    fn upload(kind: UploadKind, content_type: &str, size: u64) -> Upload {
        Upload {
            upload_id: "u".into(),
            owner_id: "o".into(),
            kind,
            file_name: "f".into(),
            content_type: content_type.into(),
            size_bytes: size,
            object_key: "k".into(),
            status: UploadStatus::Pending,
            rejection: None,
            checked_version: None,
            sha256: None,
            created_at: Utc::now(),
            checked_at: None,
        }
    }

    #[test]
    fn the_checker_decides_an_upload_once() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut pending = upload(UploadKind::Attachment, "image/png", 10);
        assert!(pending.decide(&Verdict::Rejected("size_mismatch"), Some("v1".into()), None, now));
        assert_eq!(pending.status, UploadStatus::Rejected);
        assert_eq!(pending.rejection.as_deref(), Some("size_mismatch"));
        assert_eq!((pending.checked_version.as_deref(), pending.checked_at), (Some("v1"), Some(now)));
        // A redelivered notification finds it decided: nothing changes.
        assert!(!pending.decide(&Verdict::Ready, Some("v2".into()), None, now));
        assert_eq!((pending.status, pending.checked_version.as_deref()), (UploadStatus::Rejected, Some("v1")));
        let mut ready = upload(UploadKind::Attachment, "image/png", 10);
        assert!(ready.decide(&Verdict::Ready, None, Some("ab".into()), now));
        assert_eq!((ready.status, ready.rejection.as_deref()), (UploadStatus::Ready, None));
    }

    fn wav(byte_rate: u32) -> Vec<u8> {
        let mut h = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        h.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0]);
        h.extend_from_slice(&8000u32.to_le_bytes());
        h.extend_from_slice(&byte_rate.to_le_bytes());
        h.extend_from_slice(&[1, 0, 8, 0]);
        h.extend_from_slice(b"data\0\0\0\0");
        h
    }

    #[test]
    fn real_type_must_match_the_declared_one() {
        let p = Policy::default();
        assert_eq!(upload(UploadKind::Attachment, "image/png", 100).judge(&p, 100, PNG), Verdict::Ready);
        assert_eq!(
            upload(UploadKind::Attachment, "application/pdf", 100).judge(&p, 100, PNG),
            Verdict::Rejected("content_type_mismatch")
        );
    }

    #[test]
    fn size_is_checked_against_the_limit_and_the_declaration() {
        let p = Policy::default();
        let too_big = p.files.voice_note_max_bytes + 1;
        assert_eq!(
            upload(UploadKind::VoiceNote, "audio/ogg", 10).judge(&p, too_big, OGG),
            Verdict::Rejected("file_too_large")
        );
        assert_eq!(
            upload(UploadKind::VoiceNote, "audio/ogg", 10).judge(&p, 11, OGG),
            Verdict::Rejected("size_mismatch")
        );
        assert_eq!(upload(UploadKind::VoiceNote, "audio/ogg", 10).judge(&p, 10, OGG), Verdict::Ready);
    }

    #[test]
    fn a_voice_note_must_be_allowed_audio() {
        let p = Policy::default();
        assert_eq!(
            upload(UploadKind::VoiceNote, "audio/ogg", 30).judge(&p, 30, PNG),
            Verdict::Rejected("not_allowed_audio")
        );
    }

    #[test]
    fn a_long_wav_voice_note_is_refused() {
        let p = Policy::default();
        // 8000 bytes a second: 301 seconds of audio after the 44-byte header.
        let size = 44 + 8000 * 301;
        assert_eq!(
            upload(UploadKind::VoiceNote, "audio/wav", size).judge(&p, size, &wav(8000)),
            Verdict::Rejected("voice_note_too_long")
        );
        let size = 44 + 8000 * 299;
        assert_eq!(upload(UploadKind::VoiceNote, "audio/wav", size).judge(&p, size, &wav(8000)), Verdict::Ready);
    }

    #[test]
    fn plain_text_has_no_signature_but_must_be_text() {
        let p = Policy::default();
        let text = "سلام دنیا".as_bytes();
        let n = text.len() as u64;
        assert_eq!(upload(UploadKind::Attachment, "text/plain", n).judge(&p, n, text), Verdict::Ready);
        assert_eq!(
            upload(UploadKind::Attachment, "text/plain", 4).judge(&p, 4, b"a\0b\xff"),
            Verdict::Rejected("content_type_mismatch")
        );
        // A multi-byte character cut by the sniff window is still text.
        assert_eq!(upload(UploadKind::Attachment, "text/plain", 100).judge(&p, 100, &text[..3]), Verdict::Ready);
    }

    #[test]
    fn declarations_are_limited() {
        let p = Policy::default();
        let d = |kind, ct: &str, size| UploadDeclaration {
            kind,
            file_name: "a".into(),
            content_type: ct.into(),
            size_bytes: size,
        };
        assert!(d(UploadKind::VoiceNote, "audio/ogg", 1).check(&p).is_ok());
        assert!(matches!(
            d(UploadKind::VoiceNote, "image/png", 1).check(&p),
            Err(ApiError::Invalid { code: Code::UnsupportedContentType, .. })
        ));
        assert!(matches!(
            d(UploadKind::VoiceNote, "audio/ogg", 10 * 1024 * 1024 + 1).check(&p),
            Err(ApiError::Invalid { code: Code::FileTooLarge, .. })
        ));
        assert!(matches!(
            d(UploadKind::Attachment, "application/pdf", 0).check(&p),
            Err(ApiError::Invalid { code: Code::EmptyFile, .. })
        ));
        let mut bad_name = d(UploadKind::Attachment, "application/pdf", 1);
        bad_name.file_name = "../etc/passwd".into();
        assert!(matches!(bad_name.check(&p), Err(ApiError::Invalid { code: Code::InvalidFileName, .. })));
    }

    #[test]
    fn a_served_name_carries_the_extension_of_the_verified_type() {
        assert_eq!(with_verified_extension("report.exe", "application/pdf"), "report.pdf");
        assert_eq!(with_verified_extension("طرح نهایی.PNG", "image/png"), "طرح نهایی.png");
        assert_eq!(with_verified_extension("v1.2 final", "application/pdf"), "v1.2 final.pdf", "not an extension");
        assert_eq!(with_verified_extension("photo", "image/jpeg"), "photo.jpg");
        assert_eq!(with_verified_extension(".bashrc", "text/plain"), ".bashrc.txt");
        assert_eq!(with_verified_extension("voice.ogg", "audio/ogg"), "voice.ogg");
        assert_eq!(with_verified_extension("x.bin", "application/x-unknown"), "x.bin", "never accepted: unchanged");
        for (t, ext, _) in VOICE_TYPES.iter().chain(ATTACHMENT_TYPES) {
            assert_eq!(extension(t), Some(*ext));
        }
    }
}
