//! Adopting a prompt whose post may have taken effect: after Slack answered a post
//! with `internal_error`, a 5xx or nothing at all (or its poster died), the holder of
//! the claim looks for the prompt in the channel's recent history, by the message
//! metadata every prompt carries, before it posts. Found, it is recorded as a post
//! would be; not found (or the history cannot be read), the prompt is posted.

use std::time::Duration;

use super::events_app::{EventError, EventsApp};
use crate::deadline::{Deadline, unix_now};
use crate::domain::adoption::{Search, find_prompt, oldest_arg, search_after_take_over};
use crate::domain::execution::{Execution, ExecutionId, Step};
use crate::domain::place::Place;
use crate::domain::record::{PostingState, PromptRef, StepRecord, WaitingStep};
use crate::domain::waiting::StepKind;

/// Messages asked for per page (Slack allows up to 999, and recommends 200 at most).
const PAGE_LIMIT: u32 = 200;
/// Pages read at most: a channel busier than a thousand messages in the minutes since
/// the claim is not searched further, and the prompt is posted.
const MAX_PAGES: usize = 5;
/// Kept back from looking: time to post, record, and take down (at most half of what
/// is left).
const AFTER_LOOKING: Duration = Duration::from_secs(15);

/// The prompt of step run `step_key` of `execution`, if `search` finds it in
/// `channel`. Every reason it cannot look is logged with what to fix; the caller then
/// posts, as it would have without looking.
pub(super) async fn look_for_prompt(
    app: &EventsApp,
    channel: &str,
    search: &Search,
    execution: &ExecutionId,
    step_key: &str,
    deadline: &Deadline,
) -> Option<PromptRef> {
    let looking = deadline.keeping(AFTER_LOOKING.min(deadline.remaining() / 2));
    // Only this app's own messages are its prompts.
    let own_bot = match app.slack.auth_test(&looking).await {
        Ok(identity) => identity.bot_id,
        Err(e) => {
            tracing::warn!(error = %e, "could not learn the app's bot ID; matching prompts by their metadata alone");
            None
        }
    };
    let oldest = oldest_arg(search.oldest_unix);
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = match app
            .slack
            .history_page(channel, &oldest, cursor.as_deref(), PAGE_LIMIT, &looking)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, remedy = %e.remedy(), %channel, execution_id = %execution, step_key,
                    "cannot read the channel's history to find a prompt whose post may have taken effect; posting it, so it may show twice");
                return None;
            }
        };
        if let Some(ts) = find_prompt(&page.messages, execution, step_key, own_bot.as_deref()) {
            tracing::info!(%channel, ts, step_key,
                "found the prompt whose post's outcome was unknown in the channel; adopting it");
            return Some(PromptRef {
                channel: channel.to_owned(),
                ts: ts.to_owned(),
            });
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => {
                tracing::info!(%channel, step_key,
                    "the prompt whose post's outcome was unknown is not in the channel; posting it");
                return None;
            }
        }
    }
    tracing::warn!(%channel, step_key, pages = MAX_PAGES, per_page = PAGE_LIMIT,
        "the prompt whose post's outcome was unknown is not in the channel's latest messages read; posting it");
    None
}

/// The prompt of a step that no longer waits, when its post was left in doubt (Slack's
/// answer said nothing, or its poster died) and nobody is resolving that now: found in
/// the channel, it is recorded, so that it is brought up to date like any prompt and
/// keeps no live buttons. Never posted: the step is over. `None` when there is nothing
/// to look for, someone else is looking, or it is not there.
pub(super) async fn adopt_after_the_end(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    kind: StepKind,
    place: &Place,
    record: &StepRecord,
    deadline: &Deadline,
) -> Result<Option<PromptRef>, EventError> {
    let held = match record.posting_state(unix_now()) {
        PostingState::Unresolved(held) | PostingState::Abandoned(held) => held,
        PostingState::Posted(_) | PostingState::BeingPosted => return Ok(None),
    };
    let Some(search) = search_after_take_over(record, &held) else {
        return Ok(None);
    };
    let id = &execution.id;
    let Some(claim) = app
        .store
        .take_over_posting(id, step.key(), &held, deadline)
        .await?
    else {
        return Ok(None);
    };
    let channel = match &search.channel {
        Some(channel) => channel.clone(),
        None => {
            let rules = app.rules.rules(app.places.home_ssm(), deadline).await;
            let applied = app
                .rules
                .fallback()
                .applied(&rules, place, &execution.document_name);
            applied
                .channel
                .expect("the events function's fallback always names a channel")
        }
    };
    let Some(prompt) = look_for_prompt(app, &channel, &search, id, step.key(), deadline).await
    else {
        // Nothing to show the outcome on; the claim goes, the doubt stays on the item.
        app.store
            .release_posting(id, step.key(), &claim, deadline)
            .await?;
        return Ok(None);
    };
    let waiting = WaitingStep {
        starter: record.starter.clone(),
        ..WaitingStep::of(execution, step, kind, place, unix_now())
    };
    // Listed as waiting for a moment: the update that follows takes it out again.
    app.store
        .record_prompt(&waiting, &claim, &prompt, deadline)
        .await?;
    crate::metrics::prompt_adopted();
    Ok(Some(prompt))
}
