//! The one error type: what went wrong, in kinds the HTTP shell maps to statuses and
//! `application/problem+json` (`http::problem`), each with a stable, machine-readable
//! [`Code`] from the one list below; internal causes are logged once and never sent to
//! clients. `docs/errors.md` is that list drawn ([`document`]), and a test keeps it so.

/// Declares every problem code: its name, the statuses it is answered with, and what it
/// means (its doc comment), which `docs/errors.md` shows.
macro_rules! problem_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, [$($status:literal),+]; )*) => {
        /// A stable, machine-readable problem code; clients branch on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in the order `docs/errors.md` lists them.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }

            /// The HTTP statuses it is answered with (most have one).
            pub const fn statuses(self) -> &'static [u16] {
                match self { $(Code::$variant => &[$($status),+]),* }
            }

            /// What it means, for people.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => concat!($($doc, "\n"),*)),* }
            }
        }
    };
}

problem_codes! {
    // ---- the request itself (400) ------------------------------------------------------
    /// The body is not valid JSON.
    MalformedJson = "malformed_json", [400];
    /// A path or query value is not an id of the kind it names (a user id, a ULID).
    InvalidId = "invalid_id", [400];
    /// `limit` is not a whole number within the list's bounds.
    InvalidLimit = "invalid_limit", [400];
    /// `cursor` is not one this list gave.
    InvalidCursor = "invalid_cursor", [400];
    /// `role` is neither `buyer` nor `seller`.
    InvalidRole = "invalid_role", [400];
    /// A `status` filter names no status of the list (400), or the Zarinpal callback's
    /// `Status` is neither `OK` nor `NOK` (422).
    InvalidStatus = "invalid_status", [400, 422];
    /// The `Idempotency-Key` header is not 1–255 visible ASCII characters.
    InvalidIdempotencyKey = "invalid_idempotency_key", [400];
    /// A payment webhook's signature does not verify over the raw body (checked before
    /// anything of it is read).
    InvalidSignature = "invalid_signature", [400];
    /// A signed webhook body is no event of the provider's.
    MalformedEvent = "malformed_event", [400];

    // ---- a body's shape (422) ----------------------------------------------------------
    /// The body names a field the operation does not take.
    UnknownField = "unknown_field", [422];
    /// A required field is missing.
    MissingField = "missing_field", [422];
    /// A field has the wrong JSON type.
    InvalidType = "invalid_type", [422];
    /// A field's value is not one the field takes (an unknown enum value, a malformed time).
    InvalidValue = "invalid_value", [422];
    /// A text is empty or only white space.
    Empty = "empty", [422];
    /// A text is longer than its field allows (counted in characters).
    TooLong = "too_long", [422];
    /// A text holds a control character where only one line is allowed.
    ControlCharacter = "control_character", [422];
    /// The seller named their level, which only support sets.
    ReadOnlyField = "read_only_field", [422];
    /// A gig's PATCH names no field to change.
    EmptyPatch = "empty_patch", [422];
    /// The same `Idempotency-Key` was used with another request.
    IdempotencyKeyReused = "idempotency_key_reused", [422];

    // ---- files (422) -------------------------------------------------------------------
    /// The declared content type is not accepted for this kind of upload.
    UnsupportedContentType = "unsupported_content_type", [422];
    /// The declared size is over the kind's limit (attachments 50 MB, voice notes 10 MB).
    FileTooLarge = "file_too_large", [422];
    /// The declared size is zero.
    EmptyFile = "empty_file", [422];
    /// The file name is empty, a path, or holds a control character.
    InvalidFileName = "invalid_file_name", [422];
    /// More attachments than the message, request, delivery or dispute takes.
    TooManyAttachments = "too_many_attachments", [422];
    /// The same upload is attached twice.
    DuplicateAttachment = "duplicate_attachment", [422];
    /// No upload of the caller's has this id.
    UploadNotFound = "upload_not_found", [422];
    /// The upload is of the other kind (an attachment where a voice note goes, or back).
    WrongUploadKind = "wrong_upload_kind", [422];
    /// The upload failed the content check.
    UploadRejected = "upload_rejected", [422];
    /// The upload has not passed the content check yet (where a checked file is needed).
    UploadNotReady = "upload_not_ready", [422];

    // ---- conversations (422, 409) ------------------------------------------------------
    /// The caller named themselves as the other party.
    SelfConversation = "self_conversation", [422];
    /// A message needs text, attachments or a voice note.
    EmptyMessage = "empty_message", [422];
    /// The order named is not one between the two.
    OrderNotBetweenYou = "order_not_between_you", [422];
    /// An attached file changed while the message was being sent; read it and retry.
    UploadChanged = "upload_changed", [409];

    // ---- requests and offers (422, 403, 409) --------------------------------------------
    /// The buyer asked themselves for a custom project.
    SelfRequest = "self_request", [422];
    /// The seller sent an offer to themselves.
    SelfOffer = "self_offer", [422];
    /// The seller has not enabled custom projects: their offers are refused (403), and
    /// requests to them too (422).
    CustomProjectsDisabled = "custom_projects_disabled", [403, 422];
    /// No such gig.
    GigNotFound = "gig_not_found", [422];
    /// The offer names another seller's gig.
    GigNotYours = "gig_not_yours", [422];
    /// The gig is paused; offers and requests need an active one.
    GigNotActive = "gig_not_active", [422];
    /// The price is above the seller's level limit.
    PriceAboveLevelLimit = "price_above_level_limit", [422];
    /// The delivery time is above the seller's level limit.
    DeliveryAboveLevelLimit = "delivery_above_level_limit", [422];
    /// Neither has written to the other, asked for a custom project or ordered before.
    NoPriorCommunication = "no_prior_communication", [422];
    /// Only the seller has written: the buyer must reach out before an offer.
    BuyerHasNotReachedOut = "buyer_has_not_reached_out", [422];
    /// The offer's source (request, message or order) is not there between the two.
    SourceNotFound = "source_not_found", [422];
    /// An offer made from a message names one of the seller's own messages.
    SourceNotFromBuyer = "source_not_from_buyer", [422];
    /// The request was already answered, declined, withdrawn or expired.
    RequestNotPending = "request_not_pending", [409];
    /// The price is not a positive whole amount.
    InvalidPrice = "invalid_price", [422];
    /// The currency is not the marketplace's (IRR).
    UnsupportedCurrency = "unsupported_currency", [422];
    /// The delivery time is under one day.
    InvalidDeliveryDays = "invalid_delivery_days", [422];
    /// The offer's expiry is in the past.
    ExpiryInPast = "expiry_in_past", [422];
    /// The offer's expiry is more than 30 days ahead.
    ExpiryTooFar = "expiry_too_far", [422];
    /// Not 1–10 stages.
    InvalidStageCount = "invalid_stage_count", [422];
    /// A stage has not 1–20 deliverables.
    InvalidDeliverables = "invalid_deliverables", [422];
    /// The stages' amounts do not add up to the price.
    StageAmountsMismatch = "stage_amounts_mismatch", [422];
    /// Some stages have an amount and some do not.
    StageAmountsIncomplete = "stage_amounts_incomplete", [422];
    /// The stages' days do not add up to the delivery time.
    StageDaysMismatch = "stage_days_mismatch", [422];
    /// Some stages have days and some do not.
    StageDaysIncomplete = "stage_days_incomplete", [422];
    /// More revisions than an offer may include.
    TooManyRevisions = "too_many_revisions", [422];
    /// More special conditions than an offer may hold.
    TooManyConditions = "too_many_conditions", [422];
    /// All the text of the terms together is over 40,000 characters.
    TermsTooLong = "terms_too_long", [422];
    /// The offer was decided meanwhile (an accept's payment was opened, and the offer had
    /// moved on).
    OfferChanged = "offer_changed", [409];

    // ---- any state machine (403, 409) ---------------------------------------------------
    /// The caller's role in this object may not take this action.
    NotAllowedForRole = "not_allowed_for_role", [403];
    /// Support only.
    SupportOnly = "support_only", [403];
    /// Support may not act on a case, payment, refund or level where they are a party.
    ConflictOfInterest = "conflict_of_interest", [403];
    /// Only the gig's seller may change it.
    NotGigOwner = "not_gig_owner", [403];
    /// The object's state does not allow this action now.
    InvalidState = "invalid_state", [409];
    /// The object's deadline has passed (an offer's expiry).
    Expired = "expired", [409];
    /// Another request changed the object at the same moment; send it again.
    ConcurrentChange = "concurrent_change", [409];
    /// A request with this `Idempotency-Key` is still running; retry later.
    IdempotencyInProgress = "idempotency_in_progress", [409];

    // ---- the order's work (422, 409) ---------------------------------------------------
    /// A delivery needs a message or files.
    EmptyDelivery = "empty_delivery", [422];
    /// Stages are delivered in order; this one is not the current stage.
    NotTheCurrentStage = "not_the_current_stage", [422];
    /// The order has no such stage.
    StageOutOfRange = "stage_out_of_range", [422];
    /// The revisions the terms include are used up.
    RevisionLimitReached = "revision_limit_reached", [409];
    /// A cancellation request is already open.
    CancellationRequestOpen = "cancellation_request_open", [409];
    /// The buyer's right to cancel a late order alone is not open yet.
    LateCancellationNotOpen = "late_cancellation_not_open", [409];

    // ---- amendments (422, 409) ---------------------------------------------------------
    /// An amendment changes something: `extra_days`, `extra_revisions`, `lower_price` or
    /// `add_stage`.
    EmptyAmendment = "empty_amendment", [422];
    /// A paid stage and a lower price are two amendments: one is paid, the other refunded.
    MixedAmendment = "mixed_amendment", [422];
    /// More days are 1 to 365, more revisions 1 to 20.
    InvalidExtension = "invalid_extension", [422];
    /// That stage is accepted already: its days are past.
    StageDone = "stage_done", [422];
    /// Only a stage after the current one (not started) is priced lower.
    StageStarted = "stage_started", [422];
    /// An amendment is already proposed on this order; it is answered first.
    AmendmentOpen = "amendment_open", [409];
    /// No amendment the caller may answer (the other party's) or withdraw (their own) is
    /// open.
    NoAmendmentToAnswer = "no_amendment_to_answer", [409];
    /// A completed order is not amended (its buyer may tip).
    OrderCompleted = "order_completed", [409];

    // ---- tips (422, 409) ---------------------------------------------------------------
    /// Only a completed order is tipped (and not while it is disputed).
    OrderNotCompleted = "order_not_completed", [409];
    /// The order has its tip already (one per order).
    TipAlreadyGiven = "tip_already_given", [409];

    // ---- reviews (422, 409) ------------------------------------------------------------
    /// A rating is a whole number from 1 to 5.
    RatingOutOfRange = "rating_out_of_range", [422];
    /// The caller has already reviewed this order.
    ReviewExists = "review_exists", [409];
    /// The review window of this order has closed.
    ReviewWindowClosed = "review_window_closed", [409];
    /// The buyer's review is not visible yet, so it cannot be answered.
    ReviewNotVisible = "review_not_visible", [409];
    /// The seller has already answered this review.
    ReplyExists = "reply_exists", [409];

    // ---- disputes (422, 409) -----------------------------------------------------------
    /// Only a paid order can be disputed.
    OrderNotPaid = "order_not_paid", [409];
    /// A completed order may be disputed only within the window after its completion
    /// (`DISPUTE_AFTER_COMPLETION_SECONDS`, 3 days).
    DisputeWindowClosed = "dispute_window_closed", [409];
    /// A cancelled order can no longer be disputed.
    OrderCancelled = "order_cancelled", [409];
    /// The order already has an open dispute.
    DisputeAlreadyOpen = "dispute_already_open", [409];
    /// The dispute has been resolved or withdrawn.
    DisputeResolved = "dispute_resolved", [409];
    /// A settlement is already proposed on this dispute; it is answered before another.
    SettlementOpen = "settlement_open", [409];
    /// No settlement proposed by the other party is open to accept or decline (none is,
    /// or it is the caller's own).
    NoSettlementToAnswer = "no_settlement_to_answer", [409];
    /// A settlement's parts do not add up to what escrow holds.
    SettlementDoesNotAddUp = "settlement_does_not_add_up", [422];
    /// Only the party who opened a dispute may withdraw it.
    NotTheOpener = "not_the_opener", [403];
    /// `answers` names no question of this dispute.
    UnknownQuestion = "unknown_question", [422];
    /// `answers` names a question put to the other party.
    NotYourQuestion = "not_your_question", [422];
    /// `chargeback` is the payment provider's reason alone; a party chooses another.
    ReasonNotAllowed = "reason_not_allowed", [422];
    /// The buyer's bank is still deciding a chargeback on the payment: the dispute waits
    /// for it.
    ChargebackOpen = "chargeback_open", [409];
    /// A partial refund names its amount.
    AmountRequired = "amount_required", [422];
    /// Only a partial refund names an amount.
    AmountNotAllowed = "amount_not_allowed", [422];
    /// A partial refund is at least 1.
    RefundAmountOutOfRange = "refund_amount_out_of_range", [422];
    /// The refund is not in the order's currency.
    CurrencyMismatch = "currency_mismatch", [422];

    // ---- money (422, 409) --------------------------------------------------------------
    /// More than what is left of the payment would be refunded.
    RefundExceedsPayment = "refund_exceeds_payment", [422];
    /// More than the order's escrow still holds would be refunded: what was released for
    /// accepted stages is the seller's.
    RefundExceedsEscrow = "refund_exceeds_escrow", [422];
    /// A Sheba number is not `IR` and 24 digits whose check digits match (ISO 13616).
    InvalidSheba = "invalid_sheba", [422];
    /// An amount is not a positive whole number of the currency's smallest unit.
    InvalidAmount = "invalid_amount", [422];
    /// Withdrawals are paid in IRR only, to an Iranian bank account.
    WithdrawalCurrencyNotSupported = "withdrawal_currency_not_supported", [422];
    /// More than the seller's available balance would be withdrawn (two withdrawals at
    /// once that together exceed it: one of them).
    WithdrawalExceedsAvailable = "withdrawal_exceeds_available", [422];
    /// The account holder's name is not a name: it must begin with a letter.
    InvalidHolderName = "invalid_holder_name", [422];
    /// The withdrawal was paid or returned already: it is decided once.
    WithdrawalDecided = "withdrawal_decided", [409];
    /// No withdrawal is waiting to be put in a batch.
    NothingToBatch = "nothing_to_batch", [409];
    /// Only money that was paid can be refunded.
    NotPaid = "not_paid", [409];
    /// The payment is not held; it was decided already.
    NotHeld = "not_held", [409];
    /// The order no longer awaits this payment; refund it instead.
    OrderNotPayable = "order_not_payable", [409];
    /// Part of the payment was refunded; refund the rest instead.
    PaymentRefunded = "payment_refunded", [409];
    /// What was received does not cover the order's price.
    AmountShort = "amount_short", [409];
    /// Only a refund in support's manual or failed queue is paid back by hand.
    NotPayableByHand = "not_payable_by_hand", [409];
    /// The Zarinpal callback has no `Authority`.
    AuthorityRequired = "authority_required", [422];
    /// The Zarinpal callback's `Authority` is not one of Zarinpal's.
    InvalidAuthority = "invalid_authority", [422];

    // ---- who and what (401, 404) and our side (500, 503) -------------------------------
    /// No verified identity (the gateway's authorizer answers most of these itself).
    Unauthenticated = "unauthenticated", [401];
    /// The object is not there, or not the caller's to see: the two look the same.
    NotFound = "not_found", [404];
    /// A dependency (storage, the payment provider) cannot be reached or failed; retry later.
    DependencyUnavailable = "dependency_unavailable", [503];
    /// A fault of ours; the cause is logged, never sent.
    Internal = "internal", [500];
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or a header or path value cannot be parsed at all (400).
    #[error("{detail}")]
    Malformed { code: Code, field: Option<String>, detail: String },
    /// Well-formed input that breaks a rule (422).
    #[error("{detail}")]
    Invalid { code: Code, field: Option<String>, detail: String },
    /// No verified identity (401).
    #[error("authentication required")]
    Unauthenticated,
    /// The caller is known and may see the object but may not do this (403).
    #[error("{detail}")]
    Forbidden { code: Code, detail: String },
    /// Absent, or not the caller's to see: the two look the same (404).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The object's state does not allow this now (409).
    #[error("{detail}")]
    Conflict { code: Code, detail: String },
    /// A dependency (the payment provider) cannot be reached or failed; retrying later
    /// may succeed (503). The cause is logged, not returned.
    #[error("{what} unavailable: {cause}")]
    Unavailable { what: &'static str, cause: String },
    /// A fault of ours or of a dependency (500); the cause is logged, not returned.
    #[error("internal error: {0}")]
    Internal(BoxError),
}

impl ApiError {
    pub fn invalid(code: Code, field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Invalid { code, field: Some(field.into()), detail: detail.into() }
    }

    pub fn malformed(code: Code, field: Option<&str>, detail: impl Into<String>) -> Self {
        ApiError::Malformed { code, field: field.map(str::to_owned), detail: detail.into() }
    }

    pub fn conflict(code: Code, detail: impl Into<String>) -> Self {
        ApiError::Conflict { code, detail: detail.into() }
    }

    pub fn forbidden(code: Code, detail: impl Into<String>) -> Self {
        ApiError::Forbidden { code, detail: detail.into() }
    }

    pub fn internal(cause: impl Into<BoxError>) -> Self {
        ApiError::Internal(cause.into())
    }

    /// Whether a retry of the same request may be answered otherwise: our failures and
    /// the dependencies' (5xx), and the 409s that only say "not now" (a race lost to a
    /// concurrent writer, a retry while the first is still running). An idempotency
    /// record never keeps such an answer as the key's final one.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Internal(_) | ApiError::Unavailable { .. } => true,
            ApiError::Conflict { code, .. } => matches!(code, Code::ConcurrentChange | Code::IdempotencyInProgress),
            _ => false,
        }
    }

    /// The stable, machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        self.problem_code().as_str()
    }

    /// The code as the type the list declares.
    pub fn problem_code(&self) -> Code {
        match self {
            ApiError::Malformed { code, .. }
            | ApiError::Invalid { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. } => *code,
            ApiError::Unauthenticated => Code::Unauthenticated,
            ApiError::NotFound { .. } => Code::NotFound,
            ApiError::Unavailable { .. } => Code::DependencyUnavailable,
            ApiError::Internal(_) => Code::Internal,
        }
    }

    /// The HTTP status the shell answers it with.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Malformed { .. } => 400,
            ApiError::Unauthenticated => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable { .. } => 503,
        }
    }
}

/// `docs/errors.md`: every problem code with its statuses and meaning.
pub fn document() -> String {
    let mut out = String::from(
        "# Problem codes\n\n\
         Every error is `application/problem+json` (RFC 9457): `type` is\n\
         `urn:peyman:problem:{code}`, `title` the status's reason phrase, `status`, the stable\n\
         `code` below, the offending `field` where there is one, and a `detail` for people\n\
         (English). Bad input changes nothing. This list is generated from `Code` in\n\
         `rules/src/error.rs` (`make docs` writes it again; `cargo test -p peyman-rules` fails\n\
         when it differs), and a structure test checks that every place the server builds an\n\
         error uses a code with the status it declares. API Gateway's own authorizer answers a\n\
         missing or bad token with 401 `{\"message\":\"Unauthorized\"}` before any function runs.\n\n\
         | code | status | meaning |\n|---|---|---|\n",
    );
    for code in Code::ALL {
        let statuses: Vec<String> = code.statuses().iter().map(u16::to_string).collect();
        let meaning = code.meaning().split_whitespace().collect::<Vec<_>>().join(" ");
        out += &format!("| `{}` | {} | {meaning} |\n", code.as_str(), statuses.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_stable_ones() {
        assert_eq!(ApiError::invalid(Code::TooLong, "title", "x").code(), "too_long");
        assert_eq!(ApiError::NotFound { what: "order" }.code(), "not_found");
        assert_eq!(ApiError::Unavailable { what: "storage", cause: "x".into() }.code(), "dependency_unavailable");
        assert_eq!(ApiError::internal("x").code(), "internal");
    }

    #[test]
    fn every_code_is_listed_once_with_a_meaning_and_a_status() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", code.as_str());
            assert!(!code.meaning().trim().is_empty() && !code.statuses().is_empty(), "{}", code.as_str());
        }
        assert_eq!(ApiError::NotFound { what: "order" }.problem_code(), Code::NotFound);
        assert!(Code::ALL.contains(&ApiError::internal("x").problem_code()));
    }

    /// `docs/errors.md` is the list drawn; `make docs` writes it again (`UPDATE_DOCS=1`).
    #[test]
    fn the_error_document_is_the_list_drawn() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md");
        let drawn = document();
        assert!(drawn.contains("| `concurrent_change` | 409 | Another request changed the object"), "{drawn}");
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &drawn).expect("docs/errors.md is written");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == drawn, "docs/errors.md differs from Code in rules/src/error.rs: run `make docs`");
    }
}
