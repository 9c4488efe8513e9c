//! Messages between two users, with attachments and a voice note.

use chrono::{DateTime, Utc};

use crate::adapters::dynamo::Page;
use crate::flows::App;
use peyman_rules::caller::Caller;
use peyman_rules::error::{ApiError, Code};
use peyman_rules::message::{self, Message, NewMessage};
use peyman_rules::order::Order;
use peyman_rules::upload::{self, Upload};

/// Sends a message to `recipient`; its files must be the sender's own and not rejected,
/// and an order it names must be between the two. Returns the message with its files as
/// they are.
pub async fn send(
    app: &App,
    sender: &Caller,
    recipient: &str,
    new: NewMessage,
    now: DateTime<Utc>,
) -> Result<(Message, Vec<Upload>), ApiError> {
    let me = sender.user_id.as_str();
    let message = new.into_message(&app.config.policy, me, recipient, now)?;
    if let Some(order_id) = &message.order_id {
        message::check_order(app.store.tracked::<Order>(order_id).await?.as_ref(), me, recipient)?;
    }
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
/// files its messages name; only the messages about `order_id` (an order between the two)
/// when it is given.
pub async fn conversation(
    app: &App,
    caller: &Caller,
    other: &str,
    order_id: Option<&str>,
    limit: i32,
    cursor: Option<&str>,
) -> Result<(Page<Message>, Vec<Upload>), ApiError> {
    let me = caller.user_id.as_str();
    if other == me {
        return Err(ApiError::invalid(Code::SelfConversation, "user_id", "there is no conversation with yourself"));
    }
    let page = match order_id {
        None => app.store.messages(me, other, limit, cursor).await?,
        Some(order_id) => {
            message::check_order(app.store.tracked::<Order>(order_id).await?.as_ref(), me, other)?;
            app.store.order_messages(me, other, order_id, limit, cursor).await?
        }
    };
    let ids: Vec<&str> = page.items.iter().flat_map(|m| m.upload_ids()).map(String::as_str).collect();
    let uploads = app.store.uploads(&ids).await?;
    Ok((page, uploads))
}
