//! The failed-events queue drains itself: each scheduled sweep reads back what Lambda
//! put in the queue after every try of an event failed (a Slack outage of a few
//! minutes is enough), and handles each event again as if it had just come. An event
//! handled deletes its message; one that fails again stays, hidden until a later sweep
//! ([`VISIBILITY_S`]), with its reason logged; a message that is not an event of ours
//! is never deleted unread: it stays, with a log line saying what it is. Bounded per
//! run ([`MAX_PER_RUN`] messages, within the time it is given).

use std::fmt::{Debug, Display};
use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::deadline::{CallFloor, Deadline};
use crate::domain::failed_event::{Queued, read_queued};
use crate::queue::{FailedEvents, Received};

/// Messages read per sweep, at most.
pub const MAX_PER_RUN: usize = 20;
/// A message read and not deleted is hidden this long: past this invocation, and
/// back for a later sweep.
pub const VISIBILITY_S: i32 = 120;
/// Below this, no new message is read.
const PER_MESSAGE: Duration = Duration::from_secs(2);

/// What the sweep did with the failed-events queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveReport {
    /// Messages read from the queue.
    pub read: usize,
    /// Events handled again, and deleted from the queue.
    pub redriven: usize,
    /// Failed sweeps deleted: this sweep did their work.
    pub superseded: usize,
    /// Events that failed again: left in the queue for a later sweep.
    pub failed_again: usize,
    /// Messages that are not events of ours: left in the queue.
    pub not_ours: usize,
    /// The queue had nothing more to read.
    pub emptied: bool,
    /// Why it stopped early, if it did (the queue could not be read, no time left).
    pub stopped: Option<String>,
}

/// Drains up to [`MAX_PER_RUN`] messages of `queue` within `deadline`, handing each SSM
/// event to `handle` (the events function's own handling of an event).
pub async fn redrive<F, Fut, O, E>(
    queue: Option<&FailedEvents>,
    deadline: &Deadline,
    handle: F,
) -> RedriveReport
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    O: Debug,
    E: Display,
{
    let mut report = RedriveReport::default();
    let Some(queue) = queue else {
        report.emptied = true;
        return report;
    };
    while report.read < MAX_PER_RUN {
        if !deadline.fits(PER_MESSAGE, CallFloor::AWS, Duration::ZERO) {
            report.stopped = Some("no time left in this sweep".into());
            return report;
        }
        let want = (MAX_PER_RUN - report.read).min(10) as i32;
        let messages = match queue.receive(want, VISIBILITY_S, deadline).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the failed-events queue");
                report.stopped = Some(e.to_string());
                return report;
            }
        };
        if messages.is_empty() {
            report.emptied = true;
            return report;
        }
        for message in messages {
            report.read += 1;
            handle_one(queue, &message, deadline, &handle, &mut report).await;
        }
    }
    report
}

async fn handle_one<F, Fut, O, E>(
    queue: &FailedEvents,
    message: &Received,
    deadline: &Deadline,
    handle: &F,
    report: &mut RedriveReport,
) where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    O: Debug,
    E: Display,
{
    let id = &message.message_id;
    match read_queued(&message.body) {
        Queued::NotOurs(reason) => {
            report.not_ours += 1;
            tracing::warn!(message_id = %id, receive_count = message.receive_count, %reason,
                "left in the failed-events queue: not an event of ours");
        }
        Queued::Sweep => {
            if delete(queue, message, deadline).await {
                report.superseded += 1;
            }
        }
        Queued::Event { event, last_error } => match handle(event).await {
            Ok(outcome) => {
                tracing::info!(message_id = %id, ?last_error, ?outcome,
                        "a failed event was handled again");
                if delete(queue, message, deadline).await {
                    report.redriven += 1;
                }
            }
            Err(e) => {
                report.failed_again += 1;
                tracing::warn!(message_id = %id, receive_count = message.receive_count,
                        error = %e, "a failed event failed again; it stays in the queue for a later sweep");
            }
        },
    }
}

/// Deletes a message handled; a failed delete only means it is read (and handled,
/// harmlessly: handling is idempotent) once more.
async fn delete(
    queue: &crate::queue::FailedEvents,
    message: &Received,
    deadline: &Deadline,
) -> bool {
    match queue.delete(&message.receipt, deadline).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(message_id = %message.message_id, error = %e,
                "handled, but could not be deleted from the failed-events queue");
            false
        }
    }
}
