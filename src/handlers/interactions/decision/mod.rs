//! The one path a decision takes to SSM, whichever surface it came from (a prompt's
//! button, the `/approvals` list, a submitted reason form):
//!
//! 1. who may decide is asked first, with no AWS call (see [`Permissions`]), and
//!    whether the step's account can be served at all ([`access`]);
//! 2. the session in the step's account and Region (and the person's own, with
//!    per-person approvals) is made ready while the click claims the decision of its step run in the approvals table (a
//!    conditional write), so of clicks arriving together one signals, and each person
//!    counts once toward a quorum; a click that loses is told who is deciding;
//! 3. SSM is asked which step waits now: the signal goes out only if it is the very
//!    step run the prompt showed;
//! 4. the decision is signalled, at most once in effect, then recorded (the audit
//!    trail) in the same write that gives the claim up, while the prompt is replaced.
//!
//! A claim whose click died is taken over once its lease is over
//! ([`DECISION_LEASE_SECS`](crate::domain::record::DECISION_LEASE_SECS)); one whose signal's outcome is unknown is kept until
//! then, so no click sends a second signal while SSM may still be applying the first.
//!
//! [`Permissions`]: crate::permissions::Permissions

use std::time::Duration;

use aws_sdk_ssm::config::Credentials;
use serde_json::Value;
use tokio::time::Instant;

mod access;
mod claim;
mod quorum;
mod reason;

use self::access::{
    cannot_reach, may_decide, may_decide_what_ssm_reports, not_the_starter, person_session,
};

use self::claim::{Claimed, claim_step_run, decided_before};
use self::quorum::{Count, Counting, held_approval, quorum_progress};
use self::reason::open_reason_form;
use super::app::InteractionsApp;
use super::respond::{REPLY_RESERVE, replace_prompt};
use crate::deadline::{Deadline, unix_now};
use crate::domain::comment::signal_comment;
use crate::domain::execution::{Execution, Step};
use crate::domain::inbound::{Actor, Decision, MessageRef};
use crate::domain::messages::blocks::SlackMessage;
use crate::domain::messages::decided::{
    StepNews, explain_no_longer_waiting, render_decided, render_decided_step, render_gone,
    render_outcome,
};
use crate::domain::messages::progress::progress;
use crate::domain::messages::text::{code, escape};
use crate::domain::place::Place;
use crate::domain::record::{DecisionClaim, DecisionRecord, RecentDecision, StepRecord};
use crate::domain::waiting::{StepCheck, StepKind, StepTarget, check_step};
use crate::ssm::{Signal, SignalOutcome, Ssm};
use crate::store::new_token;

/// Time kept back from the calls before the signal: the signal, then the answer.
const SIGNAL_AND_REPLY: Duration = Duration::from_millis(450);
/// Time kept back from claiming the step run (and waiting for another click's claim):
/// the step check, the signal and the answer.
const CHECK_SIGNAL_AND_REPLY: Duration = Duration::from_millis(750);

/// A decision, wherever it was made: a prompt's button, the `/approvals` list, or a
/// submitted reason form.
pub(super) struct DecisionRequest<'a> {
    pub decision: Decision,
    pub target: &'a StepTarget,
    pub actor: &'a Actor,
    /// Where the clicked message (prompt or list) is answered and replaced.
    pub response_url: &'a str,
    /// The clicked prompt's blocks; empty for a list click or a form.
    pub message_blocks: &'a [Value],
    /// The click came from a list (`/approvals` or Home), not a prompt: never replace
    /// that with the outcome.
    pub from_list: bool,
    pub reason: Option<&'a str>,
    /// Open the reason form with this trigger instead of signalling a rejection.
    pub ask_reason_with: Option<&'a str>,
    /// Where the prompt is, for `chat.update` when its `response_url` has expired.
    pub prompt: Option<&'a MessageRef>,
    /// The account and Region the step runs in (the button's, else the deployment's).
    pub place: Place,
    /// Made on the Home tab (which is published again with the outcome).
    pub from_home: bool,
}

/// What becomes of a decision claim once the click is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterClaim {
    /// Nothing was decided: give it up, so another click may decide.
    Release,
    /// The decision was recorded, and the claim given up with it.
    Recorded,
    /// SSM's answer said neither way: keep it until its lease is over.
    Keep,
}

/// Returns what to tell the person, if the updated prompt does not say it.
pub(super) async fn decide(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Option<String> {
    let before_signal = deadline.keeping(SIGNAL_AND_REPLY);
    if let Err(refusal) = may_decide(app, request, &before_signal).await {
        tracing::info!(%refusal, "decision refused");
        return Some(refusal);
    }
    let place = &request.place;
    if let Some(trigger_id) = request.ask_reason_with {
        return open_reason_form(app, request, trigger_id, deadline).await;
    }
    let checking = Instant::now();
    let key = step_key_hint(request);
    let user = &request.actor.user;
    let claim = DecisionClaim {
        token: new_token(),
        user_id: user.id.clone(),
        handle: user.handle().to_owned(),
        decision: request.decision,
        at_unix: unix_now(),
    };
    // The claim, the person's session and the session in the step's account at once:
    // none depends on another.
    let (claimed, credentials, ssm) = tokio::join!(
        claim_step_run(app, request, &key, &claim, deadline),
        person_session(app, request, &before_signal),
        app.places.ssm(place, &before_signal)
    );
    let ssm = match ssm {
        Ok(ssm) => ssm,
        Err(e) => {
            tracing::error!(error = %e, %place, "cannot call SSM where the step runs; nothing signalled");
            if let Claimed::Won(_) = claimed
                && let Err(e) = app
                    .store
                    .release_decision(&request.target.execution_id, &key, &claim, deadline)
                    .await
            {
                tracing::warn!(error = %e, "could not give the decision claim up; its lease will");
            }
            return Some(cannot_reach(&e));
        }
    };
    let record = match claimed {
        Claimed::Won(record) => record,
        Claimed::Decided(record) => {
            return decided_before(app, &ssm, request, &record, &key, deadline).await;
        }
        Claimed::Not(text) => return Some(text),
    };
    let (answer, after) = match credentials {
        Ok(credentials) => {
            decide_claimed(
                app,
                &ssm,
                request,
                &claim,
                &record,
                credentials.as_ref(),
                checking,
                deadline,
            )
            .await
        }
        Err(refusal) => (Some(refusal), AfterClaim::Release),
    };
    if after == AfterClaim::Release
        && let Err(e) = app
            .store
            .release_decision(&request.target.execution_id, &key, &claim, deadline)
            .await
    {
        tracing::warn!(error = %e, "could not give the decision claim up; its lease will");
    }
    answer
}

/// The click holds the claim: check the step with SSM, then signal.
#[allow(clippy::too_many_arguments)]
async fn decide_claimed(
    app: &InteractionsApp,
    ssm: &Ssm,
    request: &DecisionRequest<'_>,
    claim: &DecisionClaim,
    record: &StepRecord,
    credentials: Option<&Credentials>,
    checking: Instant,
    deadline: &Deadline,
) -> (Option<String>, AfterClaim) {
    let id = &request.target.execution_id;
    let execution = ssm
        .get_execution(id, &deadline.keeping(SIGNAL_AND_REPLY))
        .await;
    tracing::info!(
        check_ms = checking.elapsed().as_secs_f64() * 1000.0,
        "claim and step check done"
    );
    let execution = match execution {
        Ok(e) => e,
        Err(e) if e.is_not_found() => {
            return (
                execution_gone(app, request, deadline).await,
                AfterClaim::Release,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read the execution; nothing signalled");
            return (Some(not_checked(e.code())), AfterClaim::Release);
        }
    };
    match check_step(&execution, request.target, request.decision.step_kind()) {
        StepCheck::WaitingNow(step) => {
            let rule = match may_decide_what_ssm_reports(app, request, &execution, deadline).await {
                Ok(rule) => rule,
                Err(refusal) => return (Some(refusal), AfterClaim::Release),
            };
            let before_signal = deadline.keeping(SIGNAL_AND_REPLY);
            if let Err(refusal) =
                not_the_starter(app, request, &execution, record, &rule, &before_signal).await
            {
                return (Some(refusal), AfterClaim::Release);
            }
            signal(
                app,
                ssm,
                request,
                &execution,
                step,
                claim,
                record,
                credentials,
                rule.approvals,
                deadline,
            )
            .await
        }
        other => (
            not_waiting(app, request, &execution, other, Some(record), deadline).await,
            AfterClaim::Release,
        ),
    }
}

fn not_checked(code: Option<&str>) -> String {
    format!(
        "The step could not be checked with AWS ({}), so nothing was done. \
         The request still waits; please try again.",
        escape(code.unwrap_or("no answer in time"))
    )
}

/// The step the request names does not wait now (for this kind of signal): say why.
async fn not_waiting(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    check: StepCheck<'_>,
    record: Option<&StepRecord>,
    deadline: &Deadline,
) -> Option<String> {
    match check {
        StepCheck::WaitingNow(_) => None,
        StepCheck::NoLongerWaiting(step) => {
            tracing::info!(step_status = %step.status, "the step is no longer waiting; nothing signalled");
            let news = StepNews::NothingDone;
            show_real_state(app, request, execution, step, news, record, deadline).await
        }
        StepCheck::WrongKind(step) => {
            tracing::warn!(action = %step.action, "the button's step is not of its kind; nothing signalled");
            Some(format!(
                "Nothing was done: step {} is an {} step, not {}.",
                code(&step.name),
                code(&step.action),
                match request.decision.step_kind() {
                    StepKind::Approval => "an approval",
                    StepKind::Pause => "a pause",
                }
            ))
        }
        StepCheck::Unknown => {
            tracing::warn!("the button's step is not part of the execution; nothing signalled");
            Some(format!(
                "Nothing was done: automation execution {} has no step {} as this prompt shows it.",
                code(request.target.execution_id.as_str()),
                code(&request.target.step_name)
            ))
        }
    }
}

/// The table's key for the step a request names: its run's ID, else its name (as
/// `Step::key` gives it for the step SSM reports).
fn step_key_hint(request: &DecisionRequest<'_>) -> String {
    request
        .target
        .step_execution_id
        .clone()
        .unwrap_or_else(|| request.target.step_name.clone())
}

/// The step is waiting now and this click holds its claim: send the decision, at
/// most once in effect.
#[allow(clippy::too_many_arguments)]
async fn signal(
    app: &InteractionsApp,
    ssm: &Ssm,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    claim: &DecisionClaim,
    record: &StepRecord,
    credentials: Option<&Credentials>,
    rule_approvals: u32,
    deadline: &Deadline,
) -> (Option<String>, AfterClaim) {
    let DecisionRequest {
        decision,
        target,
        actor,
        reason,
        ..
    } = request;
    let user = &actor.user;
    let id = &target.execution_id;
    let per_person = credentials.is_some();
    let count = Count::of(
        step.approval().min_required_approvals,
        rule_approvals,
        per_person,
    );
    let needed = count.needed;
    let quorum = *decision == Decision::Approve && needed > 1;
    // The approvals so far, read in the claim's own write: one person counts once.
    let prior: Vec<DecisionRecord> = record
        .approvals_of(step.key())
        .into_iter()
        .cloned()
        .collect();
    let counted = per_person || count.held > 0;
    if quorum && counted && prior.iter().any(|a| a.user_id == user.id) {
        tracing::info!("approved before by the same person; nothing signalled");
        let text = format!(
            "You approved step {} already, and one person counts once. {}. \
             It waits for another approver.",
            code(&step.name),
            progress(&prior, needed)
        );
        return (Some(text), AfterClaim::Release);
    }
    if quorum && counted && prior.len() >= needed as usize {
        tracing::info!("the quorum is met already; nothing signalled");
        let text = format!(
            "Nothing was done: step {} has all the approvals it needs already ({}).",
            code(&step.name),
            progress(&prior, needed)
        );
        return (Some(text), AfterClaim::Release);
    }
    if quorum && prior.len() < count.held as usize {
        // The rule wants more people than SSM will count: this approval is the app's
        // to count. Recorded, nothing signalled; the step waits for the next person.
        let (answer, recorded) =
            held_approval(app, request, step, claim, prior, needed, deadline).await;
        let after = if recorded {
            AfterClaim::Recorded
        } else {
            AfterClaim::Release
        };
        return (Some(answer), after);
    }
    let comment = signal_comment(*decision, user.handle(), &user.id, *reason);
    let outcome = ssm
        .send_decision(
            id,
            &Signal {
                decision: *decision,
                step_name: &step.name,
                comment: &comment,
            },
            credentials,
            deadline,
            REPLY_RESERVE,
        )
        .await;
    let answer = match outcome {
        SignalOutcome::Accepted => {
            tracing::info!("decision accepted by SSM");
            crate::metrics::decision(decision.outcome_name());
            let decided = DecisionRecord {
                step_key: step.key().to_owned(),
                decision: *decision,
                user_id: user.id.clone(),
                handle: user.handle().to_owned(),
                at_unix: unix_now(),
                reason: reason.map(str::to_owned),
                principal: None,
            };
            // The person's Home tab lists their last decisions: kept beside the trail.
            let recent = RecentDecision {
                decision: *decision,
                runbook: execution.document_name.clone(),
                step_name: step.name.clone(),
                execution_id: id.as_str().to_owned(),
                place: request.place.clone(),
                at_unix: decided.at_unix,
            };
            let remember = async {
                if let Err(e) = app
                    .store
                    .remember_decision(&user.id, &recent, deadline)
                    .await
                {
                    tracing::warn!(error = %e, "could not keep the decision for the Home tab");
                }
            };
            let shown = async {
                if quorum {
                    let mut approvals = prior;
                    approvals.push(decided.clone());
                    let counting = Counting {
                        needed,
                        counted,
                        per_person,
                    };
                    quorum_progress(
                        app, ssm, request, step, claim, decided, approvals, counting, deadline,
                    )
                    .await
                } else {
                    show_decided(app, request, execution, step, claim, &decided, deadline).await
                }
            };
            let (answer, ()) = tokio::join!(shown, remember);
            return (answer, AfterClaim::Recorded);
        }
        SignalOutcome::NotFound => {
            crate::metrics::decision("gone");
            execution_gone(app, request, deadline).await
        }
        SignalOutcome::NotWaiting(reason) => {
            crate::metrics::decision("not_accepted");
            // The step moved on between the check and the signal (decided outside
            // Slack), or SSM refuses this principal: the state now says which.
            tracing::info!(%reason, "SSM refused the signal");
            let news = StepNews::NothingDone;
            match show_if_ended(app, ssm, request, news, Some(record), deadline).await {
                Some(answer) => Some(answer),
                None => Some(format!(
                    "SSM did not accept the decision: {}. Nothing was done; the request still waits.",
                    escape(&reason)
                )),
            }
        }
        SignalOutcome::NotApplied(e) => {
            tracing::warn!(error = %e, "SSM did not act on the signal");
            crate::metrics::decision("not_applied");
            Some(format!(
                "AWS did not take the decision ({}), so nothing was done. The request still waits; \
                 please try again in a moment.",
                escape(e.code().unwrap_or("no time left"))
            ))
        }
        SignalOutcome::Unknown(e) => {
            // It may have been applied: never sent again, and the claim is kept until
            // its lease is over. Correct the prompt from SSM's state if it already
            // shows the outcome; else the step's event will (and completes the trail).
            tracing::error!(error = %e, "decision outcome unknown; not sent again");
            crate::metrics::decision("unknown");
            let news = StepNews::Unconfirmed;
            let answer = show_if_ended(app, ssm, request, news, Some(record), deadline).await;
            let answer = answer.unwrap_or_else(|| {
                format!(
                    "The outcome of your decision is not known yet: AWS gave no clear answer ({}). \
                     It may have been recorded, so it was not sent again. The prompt updates itself \
                     when the step changes; if it still waits in a minute, decide again.",
                    escape(e.code().unwrap_or("no answer in time"))
                )
            });
            return (Some(answer), AfterClaim::Keep);
        }
    };
    (answer, AfterClaim::Release)
}

/// Reads the execution again: if the step the request names no longer waits (it
/// moved on meanwhile), shows its real state with `news` and returns what to tell the
/// person. `None`: it still waits, or SSM did not answer.
async fn show_if_ended(
    app: &InteractionsApp,
    ssm: &Ssm,
    request: &DecisionRequest<'_>,
    news: StepNews,
    record: Option<&StepRecord>,
    deadline: &Deadline,
) -> Option<String> {
    let now = ssm
        .get_execution(
            &request.target.execution_id,
            &deadline.keeping(REPLY_RESERVE),
        )
        .await;
    match &now {
        Ok(execution) => {
            match check_step(execution, request.target, request.decision.step_kind()) {
                StepCheck::NoLongerWaiting(step) => {
                    tracing::info!(step_status = %step.status, "the step no longer waits");
                    show_real_state(app, request, execution, step, news, record, deadline).await
                }
                _ => None,
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the execution again");
            None
        }
    }
}

/// SSM took the decision and the step is over: record it (giving the claim up) and
/// show it, at once: the record adds no latency.
async fn show_decided(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    claim: &DecisionClaim,
    record: &DecisionRecord,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let replacing = async {
        if request.from_list {
            return;
        }
        let message = decided_prompt(app, request, execution, step, std::slice::from_ref(record));
        replace(app, request, &message, deadline).await;
    };
    let ((), recorded) = tokio::join!(
        replacing,
        app.store
            .finish_decision(id, &step.name, claim, record, true, deadline),
    );
    if let Err(e) = recorded {
        tracing::error!(error = %e, "decision recorded in SSM, but not in the approvals table; the step's event fills it in");
    }
    request.from_list.then(|| {
        format!(
            "{} by you: step {} of {}. Its prompt in the channel shows it shortly.",
            record.decision.past_tense(),
            code(&step.name),
            code(&execution.document_name)
        )
    })
}

/// The prompt once decided: the clicked blocks with the outcome in place of the
/// buttons, or, without them (a decision made in the reason form), drawn anew.
fn decided_prompt(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
) -> SlackMessage {
    if request.message_blocks.is_empty() {
        render_decided_step(execution, step, decided, &app.shown(&request.place))
    } else {
        render_decided(
            request.message_blocks,
            decided,
            request.target.execution_id.as_str(),
        )
    }
}

/// The step no longer waits: say what became of it, and show its real outcome in
/// the prompt (with who decided, when that was decided in Slack). `record`: the
/// step's item as this click read it, if it did.
async fn show_real_state(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    news: StepNews,
    record: Option<&StepRecord>,
    deadline: &Deadline,
) -> Option<String> {
    let read;
    let record = match record {
        Some(record) => Some(record),
        None => {
            read = app
                .store
                .get(&execution.id, step.key(), &deadline.keeping(REPLY_RESERVE))
                .await;
            match &read {
                Ok(record) => record.as_ref(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read who decided");
                    None
                }
            }
        }
    };
    let deciding = record.map(|r| r.deciding(step)).unwrap_or_default();
    let text = explain_no_longer_waiting(execution, step, &deciding, news);
    if !request.from_list {
        let current = render_outcome(execution, step, &deciding, &app.shown(&request.place));
        replace(app, request, &current, deadline).await;
    }
    Some(text)
}

async fn execution_gone(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    tracing::info!("execution not found");
    if !request.from_list {
        let gone = render_gone(request.message_blocks, id.as_str());
        replace(app, request, &gone, deadline).await;
    }
    Some(format!(
        "Automation execution {} no longer exists, so nothing was done.",
        code(id.as_str())
    ))
}

async fn replace(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    message: &SlackMessage,
    deadline: &Deadline,
) {
    replace_prompt(app, request.response_url, request.prompt, message, deadline).await;
}
