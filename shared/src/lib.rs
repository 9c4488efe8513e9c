//! Peyman's core crate: the domain, its rules and every way out to AWS. Function crates
//! hold only their handlers; everything they share lives here.

pub mod canonical;
pub mod config;
pub mod error;
pub mod files;
pub mod followup;
pub mod gig;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod keys;
pub mod lifecycle;
pub mod message;
pub mod money;
pub mod offer;
pub mod order;
pub mod payment;
pub mod policy;
pub mod queue;
pub mod request;
pub mod retry;
pub mod seller;
pub mod store;
pub mod stripe;
pub mod telemetry;
pub mod timeline;
pub mod tracked;
pub mod upload;
pub mod validate;

use config::Config;
use error::BoxError;
use files::Files;
use queue::Queues;
use store::{Commit, Store};
use stripe::Stripe;

/// What a function builds once per cold start and lends to every invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub store: Store,
    pub files: Files,
    pub queues: Queues,
    /// The payment provider.
    pub payments: Stripe,
}

impl App {
    /// Reads the configuration from the environment and builds the SDK clients.
    pub async fn from_env() -> Result<App, BoxError> {
        Ok(App::new(Config::from_env()?).await)
    }

    pub async fn new(config: Config) -> App {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let s3 = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.s3_force_path_style).build();
        App {
            store: Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
            files: Files::new(aws_sdk_s3::Client::from_conf(s3), &config.bucket_name, config.link_ttl),
            queues: Queues::new(aws_sdk_sqs::Client::new(&sdk), &config.followups_queue_url),
            payments: Stripe::new(config.stripe.clone()),
            config,
        }
    }
}

impl App {
    /// Commits one transition and hands its follow-ups to SQS. A failure to send is
    /// logged, not returned: the transition happened, and the sweeper re-sends what is
    /// still in the outbox.
    pub async fn commit(&self, commit: Commit) -> Result<(), error::ApiError> {
        let followups = self.store.commit(commit).await?;
        if followups.is_empty() {
            return Ok(());
        }
        let sent = match self.queues.send(&followups).await {
            Ok(sent) => sent,
            Err(e) => {
                tracing::warn!(error = %e, "follow-ups stay in the outbox for the sweeper");
                return Ok(());
            }
        };
        if let Err(e) = self.store.forget_followups(&sent).await {
            tracing::warn!(error = %e, "sent follow-ups stay in the outbox; the consumer ignores the repeat");
        }
        Ok(())
    }
}
