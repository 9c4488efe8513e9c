//! The end-to-end tests: HTTP through the local gateway against the local stack, as a
//! frontend, a payment provider or support staff would call it; and what crosses processes
//! and services (races, webhooks, queues, files, the sweeper, authorization). One binary,
//! in the manner of zero2prod's `tests/api/main.rs`: the crate graph is linked once, not
//! once per file. Run inside `infra/local/stack.sh` (`make test` does).
//! Each file is a module named for what it covers; every test makes its own users and ids,
//! so they run in parallel.

mod amendments;
mod authz;
mod capacity_meter;
mod clock;
mod contract;
mod cors;
mod dispute_process;
mod disputes;
mod domain_events;
mod events;
mod exports;
mod files;
mod flows;
mod followups;
mod gigs;
mod idempotency;
mod ledger;
mod messages;
mod money_events;
mod notifications;
mod offers;
mod order_access;
mod payments;
mod queue;
mod queues;
mod races;
mod requests;
mod reviews;
mod seal;
mod secrets;
mod sellers;
mod support_payments;
mod timeline;
mod timers;
mod transactions;
mod uploads;
mod warm_up;
mod withdrawals;
mod work;
mod zarinpal;
mod zarinpal_gateway;
