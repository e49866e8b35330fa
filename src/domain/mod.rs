//! The approval domain: pure logic with no I/O (verify, parse, decide, render).

pub mod approvers;
pub mod comment;
pub mod event;
pub mod execution;
pub mod identity;
pub mod interaction;
pub mod record;
pub mod render;
pub mod routes;
pub mod signature;
pub mod views;
pub mod waiting;
