//! The sweep's first look at what waits: the status of up to ten executions per
//! `DescribeAutomationExecutions` call (filter `ExecutionId`), in each execution's own
//! account and Region, as many calls at once as the time left needs.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::super::events_app::EventsApp;
use crate::deadline::{CallFloor, Deadline};
use crate::domain::execution::ExecutionId;
use crate::domain::place::Place;
use crate::domain::sweep::{ExecutionSummary, in_flight};
use crate::ssm::STATUS_BATCH;

/// About how long one batch takes (an `AssumeRole` for a new account, then the call).
const PER_BATCH: Duration = Duration::from_millis(500);
/// Below this, no batch is started.
const BATCH_FLOOR: Duration = Duration::from_millis(1000);

/// What the batches said about one execution.
#[derive(Debug, Clone)]
pub(super) enum Look {
    Listed(ExecutionSummary),
    /// Its batch answered without it: SSM does not know it there (a read confirms).
    NotListed,
    /// Its batch failed, other than by throttling: a full read instead.
    Unanswered,
    /// No session in its account (STS refused or did not answer): skipped this sweep.
    Unreachable,
    /// SSM throttled its batch: the sweep stops, and comes back to it.
    Throttled(String),
    /// Not asked: too little time left.
    OutOfTime,
}

/// The looks at `executions` (each with its place), and how many calls they took.
pub(super) async fn look(
    app: &EventsApp,
    executions: &[(ExecutionId, Place)],
    deadline: &Deadline,
) -> (HashMap<ExecutionId, Look>, usize) {
    // Per place, in index order; ten IDs a call.
    let mut places: Vec<(Place, Vec<ExecutionId>)> = vec![];
    for (id, place) in executions {
        match places.iter_mut().find(|(p, _)| p == place) {
            Some((_, ids)) => ids.push(id.clone()),
            None => places.push((place.clone(), vec![id.clone()])),
        }
    }
    let batches: Vec<(Place, Vec<ExecutionId>)> = places
        .iter()
        .flat_map(|(place, ids)| {
            ids.chunks(STATUS_BATCH)
                .map(|chunk| (place.clone(), chunk.to_vec()))
        })
        .collect();
    let calls = batches.len();
    let at_once = in_flight(calls, PER_BATCH, deadline.remaining());
    let answers: Vec<Vec<(ExecutionId, Look)>> = stream::iter(batches.iter())
        .map(|(place, ids)| one_batch(app, place, ids, deadline))
        .buffer_unordered(at_once)
        .collect()
        .await;
    (answers.into_iter().flatten().collect(), calls)
}

async fn one_batch(
    app: &EventsApp,
    place: &Place,
    ids: &[ExecutionId],
    deadline: &Deadline,
) -> Vec<(ExecutionId, Look)> {
    let all = |look: Look| ids.iter().map(|id| (id.clone(), look.clone())).collect();
    if !deadline.fits(Duration::ZERO, CallFloor::AWS, BATCH_FLOOR) {
        return all(Look::OutOfTime);
    }
    let ssm = match app.places.ssm(place, deadline).await {
        Ok(ssm) => ssm,
        Err(e) => {
            // An account this deployment cannot reach now: the others go on.
            tracing::warn!(%place, error = %e, "sweep: cannot call SSM there");
            return all(Look::Unreachable);
        }
    };
    match ssm.execution_summaries(ids, deadline).await {
        Ok(listed) => {
            let mut by_id: HashMap<ExecutionId, ExecutionSummary> =
                listed.into_iter().map(|s| (s.id.clone(), s)).collect();
            ids.iter()
                .map(|id| {
                    let look = by_id.remove(id).map_or(Look::NotListed, Look::Listed);
                    (id.clone(), look)
                })
                .collect()
        }
        Err(e) if e.is_throttled() => {
            tracing::warn!(%place, error = %e, "sweep: SSM throttled; stopping here");
            all(Look::Throttled(format!(
                "SSM: {}",
                e.code().unwrap_or("throttled")
            )))
        }
        Err(e) => {
            // A spoke stack from before this call was allowed answers AccessDenied: the
            // executions are read one by one, as before.
            tracing::warn!(%place, error = %e, "sweep: no batch of statuses; reading each execution");
            all(Look::Unanswered)
        }
    }
}
