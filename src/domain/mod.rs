//! The approval domain: pure logic with no I/O (verify, parse, decide, render).

pub mod adoption;
pub mod approvers;
pub mod comment;
pub mod discovery;
pub mod event;
pub mod execution;
pub mod failed_event;
pub mod identity;
pub mod inbound;
pub mod messages;
pub mod place;
pub mod record;
pub mod reminders;
pub mod routes;
pub mod rules;
pub mod signature;
pub mod starter;
pub mod sweep;
pub mod waiting;
