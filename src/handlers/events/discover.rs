//! Waiting steps found without their events. EventBridge delivers SSM's events best
//! effort, so before its sweep over the index of what waits, the scheduled invocation
//! lists the executions waiting (`DescribeAutomationExecutions`, `ExecutionStatus`
//! `Waiting`, paged) in every place the deployment serves: the hub's own account and
//! Region, each place an event came from (recorded once per place, [`note_place`]),
//! and each account named in the rules document or `ACCOUNT_NAMES` in each Region known
//! ([`places_to_list`]). An execution waiting at an approval (or a pause of a runbook in
//! `SLACK_RESUME_PREFIXES`) whose step has no prompt yet is prompted exactly as its event
//! would have had it prompted: through the events path ([`handle_plan`]) and its posting
//! claim, so a prompt is never doubled, whichever comes first.
//!
//! Bounded: at most a quarter of the invocation, and `SWEEP_MAX_LISTINGS` SSM calls
//! (listing pages and reads of what was found); each sweep starts its round of places
//! one place further, so every place is listed in turn when one sweep cannot list all.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

use super::super::sweep::{SweepReport, sweep};
use super::unreachable::{self, Converted, is_placeholder};
use super::{EventError, EventOutcome, EventsApp, handle_plan};
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::discovery::{KnownPlaces, in_turn, places_to_list, waits_for_a_prompt};
use crate::domain::event::EventPlan;
use crate::domain::execution::ExecutionId;
use crate::domain::place::Place;
use crate::domain::record::WaitingStep;
use crate::domain::sweep::{ExecutionSummary, in_flight};

/// The share of the invocation's time the finding may take: one part in this many.
const SHARE: u32 = 4;
/// Below this, no place is listed and nothing found is prompted.
const FLOOR: Duration = Duration::from_millis(1500);
/// Index entries read per page when finding (about 600 bytes each; a page holds 1 MB).
const INDEX_PAGE: i32 = 1000;
/// About how long listing one place takes (a page or two, a session for a new account).
const PER_PLACE: Duration = Duration::from_millis(600);

/// What the finding did.
#[derive(Debug, Default)]
struct Found {
    places: usize,
    calls: usize,
    unprompted: usize,
    prompted: usize,
    /// Executions looked at (one listed in two places, the hub's own account under two
    /// names, is looked at once).
    looked_at: HashSet<ExecutionId>,
    /// Places the hub could not assume into, to list what waits there.
    unreachable: Vec<String>,
    /// Steps prompted without buttons for want of their account, prompted now.
    reachable_again: usize,
}

/// The scheduled invocation: first the finding (its share of the time), then the sweep
/// over the index with the rest; one report.
pub(super) async fn find_and_sweep(
    app: &EventsApp,
    deadline: &Deadline,
) -> Result<SweepReport, EventError> {
    let share = deadline.remaining() - deadline.remaining() / SHARE;
    let found = find(app, &deadline.keeping(share)).await;
    let mut report = sweep(app, deadline).await?;
    report.places_listed = found.places;
    report.listing_calls = found.calls;
    report.found_unprompted = found.unprompted;
    report.found_prompted = found.prompted;
    report.reachable_again = found.reachable_again;
    for place in found.unreachable {
        if !report.unreachable.contains(&place) {
            report.unreachable.push(place);
        }
    }
    report.unreachable.sort();
    if !report.unreachable.is_empty() {
        report.complete = false;
    }
    Ok(report)
}

/// Remembers that an event came from `place`: once per place and execution environment
/// a conditional write, which is new to the table only the first time ever. A failure
/// costs the event nothing.
pub(super) async fn note_place(app: &EventsApp, place: &Place, deadline: &Deadline) {
    {
        let mut noted = app.places_noted.lock().unwrap_or_else(|p| p.into_inner());
        if !noted.insert(place.clone()) {
            return;
        }
    }
    match app.store.record_place(place, deadline).await {
        Ok(true) => tracing::info!(%place, "events come from a new place: the sweep lists it"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(%place, error = %e, "could not record where an event came from");
            let mut noted = app.places_noted.lock().unwrap_or_else(|p| p.into_inner());
            noted.remove(place);
        }
    }
}

async fn find(app: &EventsApp, deadline: &Deadline) -> Found {
    let mut found = Found::default();
    if !deadline.fits(Duration::ZERO, CallFloor::AWS, FLOOR) {
        return found;
    }
    let seen = match app.store.places_seen(deadline).await {
        Ok(seen) => seen,
        Err(e) => {
            tracing::warn!(error = %e, "sweep: could not read the places events came from");
            vec![]
        }
    };
    let rules = app.rules.rules(app.places.home_ssm(), deadline).await;
    let (mut accounts, regions) = rules.places_named();
    accounts.extend(app.account_names.accounts().map(str::to_owned));
    let known = KnownPlaces {
        seen,
        accounts,
        regions,
    };
    let places: Vec<Place> = places_to_list(app.places.home(), &known)
        .into_iter()
        .filter(|p| app.places.serves(p).is_ok())
        .collect();
    let (held, placeholders) = indexed(app, deadline).await;
    let indexed = Indexed(held);
    // Steps posted without buttons because their account was out of reach: now?
    for placeholder in &placeholders {
        if !deadline.fits(Duration::ZERO, CallFloor::AWS, FLOOR) {
            break;
        }
        match unreachable::convert(app, placeholder, deadline).await {
            Converted::Done => found.reachable_again += 1,
            Converted::Unreachable => found.unreachable.push(placeholder.place.to_string()),
            Converted::NotYet => {}
        }
    }
    let turn = usize::try_from(unix_now() / 60).unwrap_or_default();
    let places = in_turn(places, turn);
    let budget = Budget {
        left: AtomicUsize::new(app.sweep.max_listings),
        used: AtomicUsize::new(0),
    };
    let tally = Mutex::new(Found::default());
    let at_once = in_flight(places.len(), PER_PLACE, deadline.remaining());
    stream::iter(places.iter())
        .for_each_concurrent(at_once, |place| {
            one_place(app, place, &indexed, &budget, &tally, deadline)
        })
        .await;
    let tally = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    found.places = tally.places;
    found.unprompted = tally.unprompted;
    found.prompted = tally.prompted;
    found.unreachable.extend(tally.unreachable);
    found.calls = budget.used.load(Ordering::Relaxed);
    found
}

/// SSM calls left to the finding, shared by the places listed at once.
struct Budget {
    left: AtomicUsize,
    used: AtomicUsize,
}

impl Budget {
    fn take(&self) -> bool {
        let taken = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if taken {
            self.used.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }
}

/// Lists what waits in `place`, page by page, prompting what has no prompt.
async fn one_place(
    app: &EventsApp,
    place: &Place,
    indexed: &Indexed,
    budget: &Budget,
    tally: &Mutex<Found>,
    deadline: &Deadline,
) {
    if !deadline.fits(Duration::ZERO, CallFloor::AWS, FLOOR) || !budget.take() {
        return;
    }
    let ssm = match app.places.ssm(place, deadline).await {
        Ok(ssm) => ssm,
        Err(e) => {
            tracing::warn!(%place, error = %e, "sweep: cannot list what waits there");
            tally
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unreachable
                .push(place.to_string());
            return;
        }
    };
    let mut token = None;
    loop {
        let (waiting, next) = match ssm.waiting_executions(token.take(), deadline).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(%place, error = %e, "sweep: could not list what waits there");
                return;
            }
        };
        for summary in waiting
            .iter()
            .filter(|s| waits_for_a_prompt(s, &app.resumable))
        {
            if !deadline.fits(Duration::ZERO, CallFloor::AWS, FLOOR) {
                return;
            }
            if indexed.holds(summary)
                || !lock(tally).looked_at.insert(summary.id.clone())
                || has_prompt(app, summary, deadline).await
            {
                continue;
            }
            lock(tally).unprompted += 1;
            if !budget.take() {
                return;
            }
            match handle_plan(app, &summary.id, EventPlan::Prompt, place, deadline).await {
                Ok(EventOutcome::Posted { channel, ts, .. }) => {
                    tracing::warn!(execution_id = %summary.id, %place, %channel, %ts,
                        "sweep prompted a waiting step no event had announced");
                    lock(tally).prompted += 1;
                }
                Ok(outcome) => {
                    tracing::info!(execution_id = %summary.id, %place, outcome = ?outcome,
                        "sweep: a waiting step found without its event needed no prompt")
                }
                Err(e) => {
                    tracing::warn!(execution_id = %summary.id, %place, error = %e,
                        "sweep: could not prompt a waiting step found without its event")
                }
            }
        }
        match next {
            Some(next) if budget.take() => token = Some(next),
            _ => break,
        }
    }
    lock(tally).places += 1;
}

fn lock(tally: &Mutex<Found>) -> std::sync::MutexGuard<'_, Found> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

/// The steps whose prompt the index of what waits holds (execution and step name): a
/// step listed waiting and found there costs no further call.
struct Indexed(HashSet<(ExecutionId, String)>);

impl Indexed {
    fn holds(&self, summary: &ExecutionSummary) -> bool {
        summary
            .current_step
            .as_ref()
            .is_some_and(|step| self.0.contains(&(summary.id.clone(), step.clone())))
    }
}

/// The whole index of what waits, in large pages (a few for thousands of steps); what
/// could not be read is looked up step by step instead.
async fn indexed(
    app: &EventsApp,
    deadline: &Deadline,
) -> (HashSet<(ExecutionId, String)>, Vec<WaitingStep>) {
    let mut held = HashSet::new();
    let mut placeholders = vec![];
    let mut after = None;
    loop {
        match app
            .store
            .waiting_steps_oldest_first(after.as_ref(), INDEX_PAGE, deadline)
            .await
        {
            Ok(page) => {
                for step in page.steps {
                    held.insert((
                        step.target.execution_id.clone(),
                        step.target.step_name.clone(),
                    ));
                    if is_placeholder(&step) {
                        placeholders.push(step);
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => return (held, placeholders),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "sweep: could not read the index of what waits");
                return (held, placeholders);
            }
        }
    }
}

/// Whether the step `summary` waits at already has a prompt, or a claim on posting one
/// (read from the table: no SSM call).
async fn has_prompt(app: &EventsApp, summary: &ExecutionSummary, deadline: &Deadline) -> bool {
    let Some(step_name) = summary.current_step.as_deref() else {
        return false;
    };
    match app.store.steps_of(&summary.id, deadline).await {
        Ok(records) => records.iter().any(|r| {
            r.step_name == step_name && (r.prompt.is_some() || r.claim.is_some()) && !r.decided
        }),
        // Unknown: the events path's own claim decides.
        Err(_) => false,
    }
}
