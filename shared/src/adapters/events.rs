//! EventBridge: the relay puts each committed timeline event on the bus as a domain
//! event (`peyman_rules::domain_event`). Its client is built on first use: only the relay
//! publishes, so no other function pays for it at a cold start.

use std::sync::{Arc, OnceLock};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::adapters::meter::count_events;
use peyman_rules::domain_event::SOURCE;
use peyman_rules::error::ApiError;
use peyman_rules::timeline::Event;

#[derive(Debug, Clone)]
pub struct Bus {
    sdk: aws_types::SdkConfig,
    /// The bus's name (`EVENT_BUS_NAME`; the relay's).
    name: Option<String>,
    client: Arc<OnceLock<Client>>,
}

impl Bus {
    pub fn connect(sdk: &aws_types::SdkConfig, name: Option<&str>) -> Bus {
        Bus { sdk: sdk.clone(), name: name.map(str::to_owned), client: Arc::default() }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| Client::new(&self.sdk))
    }

    /// Puts `events` on the bus, ten to a request: `detail-type` each one's name,
    /// `detail` the event itself. All or an error (the relay then sends the records
    /// again; a subscriber drops a repeat by its `hash`).
    pub async fn publish(&self, events: &[Event]) -> Result<(), ApiError> {
        let name = self.name.as_deref().ok_or_else(|| ApiError::internal("EVENT_BUS_NAME is not set"))?;
        for chunk in events.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for event in chunk {
                let detail = serde_json::to_string(event).map_err(ApiError::internal)?;
                entries.push(
                    PutEventsRequestEntry::builder()
                        .event_bus_name(name)
                        .source(SOURCE)
                        .detail_type(&event.event)
                        .detail(detail)
                        .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(event.at.timestamp_millis()))
                        .build(),
                );
            }
            let sent = self.client().put_events().set_entries(Some(entries)).send().await;
            let out = sent.map_err(|e| ApiError::Unavailable {
                what: "eventbridge",
                cause: aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string(),
            })?;
            if out.failed_entry_count > 0 {
                let why = out.entries().iter().filter_map(|e| e.error_message.clone()).collect::<Vec<_>>().join("; ");
                return Err(ApiError::Unavailable { what: "eventbridge", cause: why });
            }
            // Billed per event (of up to 64 KB), not per request.
            count_events(chunk.len() as u64);
        }
        Ok(())
    }
}
