//! The app's Home tab, through Slack's Events API (JSON on the same Request URL,
//! signed like clicks): `url_verification` is answered with its challenge, and each
//! `app_home_opened` publishes "Waiting on you" for that person (`views.publish`):
//! the steps they may decide now under the rules, oldest first, from the index of
//! what waits (no SSM call), each with its own buttons, then their last decisions.
//!
//! A delivery is handled once: its `event_id` is recorded once its tab was published,
//! so a redelivery (`X-Slack-Retry-Num`, when the first was not answered 2xx in 3 s)
//! does nothing again, while one whose `views.publish` failed is answered with an
//! error (503) and handled again when Slack delivers it again.

use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde_json::json;
use tracing::Instrument;

use super::app::InteractionsApp;
use super::listing::{listable, permalinks, to_listed, unreadable};
use super::respond::{empty_ok, json_response, plain};
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::inbound::events_api::{SlackEvent, parse_slack_event};
use crate::domain::inbound::{Actor, SlackUser};
use crate::domain::messages::home::{HOME_LISTED_MAX, HOME_RECENT_MAX, home_view};
use crate::domain::record::WaitingStep;
use crate::permissions::Listing;
use crate::store::Cursor;

/// The index is read in pages of this many entries (about 1 KB each: inside
/// DynamoDB's 1 MB a page).
const INDEX_PAGE: i32 = 1000;
/// Kept back from reading the index: the permalinks and `views.publish`.
const TO_PUBLISH: Duration = Duration::from_millis(700);

/// An Events API delivery (signature already checked).
pub(super) async fn delivered(
    app: &InteractionsApp,
    body: &[u8],
    retry: Option<&str>,
    deadline: &Deadline,
) -> Response<Body> {
    let event = match parse_slack_event(body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "request refused: unreadable event");
            return plain(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    match event {
        SlackEvent::UrlVerification { challenge } => {
            tracing::info!("Events API Request URL verified");
            json_response(&json!({ "challenge": challenge }))
        }
        SlackEvent::Other { event_id, kind } => {
            tracing::info!(%event_id, %kind, "event not acted on");
            empty_ok()
        }
        SlackEvent::HomeOpened {
            event_id,
            user_id,
            team_id,
        } => {
            let span = tracing::info_span!("home_opened", %event_id, %user_id, retry);
            async {
                match app.store.delivery_handled(&event_id, deadline).await {
                    Ok(false) => {}
                    Ok(true) => {
                        tracing::info!("a delivery handled before (a redelivery): nothing done again");
                        return empty_ok();
                    }
                    // Publishing twice shows the same tab: better than none.
                    Err(e) => tracing::warn!(error = %e, "could not read whether the delivery was handled; publishing anyway"),
                }
                let actor = Actor {
                    user: SlackUser {
                        id: user_id,
                        username: None,
                        name: None,
                        team_id: None,
                    },
                    team_id,
                };
                if !publish(app, &actor, None, deadline).await {
                    // Not marked handled: Slack delivers it again after an error answer.
                    return plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the Home tab could not be published",
                    );
                }
                if let Err(e) = app.store.mark_delivery_handled(&event_id, deadline).await {
                    tracing::warn!(error = %e, "could not record the delivery as handled");
                }
                empty_ok()
            }
            .instrument(span)
            .await
        }
    }
}

/// Publishes `actor`'s Home tab, with `notice` (what became of what they just did);
/// `false` if Slack did not take it.
pub(super) async fn publish(
    app: &InteractionsApp,
    actor: &Actor,
    notice: Option<&str>,
    deadline: &Deadline,
) -> bool {
    let reading = deadline.keeping(TO_PUBLISH);
    let (found, recent) = tokio::join!(
        waiting_for(app, actor, &reading),
        app.store
            .recent_decisions(&actor.user.id, HOME_RECENT_MAX as i32, &reading)
    );
    let (found, more, unread) = match found {
        Ok((found, more)) => (found, more, None),
        Err(text) => (vec![], 0, Some(text)),
    };
    let recent = recent.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read the person's last decisions");
        vec![]
    });
    let links = permalinks(app, &found, deadline).await;
    let listed = to_listed(app, &found, links);
    let recent: Vec<_> = recent
        .iter()
        .map(|d| (d.clone(), app.shown(&d.place)))
        .collect();
    let notice = [notice, unread.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    let notice = (!notice.is_empty()).then_some(notice.as_str());
    let view = home_view(&listed, more, &recent, notice, unix_now());
    match app
        .slack
        .publish_home(&actor.user.id, &view, deadline)
        .await
    {
        Ok(()) => {
            tracing::info!(listed = listed.len(), more, "Home tab published");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the Home tab");
            false
        }
    }
}

/// What `actor` may decide now, oldest first: at most [`HOME_LISTED_MAX`], and how
/// many more there are. `Err`: what to say instead (the index could not be read).
async fn waiting_for(
    app: &InteractionsApp,
    actor: &Actor,
    deadline: &Deadline,
) -> Result<(Vec<(WaitingStep, Listing)>, usize), String> {
    let rules = app.permissions.rules(deadline).await;
    let mut found = vec![];
    let mut more = 0;
    let mut after: Option<Cursor> = None;
    loop {
        let page = match app
            .store
            .waiting_steps_oldest_first(after.as_ref(), INDEX_PAGE, deadline)
            .await
        {
            Ok(page) => page,
            Err(e) if after.is_some() => {
                tracing::warn!(error = %e, "could not read further; showing what was read");
                return Ok((found, more));
            }
            Err(e) => return Err(unreadable(&e)),
        };
        for step in page.steps {
            let Some(listing) = listable(app, actor, &rules, &step, deadline).await else {
                continue;
            };
            if found.len() < HOME_LISTED_MAX {
                found.push((step, listing));
            } else {
                more += 1;
            }
        }
        match page.next {
            Some(next) if deadline.fits(Duration::ZERO, CallFloor::AWS, Duration::ZERO) => {
                after = Some(next);
            }
            Some(_) => {
                tracing::warn!("out of time reading the index: the count of more is a floor");
                return Ok((found, more));
            }
            None => return Ok((found, more)),
        }
    }
}
