//! The approval domain: pure logic with no I/O (verify, parse, decide, render).

pub mod approvers;
pub mod event;
pub mod execution;
pub mod interaction;
pub mod record;
pub mod render;
pub mod signature;
pub mod waiting;
