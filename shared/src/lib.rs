//! Peyman's core crate, in four layers whose dependencies point one way (checked by
//! `tests/architecture.rs`):
//!
//! - [`rules`]: pure. Money, policy, canonical form, every lifecycle table, the entities
//!   and their decisions as functions of state, input and `now`. No I/O, no SDK, no HTTP.
//! - [`adapters`]: each knows one outside thing (DynamoDB, S3, SQS, Stripe, the process
//!   environment) and speaks in the rules' types. They depend on rules only.
//! - [`flows`]: the use cases. Each loads, asks the rules, commits one transaction and
//!   returns a result of its own. Function handlers and the sweeper call flows.
//! - [`shell`]: where an invocation enters: HTTP parsing, identity, idempotency, the one
//!   error mapping, SQS batches. Only it and the functions know `lambda_http`.

pub mod adapters;
pub mod flows;
pub mod rules;
pub mod shell;
