//! `/approvals`: what waits for this person now, answered in the HTTP response itself,
//! from the approvals table's index of what waits (one paged `Query`, whatever the
//! number of accounts, Regions and runbooks; SSM is not asked).
//!
//! Each entry is checked against the rule for its account, Region and runbook: only
//! what this person may decide is listed. Where its approvers are named, the entry
//! carries its own buttons, which decide exactly as the prompt's do (the step is
//! checked with SSM before any signal). Where anyone who can see the prompt may decide
//! (`*`), the list would reach people the prompt does not (a guest, someone outside
//! the private channel), so the entry carries no buttons but a link to its prompt
//! (`chat.getPermalink`), which Slack opens only for people who can read that channel.
//! A "More" button shows the next page; each page says how many wait in all ("10 of
//! 60": the rest of the index is read to count them, without listing them).

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::json;
use tracing::Instrument;

use super::app::InteractionsApp;
use super::listing::{listable, permalinks, to_listed, unreadable};
use super::respond::{REPLY_RESERVE, json_response, tell};
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::inbound::Actor;
use crate::domain::inbound::slash_command::{APPROVALS_COMMAND, SlashCommand};
use crate::domain::messages::blocks::SlackMessage;
use crate::domain::messages::list::{Counted, LISTED_MAX, waiting_list};
use crate::domain::messages::notices::ephemeral;
use crate::domain::record::WaitingStep;
use crate::permissions::Listing;
use crate::store::Cursor;

/// Entries read by the first page of the index: most people may decide most of what
/// waits, so a few pages' worth of entries fill a list page.
const FIRST_INDEX_PAGE: i32 = 4 * LISTED_MAX as i32;
/// Each next page reads this many times more, up to [`INDEX_PAGE_MAX`]: someone who may
/// decide only a few of 2,000 waiting steps is answered in three reads.
const INDEX_PAGE_GROWTH: i32 = 25;
/// DynamoDB stops a page at 1 MB anyway; a waiting step's item is well under 1 KB.
const INDEX_PAGE_MAX: i32 = 1000;
/// Kept back from reading the index for the permalinks and the answer.
const AFTER_READING: Duration = Duration::from_millis(600);

pub(super) async fn answer(
    app: &InteractionsApp,
    command: SlashCommand,
    deadline: &Deadline,
) -> Response<Body> {
    let span = tracing::info_span!("command", command = %command.command, user_id = %command.actor.user.id);
    async {
        if command.command != APPROVALS_COMMAND {
            tracing::warn!("a slash command that is not ours");
            return json_response(&ephemeral(&format!(
                "This app answers {APPROVALS_COMMAND} only."
            )));
        }
        // The list must be answered in the response itself: keep time to send it.
        let listing = deadline.keeping(REPLY_RESERVE);
        let message = match list(app, &command.actor, None, &listing).await {
            Ok(message) => message,
            Err(text) => return json_response(&ephemeral(&text)),
        };
        json_response(
            &json!({"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}),
        )
    }
    .instrument(span)
    .await
}

/// The list's "More" button: the next page replaces the list.
pub(super) async fn more(
    app: &InteractionsApp,
    actor: Actor,
    response_url: &str,
    after: &str,
    deadline: &Deadline,
) {
    let span = tracing::info_span!("list_more", user_id = %actor.user.id);
    async {
        let Some(cursor) = Cursor::decode(after) else {
            tracing::warn!("a More button this version did not write");
            let text = format!("Nothing to show: this list is out of date. Run {APPROVALS_COMMAND} again.");
            tell(app, response_url, &text, deadline).await;
            return;
        };
        let listing = deadline.keeping(REPLY_RESERVE);
        match list(app, &actor, Some(&cursor), &listing).await {
            Ok(message) => {
                let body = json!({"replace_original": true, "text": message.text, "blocks": message.blocks});
                if let Err(e) = app.slack.respond(response_url, &body, deadline).await {
                    tracing::warn!(error = %e, "could not show the next page");
                }
            }
            Err(text) => tell(app, response_url, &text, deadline).await,
        }
    }
    .instrument(span)
    .await
}

/// One page of what this person may decide, from `after` on. `Err`: what to say
/// instead (the index could not be read).
async fn list(
    app: &InteractionsApp,
    actor: &Actor,
    after: Option<&Cursor>,
    deadline: &Deadline,
) -> Result<SlackMessage, String> {
    let rules = app.permissions.rules(deadline).await;
    let reading = deadline.keeping(AFTER_READING);
    let before = after.map_or(0, |c| c.shown_before);
    let mut cursor = after.cloned();
    let mut found: Vec<(WaitingStep, Listing)> = vec![];
    // What this person may decide beyond this page: counted, not listed.
    let mut beyond = 0usize;
    let (mut read, mut not_yours) = (0usize, 0usize);
    let mut limit = FIRST_INDEX_PAGE;
    // Where the index was left unread (out of time, or a failed read): `None` once
    // read to its end.
    let unread: Option<Option<Cursor>> = 'pages: loop {
        let page = match app
            .store
            .waiting_steps(cursor.as_ref(), limit, &reading)
            .await
        {
            Ok(page) => page,
            Err(e) if read > 0 || !found.is_empty() => {
                tracing::warn!(error = %e, "could not read further; listing what was read");
                break 'pages Some(cursor);
            }
            Err(e) => return Err(unreadable(&e)),
        };
        if page.unreadable > 0 {
            tracing::warn!(
                entries = page.unreadable,
                "index entries this version cannot read were skipped"
            );
        }
        for step in page.steps {
            read += 1;
            let Some(listing) = listable(app, actor, &rules, &step, &reading).await else {
                not_yours += 1;
                continue;
            };
            if found.len() < LISTED_MAX {
                found.push((step, listing));
            } else {
                beyond += 1;
            }
        }
        match page.next {
            Some(next) if reading.fits(Duration::ZERO, CallFloor::AWS, Duration::ZERO) => {
                cursor = Some(next);
                limit = (limit * INDEX_PAGE_GROWTH).min(INDEX_PAGE_MAX);
            }
            // Out of time: the rest is one click on More away.
            Some(next) => break 'pages Some(Some(next)),
            None => break 'pages None,
        }
    };
    let complete = unread.is_none();
    // The next page goes on after this page's last entry, or, if this page is not
    // full, from where reading stopped.
    let next = if found.len() == LISTED_MAX && (beyond > 0 || !complete) {
        Some(Cursor::after(&found[LISTED_MAX - 1].0))
    } else {
        unread.flatten()
    };
    let next = next.map(|c| c.having_shown(before + found.len()));
    let counted = Counted {
        before,
        total: before + found.len() + beyond,
        complete,
    };
    let links = permalinks(app, &found, deadline).await;
    let listed = to_listed(app, &found, links);
    tracing::info!(
        read,
        listed = listed.len(),
        not_yours,
        more = next.is_some(),
        total = counted.total,
        "list answered"
    );
    let next = next.map(|c| c.encode());
    Ok(waiting_list(
        &listed,
        next.as_deref(),
        after.is_none(),
        counted,
        unix_now(),
    ))
}
