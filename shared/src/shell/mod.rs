//! The shell: where a Lambda invocation enters. [`http`] serves API Gateway requests
//! (parsing, [`identity`], [`idempotency`], the one error mapping in [`problem`]);
//! [`queue`] consumes SQS batches. Only this layer and `functions/*` know `lambda_http`;
//! handlers route to flows through it.

pub mod answer;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod problem;
pub mod queue;
pub mod stream;
