//! Peyman's core crate: the domain, its rules and every way out to AWS. Function crates
//! hold only their handlers; everything they share lives here.

pub mod config;
pub mod error;
pub mod files;
pub mod gig;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod keys;
pub mod message;
pub mod money;
pub mod policy;
pub mod seller;
pub mod store;
pub mod telemetry;
pub mod upload;
pub mod validate;

use config::Config;
use error::BoxError;
use files::Files;
use store::Store;

/// What a function builds once per cold start and lends to every invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub store: Store,
    pub files: Files,
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
            config,
        }
    }
}
