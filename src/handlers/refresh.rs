//! Bringing an execution's prompts up to date once their steps no longer wait, with
//! the audit trail completed from SSM's own record: for events and the sweep alike.

use super::adopt::adopt_after_the_end;
use super::events_app::{EventError, EventsApp};
use crate::deadline::{Deadline, unix_now};
use crate::domain::comment::decisions_in_outputs;
use crate::domain::execution::{Execution, Step};
use crate::domain::inbound::Decision;
use crate::domain::messages::decided::render_outcome;
use crate::domain::messages::starter::render_run_decided;
use crate::domain::place::{Place, Shown};
use crate::domain::record::{DecisionRecord, PromptRef, StepRecord, shown_state};
use crate::domain::starter::{SelfApproval, StartedBy, Starter};
use crate::domain::waiting::{StepCheck, StepKind, StepTarget, check_step};
use crate::slack::SlackError;

/// Brings every prompt of the execution whose step no longer waits up to date with
/// that step's own outcome (and who decided it in Slack). Returns the prompts
/// updated, with their step's status.
pub(crate) async fn refresh(
    app: &EventsApp,
    execution: &Execution,
    place: &Place,
    deadline: &Deadline,
) -> Result<Vec<(PromptRef, String)>, EventError> {
    let shown_at = Shown::named(place, app.account_name(place));
    let mut updated = vec![];
    for mut record in app.store.steps_of(&execution.id, deadline).await? {
        let Some(step) = execution.step_by_key(&record.step_key) else {
            continue;
        };
        let Some(kind) = StepKind::of(step) else {
            continue;
        };
        let target = StepTarget::for_step(&execution.id, step);
        if let StepCheck::WaitingNow(_) = check_step(execution, &target, kind) {
            continue;
        }
        complete_trail(app, execution, step, place, &mut record, deadline).await?;
        if record.prompt.is_none() {
            record.prompt =
                adopt_after_the_end(app, execution, step, kind, place, &record, deadline).await?;
        }
        let Some(prompt) = record.prompt.clone() else {
            continue;
        };
        let deciding = record.deciding(step);
        let shown = shown_state(execution, step, &deciding);
        if record.shown.as_deref() == Some(shown.as_str()) {
            continue;
        }
        // Who started it, as matched when the prompt was posted (the step no longer
        // waits, so whether they may approve is not shown).
        let started_by = record.starter.as_ref().map(|starter| StartedBy {
            starter,
            policy: SelfApproval::Allowed,
        });
        let shown_at = shown_at.clone().started_by(started_by);
        let message = render_outcome(execution, step, &deciding, &shown_at);
        match app
            .slack
            .update_message(&prompt.channel, &prompt.ts, &message, deadline)
            .await
        {
            Ok(()) => {}
            // The prompt is gone or no longer ours to edit: retrying cannot help.
            Err(e @ SlackError::Api { .. })
                if matches!(
                    e.api_error(),
                    Some(
                        "message_not_found"
                            | "channel_not_found"
                            | "cant_update_message"
                            | "is_archived"
                    )
                ) =>
            {
                tracing::warn!(error = %e, step_key = %record.step_key, "prompt can no longer be updated");
                app.store
                    .record_shown_and_unlist(&execution.id, &record.step_key, &shown, deadline)
                    .await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        app.store
            .record_shown_and_unlist(&execution.id, &record.step_key, &shown, deadline)
            .await?;
        tell_starter_the_outcome(
            app, execution, step, &record, &deciding, &shown_at, deadline,
        )
        .await;
        updated.push((prompt, step.status.to_string()));
    }
    Ok(updated)
}

/// The run's starter, matched to one Slack person, hears how its approval step
/// ended, once (the first delivery to claim it tells them).
async fn tell_starter_the_outcome(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    record: &StepRecord,
    deciding: &[DecisionRecord],
    shown: &Shown<'_>,
    deadline: &Deadline,
) {
    let Some(person) = record.starter.as_ref().and_then(Starter::person) else {
        return;
    };
    if !app.notify_starter
        || StepKind::of(step) != Some(StepKind::Approval)
        || !step.status.is_final()
    {
        return;
    }
    match app
        .store
        .claim_starter_news(&execution.id, &record.step_key, deadline)
        .await
    {
        Ok(true) => {
            let news = render_run_decided(execution, step, deciding, shown);
            app.tell_starter(person, &news, deadline).await;
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not claim telling the starter; not told"),
    }
}

/// The audit trail holds every decision SSM accepted. One from Slack whose record could
/// not be written in its click (or whose outcome the click never learnt), and one made
/// outside Slack, are read from SSM's own record of the ended step, its
/// `ApproverDecisions`, and added. A decision is credited to the Slack person its
/// comment names only when this deployment signed it ([`Signers`](crate::domain::identity::Signers)): anyone else's is
/// recorded as decided outside Slack, by the principal SSM names.
async fn complete_trail(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    place: &Place,
    record: &mut StepRecord,
    deadline: &Deadline,
) -> Result<(), EventError> {
    let Some(outputs) = step.outputs.get("ApproverDecisions") else {
        return Ok(());
    };
    let fallback_at = record
        .deciding
        .as_ref()
        .map_or_else(unix_now, |c| c.at_unix);
    // Without the interactions function's role (`INTERACTIONS_ROLE_ARN` unset: a local
    // run, an older stack) its signals cannot be told from anyone else's: SSM's entry
    // for a decision a click recorded (one per person and decision) is taken for that
    // click's own, and only entries beyond them are recorded as decided outside Slack.
    // With the role known, every entry is judged by its signer.
    let mut clicked: Vec<(String, Decision)> = if app.signers.own_role.is_none() {
        record
            .decisions
            .iter()
            .filter(|d| d.step_key == step.key() && d.principal.is_none())
            .map(|d| (d.user_id.clone(), d.decision))
            .collect()
    } else {
        vec![]
    };
    for found in decisions_in_outputs(outputs) {
        if let Some((user_id, _)) = &found.named
            && let Some(at) = clicked
                .iter()
                .position(|(u, d)| u == user_id && *d == found.decision)
        {
            clicked.remove(at);
            continue;
        }
        let credited = match (&found.approver, &found.named) {
            (Some(approver), Some((user_id, _))) => {
                app.signers
                    .credits(approver, place.account.as_deref(), user_id)
            }
            _ => false,
        };
        if found.named.is_some() && !credited {
            tracing::warn!(step_key = step.key(), approver = ?found.approver,
                "a decision whose comment names a Slack person was signalled by a principal this \
                 deployment does not sign with: recorded as decided outside Slack");
        }
        let decision = found.into_record(step.key(), fallback_at, credited);
        let known = record.decisions.iter().any(|d| {
            d.step_key == decision.step_key
                && d.user_id == decision.user_id
                && d.principal == decision.principal
                && d.decision == decision.decision
        });
        if known {
            continue;
        }
        app.store
            .record_decision(&execution.id, &step.name, &decision, true, deadline)
            .await?;
        tracing::warn!(step_key = step.key(), user_id = %decision.user_id, principal = ?decision.principal,
            decision = decision.decision.signal_type(),
            "a decision SSM accepted was missing from the audit trail; filled in from SSM's record");
        record.decisions.push(decision);
    }
    Ok(())
}
