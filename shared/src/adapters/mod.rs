//! The adapters, each knowing one outside thing: [`dynamo`] the single table, [`s3`] the
//! files, [`sqs`] the follow-up queue, [`stripe`] the payment provider's wire format,
//! [`config`] the process environment, [`telemetry`] the logs, [`kms`] the packet seal's
//! signing key, [`zip`] the packet's archive format, [`zarinpal`] the home market's
//! payment gateway's wire format, [`payments`] the one of the two a deployment uses,
//! [`provider_http`] the HTTPS client they and S3's calls share, [`sdk`] the AWS SDK's
//! configuration and the roots it trusts, [`meter`] what the AWS calls cost, [`secrets`] the payment secrets in Secrets Manager. They take and return the
//! rules' types and decide nothing.

pub mod config;
pub mod dynamo;
pub mod events;
pub mod kms;
pub mod meter;
pub mod payments;
pub mod provider_http;
pub mod s3;
pub mod sdk;
pub mod secrets;
pub mod sqs;
pub mod stripe;
pub mod telemetry;
pub mod zarinpal;
pub mod zip;
