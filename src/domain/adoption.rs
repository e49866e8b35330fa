//! Finding a prompt whose post may have taken effect: the metadata each prompt carries
//! (naming its step run), where to look for it after Slack's answer left its post in
//! doubt, and which message of the channel's history is that prompt. Pure: the rules,
//! not the calls.

use serde_json::{Value, json};

use super::execution::ExecutionId;
use super::place::Place;
use super::record::{PostingClaim, StepRecord};

/// The `event_type` of a prompt's message metadata. Slack allows letters, digits,
/// underscores and hyphens (no periods).
pub const PROMPT_EVENT_TYPE: &str = "ssm_approval_prompt";

/// How far before the claim whose post may have taken effect the history is read:
/// Slack's clock and the function's may differ by a little.
pub const CLOCK_MARGIN_SECS: i64 = 60;

/// The message metadata (`metadata` on `chat.postMessage`) of the prompt of step run
/// `step_key` (named `step_name`) of `execution`, waiting in `place`: a few short
/// strings, far inside Slack's limits.
pub fn prompt_metadata(
    execution: &ExecutionId,
    step_key: &str,
    step_name: &str,
    place: &Place,
) -> Value {
    let mut payload = json!({
        "execution_id": execution.as_str(),
        "step_key": step_key,
        "step_name": step_name,
        "region": place.region,
    });
    if let Some(account) = &place.account {
        payload["account"] = json!(account);
    }
    json!({"event_type": PROMPT_EVENT_TYPE, "event_payload": payload})
}

/// Where to look for a prompt that may have been posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The channel the post went to, when it was recorded (else the step's channel now).
    pub channel: Option<String>,
    /// Messages older than this (Unix seconds) cannot be the prompt.
    pub oldest_unix: i64,
}

/// Where to look after taking over `taken_over`, the claim `record` held: a claim
/// with an owner may have posted before its owner died or learnt nothing, and an
/// earlier post left in doubt stays in doubt until found. `None`: nothing was ever
/// posted under it (no claim at all), so post at once.
pub fn search_after_take_over(record: &StepRecord, taken_over: &PostingClaim) -> Option<Search> {
    let claimed = (!taken_over.token.is_empty()).then_some(taken_over.at_unix);
    let since = match (&record.maybe_posted, claimed) {
        (Some(maybe), Some(at)) => maybe.since_unix.min(at),
        (Some(maybe), None) => maybe.since_unix,
        (None, Some(at)) => at,
        (None, None) => return None,
    };
    Some(Search {
        channel: record.maybe_posted.as_ref().map(|m| m.channel.clone()),
        oldest_unix: since - CLOCK_MARGIN_SECS,
    })
}

/// The `ts` of the prompt of step run `step_key` of `execution` among `messages` (a
/// `conversations.history` page, read with `include_all_metadata`), if one is there:
/// a message whose metadata names that very step run, posted by this app's bot
/// (`own_bot`, when known: another app could post such metadata too).
pub fn find_prompt<'a>(
    messages: &'a [Value],
    execution: &ExecutionId,
    step_key: &str,
    own_bot: Option<&str>,
) -> Option<&'a str> {
    messages
        .iter()
        .filter(|m| own_bot.is_none_or(|bot| m["bot_id"].as_str() == Some(bot)))
        .filter(|m| m["metadata"]["event_type"] == PROMPT_EVENT_TYPE)
        .filter(|m| {
            let payload = &m["metadata"]["event_payload"];
            payload["execution_id"] == execution.as_str() && payload["step_key"] == step_key
        })
        // A reply in a thread is never a prompt.
        .filter(|m| m["thread_ts"].is_null() || m["thread_ts"] == m["ts"])
        // The oldest, should there be two: the first to have been seen.
        .filter_map(|m| m["ts"].as_str())
        .min_by(|a, b| ts_order(a, b))
}

fn ts_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |t: &str| {
        let (s, f) = t.split_once('.').unwrap_or((t, "0"));
        (s.parse::<u64>().unwrap_or(0), f.parse::<u64>().unwrap_or(0))
    };
    parse(a).cmp(&parse(b))
}

/// Slack's `oldest` for messages from `unix` on.
pub fn oldest_arg(unix: i64) -> String {
    format!("{}.000000", unix.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::MaybePosted;

    const EXECUTION: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";

    fn id() -> ExecutionId {
        ExecutionId::parse(EXECUTION).unwrap()
    }

    fn message(ts: &str, bot: &str, step_key: &str) -> Value {
        let mut metadata = prompt_metadata(
            &id(),
            step_key,
            "approveRollout",
            &Place::new(Some("111122223333"), "us-east-1"),
        );
        metadata["event_payload"]["extra"] = json!("ignored");
        json!({"type": "message", "ts": ts, "bot_id": bot, "metadata": metadata})
    }

    #[test]
    fn a_prompt_names_its_step_run_in_slack_metadata() {
        let m = prompt_metadata(
            &id(),
            "run-1",
            "approveRollout",
            &Place::new(Some("111122223333"), "eu-west-1"),
        );
        assert_eq!(m["event_type"], PROMPT_EVENT_TYPE);
        assert!(
            PROMPT_EVENT_TYPE
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
        assert_eq!(
            m["event_payload"],
            json!({"execution_id": EXECUTION, "step_key": "run-1", "step_name": "approveRollout",
                   "region": "eu-west-1", "account": "111122223333"})
        );
        let home = prompt_metadata(&id(), "run-1", "a", &Place::new(None, "us-east-1"));
        assert!(home["event_payload"].get("account").is_none());
        assert!(m.to_string().len() < 400);
    }

    #[test]
    fn only_the_prompt_of_that_step_run_by_this_bot_is_found() {
        let mut other_app = message("1.000003", "B0OTHER", "run-1");
        other_app["bot_id"] = json!("B0OTHER");
        let mut reply = message("1.000004", "B0LOCAL", "run-1");
        reply["thread_ts"] = json!("1.000001");
        let mut no_metadata = message("1.000005", "B0LOCAL", "run-1");
        no_metadata.as_object_mut().unwrap().remove("metadata");
        let page = vec![
            message("9.000009", "B0LOCAL", "run-2"),
            other_app,
            reply,
            no_metadata,
            message("2.000010", "B0LOCAL", "run-1"),
            message("10.000002", "B0LOCAL", "run-1"),
        ];
        assert_eq!(
            find_prompt(&page, &id(), "run-1", Some("B0LOCAL")),
            Some("2.000010"),
            "the oldest of two"
        );
        assert_eq!(
            find_prompt(&page, &id(), "run-1", None),
            Some("1.000003"),
            "without knowing the bot, any app's metadata matches"
        );
        assert_eq!(find_prompt(&page, &id(), "run-3", Some("B0LOCAL")), None);
        let elsewhere = ExecutionId::parse("433ba70b-2333-48db-b17e-a5e69c6f4d1c").unwrap();
        assert_eq!(find_prompt(&page, &elsewhere, "run-2", None), None);
    }

    fn record(maybe: Option<(i64, &str)>) -> StepRecord {
        StepRecord {
            execution_id: id(),
            step_key: "run-1".into(),
            step_name: "approveRollout".into(),
            claim: None,
            prompt: None,
            decisions: vec![],
            shown: None,
            deciding: None,
            decided: false,
            starter: None,
            maybe_posted: maybe.map(|(since_unix, channel)| MaybePosted {
                since_unix,
                channel: channel.into(),
                unresolved: true,
            }),
        }
    }

    #[test]
    fn a_take_over_looks_from_before_the_earliest_post_in_doubt() {
        let claim = |token: &str, at_unix| PostingClaim {
            token: token.into(),
            at_unix,
        };
        // A poster that may have died after posting: look from its claim.
        assert_eq!(
            search_after_take_over(&record(None), &claim("t", 1_000)),
            Some(Search {
                channel: None,
                oldest_unix: 1_000 - CLOCK_MARGIN_SECS
            })
        );
        // A post left in doubt earlier, under a claim since given up or taken over.
        assert_eq!(
            search_after_take_over(&record(Some((900, "C1"))), &claim("t", 1_000)),
            Some(Search {
                channel: Some("C1".into()),
                oldest_unix: 900 - CLOCK_MARGIN_SECS
            })
        );
        assert_eq!(
            search_after_take_over(&record(Some((900, "C1"))), &claim("", 0)),
            Some(Search {
                channel: Some("C1".into()),
                oldest_unix: 900 - CLOCK_MARGIN_SECS
            })
        );
        // No claim ever held it: nothing was posted.
        assert_eq!(search_after_take_over(&record(None), &claim("", 0)), None);
        assert_eq!(oldest_arg(940), "940.000000");
    }
}
