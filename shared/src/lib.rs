//! Peyman's core crate: what reaches the outside, over the pure rules of `peyman-rules`.
//! Its layers' dependencies point one way (checked by `tests/structure/architecture.rs`;
//! the rules' own by the compiler, as a crate of their own that knows no SDK, no runtime and
//! no HTTP):
//!
//! - `peyman_rules` (the crate `rules/`): pure. Money, policy, canonical form, every
//!   lifecycle table, the entities and their decisions as functions of state, input and
//!   `now`.
//! - [`adapters`]: each knows one outside thing (DynamoDB, S3, SQS, Stripe, the process
//!   environment) and speaks in the rules' types. They depend on the rules only.
//! - [`flows`]: the use cases. Each loads, asks the rules, commits one transaction and
//!   returns a result of its own. Function handlers and the sweeper call flows.
//! - [`shell`]: where an invocation enters: HTTP parsing, identity, idempotency, the one
//!   error mapping, SQS batches. Only it and the functions know `lambda_http`.

pub mod adapters;
pub mod flows;
pub mod shell;
