//! Messages between two users, with attachments and a voice note.

use chrono::{DateTime, Utc};

use crate::adapters::dynamo::Page;
use crate::flows::App;
use crate::rules::caller::Caller;
use crate::rules::error::ApiError;
use crate::rules::message::{Message, NewMessage};
use crate::rules::upload::{self, Upload};

/// Sends a message to `recipient`; its files must be the sender's own and not rejected.
/// Returns the message with its files as they are.
pub async fn send(
    app: &App,
    sender: &Caller,
    recipient: &str,
    new: NewMessage,
    now: DateTime<Utc>,
) -> Result<(Message, Vec<Upload>), ApiError> {
    let me = sender.user_id.as_str();
    let message = new.into_message(&app.config.policy, me, recipient, now)?;
    let ids: Vec<&str> = message.upload_ids().map(String::as_str).collect();
    let uploads = app.store.uploads(&ids).await?;
    upload::check_references(
        &uploads,
        me,
        &message.attachment_upload_ids,
        message.voice_note_upload_id.as_ref(),
        false,
    )?;
    app.store.insert_message(&message).await?;
    Ok((message, uploads))
}

/// One page of the conversation between the caller and `other`, newest first, with the
/// files its messages name.
pub async fn conversation(
    app: &App,
    caller: &Caller,
    other: &str,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Page<Message>, Vec<Upload>), ApiError> {
    if other == caller.user_id {
        return Err(ApiError::invalid("self_conversation", "user_id", "there is no conversation with yourself"));
    }
    let page = app.store.messages(&caller.user_id, other, limit, cursor).await?;
    let ids: Vec<&str> = page.items.iter().flat_map(|m| m.upload_ids()).map(String::as_str).collect();
    let uploads = app.store.uploads(&ids).await?;
    Ok((page, uploads))
}
