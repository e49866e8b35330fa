//! What Slack's answers mean: the errors a call can end with ([`SlackError`]), and
//! whether an error answer may follow a call Slack carried out ([`effect_of_answer`]).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack {method}: {source}")]
    Transport {
        method: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("Slack {method} answered HTTP {status}: {detail}")]
    Status {
        method: &'static str,
        status: u16,
        detail: String,
    },
    #[error("Slack {method} refused the call: {error}")]
    Api {
        method: &'static str,
        error: String,
        /// The HTTP status it came with (Slack answers most refusals with 200).
        status: u16,
    },
    #[error(
        "Slack {method} is rate limited (Retry-After {retry_after:?}) and there is no time left to wait"
    )]
    RateLimited {
        method: &'static str,
        retry_after: Duration,
    },
    #[error("no time left to call Slack {method}")]
    OutOfTime { method: &'static str },
    #[error("refused to send to a {method} that is not https:// (or local, for local runs)")]
    UnsafeUrl { method: &'static str },
}

impl SlackError {
    /// What the `SlackErrors` metric counts it as: Slack's error code, or what stands
    /// for one.
    pub fn metric_code(&self) -> String {
        match self {
            Self::Api { error, .. } => error.clone(),
            Self::Status { status, .. } => format!("http_{status}"),
            Self::Transport { .. } => "unreachable".into(),
            Self::RateLimited { .. } => "ratelimited".into(),
            Self::OutOfTime { .. } => "out_of_time".into(),
            Self::UnsafeUrl { .. } => "unsafe_url".into(),
        }
    }

    pub(super) fn count(&self) {
        crate::metrics::slack_error(&self.metric_code());
    }

    /// Slack certainly did not carry the call out: it answered with an error that says
    /// nothing happened, or the call was never sent. Everything else (a timeout after
    /// the request went out, a 5xx, `internal_error`, …) leaves it open; see
    /// [`effect_of_answer`].
    pub fn certainly_not_done(&self) -> bool {
        match self {
            Self::Transport { source, .. } => source.is_connect() || source.is_builder(),
            Self::Status { status, .. } => effect_of_answer(*status, None) == Effect::NotDone,
            Self::Api { error, status, .. } => {
                effect_of_answer(*status, Some(error)) == Effect::NotDone
            }
            Self::RateLimited { .. } | Self::OutOfTime { .. } | Self::UnsafeUrl { .. } => true,
        }
    }

    /// Slack's error code for a refused call (`message_not_found`, `channel_not_found`, …).
    pub fn api_error(&self) -> Option<&str> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What an answer from Slack says about whether the call took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Slack says nothing happened (`ratelimited`, `channel_not_found`, …): the call
    /// can be made again without doing it twice.
    NotDone,
    /// It may have taken effect, partly or wholly: never made again at once.
    MaybeDone,
}

/// Error codes Slack documents as possibly following a call that took effect.
pub const MAYBE_DONE_ERRORS: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    // An answer that names no error says nothing either way.
    "unknown_error",
];

/// The one place where an error answer (HTTP `status`, and Slack's `error` code when
/// the body was `{"ok":false,…}`) is read for what it means: a 5xx, with or without a
/// JSON body, and the codes in [`MAYBE_DONE_ERRORS`] may follow a call that took
/// effect; any other refusal says nothing happened.
pub fn effect_of_answer(status: u16, error: Option<&str>) -> Effect {
    if status >= 500 || error.is_some_and(|e| MAYBE_DONE_ERRORS.contains(&e)) {
        return Effect::MaybeDone;
    }
    match error {
        Some(_) => Effect::NotDone,
        // No error code: a 4xx says it was refused; a success status whose body could
        // not be read may follow a call that was done.
        None if (400..500).contains(&status) => Effect::NotDone,
        None => Effect::MaybeDone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(error: &str, status: u16) -> SlackError {
        SlackError::Api {
            method: "chat.postMessage",
            error: error.into(),
            status,
        }
    }

    #[test]
    fn answers_that_may_follow_a_done_call_keep_it_open() {
        for code in [
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
            "unknown_error",
        ] {
            assert_eq!(
                effect_of_answer(200, Some(code)),
                Effect::MaybeDone,
                "{code}"
            );
            assert!(!api(code, 200).certainly_not_done(), "{code}");
        }
        // A 5xx says nothing either way, whatever its body.
        for status in [500, 502, 503, 504] {
            assert_eq!(effect_of_answer(status, None), Effect::MaybeDone);
            assert!(!api("ratelimited", status).certainly_not_done());
            let bare = SlackError::Status {
                method: "chat.postMessage",
                status,
                detail: String::new(),
            };
            assert!(!bare.certainly_not_done());
        }
        // A success status with a body that could not be read.
        assert_eq!(effect_of_answer(200, None), Effect::MaybeDone);
    }

    #[test]
    fn answers_that_say_nothing_happened_give_it_up() {
        for code in [
            "ratelimited",
            "not_in_channel",
            "channel_not_found",
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
            "missing_scope",
            "invalid_blocks",
            "msg_too_long",
            "is_archived",
            "restricted_action",
            "too_many_attachments",
        ] {
            assert_eq!(effect_of_answer(200, Some(code)), Effect::NotDone, "{code}");
            assert!(api(code, 200).certainly_not_done(), "{code}");
        }
        assert_eq!(effect_of_answer(429, Some("ratelimited")), Effect::NotDone);
        assert_eq!(effect_of_answer(404, None), Effect::NotDone);
        let limited = SlackError::RateLimited {
            method: "chat.postMessage",
            retry_after: Duration::from_secs(30),
        };
        assert!(limited.certainly_not_done());
        assert!(
            SlackError::OutOfTime {
                method: "chat.postMessage"
            }
            .certainly_not_done()
        );
    }
}
