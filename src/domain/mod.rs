//! The approval domain: pure logic with no I/O (verify, parse, decide, render).

pub mod approvers;
pub mod comment;
pub mod event;
pub mod execution;
pub mod home_view;
pub mod identity;
pub mod interaction;
pub mod place;
pub mod record;
pub mod reminders;
pub mod render;
pub mod routes;
pub mod rules;
pub mod signature;
pub mod slack_event;
pub mod views;
pub mod waiting;
pub mod waiting_list;
