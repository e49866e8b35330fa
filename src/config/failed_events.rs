//! Where Lambda puts events whose every try failed (`FAILED_EVENTS_QUEUE_URL`, the
//! template's `FailedEventsQueue`): the events function's sweep reads them back.

use super::{ConfigError, Env};

pub const FAILED_EVENTS_QUEUE_URL: &str = "FAILED_EVENTS_QUEUE_URL";

/// The queue's URL (`https://sqs.<Region>.amazonaws.com/<account>/<name>`), or `None`
/// when unset: nothing is read back then.
pub fn failed_events_queue(env: &impl Env) -> Result<Option<String>, ConfigError> {
    let Some(raw) = env
        .get(FAILED_EVENTS_QUEUE_URL)
        .filter(|r| !r.trim().is_empty())
    else {
        return Ok(None);
    };
    let url = raw.trim();
    let path = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| path);
    match path.and_then(|p| p.split_once('/')) {
        Some((account, name))
            if account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
                && !name.contains('/') =>
        {
            Ok(Some(url.to_owned()))
        }
        _ => Err(ConfigError::Invalid {
            variable: FAILED_EVENTS_QUEUE_URL,
            reason: format!(
                "{:?} is not an SQS queue URL (https://sqs.<Region>.amazonaws.com/<account>/<queue>)",
                url.chars().take(120).collect::<String>()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &str) -> Result<Option<String>, ConfigError> {
        let value = value.to_owned();
        failed_events_queue(&move |name: &str| {
            (name == FAILED_EVENTS_QUEUE_URL).then(|| value.clone())
        })
    }

    #[test]
    fn the_failed_events_queue_is_a_queue_url_or_unset() {
        let url =
            "https://sqs.eu-west-1.amazonaws.com/111122223333/approvals-FailedEventsQueue-AbC";
        assert_eq!(read(url).unwrap().as_deref(), Some(url));
        assert_eq!(read("  ").unwrap(), None);
        for bad in [
            "approvals-FailedEventsQueue",
            "https://sqs.eu-west-1.amazonaws.com/queue",
            "arn:aws:sqs:eu-west-1:111122223333:q",
        ] {
            let e = read(bad).unwrap_err().to_string();
            assert!(e.contains(FAILED_EVENTS_QUEUE_URL), "{e}");
        }
    }
}
