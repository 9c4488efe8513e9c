//! The rules: pure functions and data. Nothing here reads a clock, a table, a queue or
//! a provider; time arrives as `now`, and what is loaded arrives as arguments. Everything
//! above builds on this layer, and it builds on nothing of ours.

pub mod amendment;
pub mod caller;
pub mod canonical;
pub mod case;
pub mod delivery;
pub mod dispute;
pub mod domain_event;
pub mod error;
pub mod export;
pub mod followup;
pub mod gig;
pub mod ledger;
pub mod lifecycle;
pub mod message;
pub mod money;
pub mod notification;
pub mod offer;
pub mod order;
pub mod packet;
pub mod packet_page;
pub mod payment;
pub mod placement;
pub mod policy;
pub mod reconciliation;
pub mod request;
pub mod retry;
pub mod review;
pub mod seller;
pub mod sheba;
pub mod timeline;
pub mod timer;
pub mod tip;
pub mod tracked;
pub mod upload;
pub mod validate;
pub mod withdrawal;
