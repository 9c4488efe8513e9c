//! SQS, sending: the relay hands each committed follow-up to its queue. Its client is
//! built on first use: only the relay sends, so no other function pays for it at a cold
//! start. (Consuming is the shell's: `shell::queue`.)

use std::sync::{Arc, OnceLock};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::adapters::meter::{RequestMeter, Service};
use peyman_rules::error::ApiError;
use peyman_rules::followup::{FollowUp, FollowUpKind};

#[derive(Debug, Clone)]
pub struct Queues {
    sdk: aws_types::SdkConfig,
    sqs: Arc<OnceLock<Client>>,
    followups_url: String,
    /// Where export jobs go (`EXPORTS_QUEUE_URL`; the relay's).
    exports_url: Option<String>,
}

impl Queues {
    /// The follow-up queue at `followups_url` (and the exports queue, where configured),
    /// through the SDK configured from the environment.
    pub fn connect(sdk: &aws_types::SdkConfig, followups_url: &str, exports_url: Option<&str>) -> Self {
        Queues {
            sdk: sdk.clone(),
            sqs: Arc::default(),
            followups_url: followups_url.to_owned(),
            exports_url: exports_url.map(str::to_owned),
        }
    }

    fn sqs(&self) -> &Client {
        self.sqs.get_or_init(|| {
            let metered = aws_sdk_sqs::config::Builder::from(&self.sdk).interceptor(RequestMeter::new(Service::Sqs));
            Client::from_conf(metered.build())
        })
    }

    /// Sends `followups`, each to its queue: all of them, or an error (the relay then
    /// sends them again; a consumer applies a repeat as nothing).
    pub async fn send(&self, followups: &[FollowUp]) -> Result<(), ApiError> {
        let (exports, others): (Vec<FollowUp>, Vec<FollowUp>) =
            followups.iter().cloned().partition(|f| f.kind == FollowUpKind::BuildExport);
        let mut sent = self.send_to(&self.followups_url, &others).await?.len();
        if !exports.is_empty() {
            let url = self.exports_url.as_deref().ok_or_else(|| ApiError::internal("EXPORTS_QUEUE_URL is not set"))?;
            sent += self.send_to(url, &exports).await?.len();
        }
        if sent < followups.len() {
            return Err(ApiError::Unavailable {
                what: "sqs",
                cause: format!("{} of {} follow-ups were not taken", followups.len() - sent, followups.len()),
            });
        }
        Ok(())
    }

    async fn send_to(&self, url: &str, followups: &[FollowUp]) -> Result<Vec<FollowUp>, ApiError> {
        let mut sent = Vec::new();
        for batch in followups.chunks(10) {
            let mut request = self.sqs().send_message_batch().queue_url(url);
            for (i, followup) in batch.iter().enumerate() {
                let body = serde_json::to_string(followup).map_err(ApiError::internal)?;
                request = request.entries(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(ApiError::internal)?,
                );
            }
            let out = request
                .send()
                .await
                .map_err(|e| ApiError::internal(format!("sqs: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))?;
            for ok in out.successful {
                if let Some(f) = ok.id.parse::<usize>().ok().and_then(|i| batch.get(i)) {
                    sent.push(f.clone());
                }
            }
        }
        Ok(sent)
    }
}
