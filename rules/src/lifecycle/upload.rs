//! An upload: pending until the checker has read the stored object, then ready or rejected
//! for good.

use serde::{Deserialize, Serialize};

use super::Actor::*;
use super::{Transition, row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Declared and presigned; the object is not yet checked (or not yet uploaded).
    Pending,
    Ready,
    Rejected,
}

/// What the checker decides on a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadAction {
    /// Its real size and type are within what was declared and allowed.
    Accept,
    Reject,
}

/// An upload is decided once, by the checker (`System`); a decided upload never moves.
/// Uploads keep no timeline; the events name the decision in logs.
#[rustfmt::skip]
pub static UPLOAD: &[Transition<UploadStatus, UploadAction>] = {
    use UploadStatus::*;
    use UploadAction::*;
    &[
        //  from     action  by         guard to        event              notify timers
        row(Pending, Accept, &[System], None, Ready,    "upload_ready",    &[],   &[]),
        row(Pending, Reject, &[System], None, Rejected, "upload_rejected", &[],   &[]),
    ]
};
