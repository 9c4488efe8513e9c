//! The flows: Peyman's use cases. Each loads what it needs through the adapters, asks the
//! rules, commits one transaction (its follow-ups written with it) and returns a
//! result of its own. Function handlers, the sweeper and the queue consumers call flows;
//! time arrives as `now`, read once at the edge.

pub mod accept;
pub mod amendments;
pub mod chargebacks;
pub mod disputes;
pub mod earnings;
pub mod exports;
pub mod followups;
pub mod gigs;
pub mod ledger;
pub mod messages;
pub mod notifications;
pub mod offers;
pub mod orders;
pub mod payments;
pub mod reconciliation;
pub mod relay;
pub mod requests;
pub mod reviews;
pub mod sellers;
pub mod support;
pub mod timers;
pub mod tips;
pub mod tracked;
pub mod uploads;
pub mod withdrawals;
pub mod work;
pub mod zarinpal;

use crate::adapters::config::Config;
use crate::adapters::dynamo::Store;
use crate::adapters::dynamo::commit::Commit;
use crate::adapters::events::Bus;
use crate::adapters::kms::Sealer;
use crate::adapters::payments::Payments;
use crate::adapters::s3::Files;
use crate::adapters::sqs::Queues;
use peyman_rules::error::{ApiError, BoxError, Code};

/// The adapters a function builds once per cold start and lends to every invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub store: Store,
    pub files: Files,
    pub queues: Queues,
    /// The EventBridge bus the relay publishes domain events on.
    pub bus: Bus,
    /// The payment provider this deployment is configured with.
    pub payments: Payments,
    /// Signs export packets (the builder only).
    pub sealer: Option<Sealer>,
}

impl App {
    /// Reads the configuration from the environment (its secrets from Secrets Manager)
    /// and builds the SDK clients.
    pub async fn from_env() -> Result<App, BoxError> {
        let sdk = crate::adapters::sdk::config().await;
        Ok(App::with_sdk(Config::load(&sdk).await?, &sdk).await)
    }

    /// The adapters for a configuration already read, over the environment's SDK
    /// configuration (the tests' own use of the flows).
    pub async fn new(config: Config) -> App {
        App::with_sdk(config, &crate::adapters::sdk::config().await).await
    }

    /// The adapters over a given SDK configuration: the local gateway gives each function
    /// its own credentials, as Lambda gives each its own role.
    pub async fn with_sdk(config: Config, sdk: &aws_types::SdkConfig) -> App {
        let sdk = sdk.clone();
        let store = Store::connect(&sdk, &config.table_name);
        // Every function reads the table, so every INIT opens its connection.
        store.warm_up().await;
        let sealer = config.export_seal_key_id.as_deref().map(|key| Sealer::connect(&sdk, key));
        if let Some(sealer) = &sealer {
            sealer.warm_up().await;
        }
        App {
            store,
            files: Files::connect(&sdk, &config.bucket_name, config.link_ttl, config.s3_force_path_style),
            queues: Queues::connect(&sdk, &config.followups_queue_url, config.exports_queue_url.as_deref()),
            bus: Bus::connect(&sdk, config.event_bus_name.as_deref()),
            sealer,
            payments: Payments::new(&config),
            config,
        }
    }

    /// Commits one transition. Its follow-ups are in the transaction; the relay hands
    /// them to SQS from the table's stream, so a process that dies after committing loses
    /// none.
    pub async fn commit(&self, commit: Commit) -> Result<(), ApiError> {
        self.store.commit(commit).await.map(|_| ())
    }
}

/// How often a flow runs again after losing a race on an entity's version (its commit
/// found it moved meanwhile) before it gives up.
const ATTEMPTS: usize = 5;

/// Runs `attempt` again while it loses a race, at most [`ATTEMPTS`] times; then `exhausted`.
pub(crate) async fn until_not_raced<T, F: Future<Output = Result<T, ApiError>>>(
    exhausted: ApiError,
    mut attempt: impl FnMut() -> F,
) -> Result<T, ApiError> {
    for _ in 0..ATTEMPTS {
        match attempt().await {
            Err(ApiError::Conflict { code: Code::ConcurrentChange, .. }) => continue,
            done => return done,
        }
    }
    Err(exhausted)
}
