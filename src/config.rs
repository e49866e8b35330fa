//! Configuration from the environment: the public contract documented in the README.
//!
//! Everything is validated at start-up, and every error names the variable, so a
//! misconfigured function fails its init instead of its first request.

use std::fmt;

use crate::domain::approvers::{ApproverPolicy, ApproversError};

pub const SIGNING_SECRET: &str = "SLACK_SIGNING_SECRET";
pub const BOT_TOKEN: &str = "SLACK_BOT_TOKEN";
pub const CHANNEL: &str = "SLACK_CHANNEL";
pub const APPROVERS: &str = "SLACK_APPROVERS";
pub const API_URL: &str = "SLACK_API_URL";
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// A value that must never reach a log: `Debug` shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret comes from: the variable itself, or an SSM SecureString parameter
/// named by `<VARIABLE>_PARAMETER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Value(Secret),
    Parameter {
        variable: &'static str,
        name: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{0} is not set (set {0}, or {0}_PARAMETER to the name of an SSM SecureString parameter)"
    )]
    MissingSecret(&'static str),
    #[error("both {0} and {0}_PARAMETER are set; set only one")]
    ContradictorySecret(&'static str),
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{variable}: {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Approvers(#[from] ApproversError),
    #[error("{variable}_PARAMETER: could not read SSM parameter {name:?}: {reason}")]
    Parameter {
        variable: &'static str,
        name: String,
        reason: String,
    },
}

/// Reads one variable; empty counts as unset. Tests pass a map, binaries the process env.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Debug, Clone)]
pub struct EventsSettings {
    pub slack_api_url: String,
    pub bot_token: SecretSource,
    pub channel: String,
}

#[derive(Debug, Clone)]
pub struct InteractionsSettings {
    pub slack_api_url: String,
    pub bot_token: SecretSource,
    pub signing_secret: SecretSource,
    pub approvers: ApproverPolicy,
}

impl EventsSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let channel = env
            .get(CHANNEL)
            .ok_or(ConfigError::Missing(CHANNEL))?
            .trim()
            .to_owned();
        let looks_like_id = channel.len() >= 3
            && matches!(channel.as_bytes()[0], b'C' | b'G' | b'D')
            && channel
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !looks_like_id {
            return Err(ConfigError::Invalid {
                variable: CHANNEL,
                reason: format!(
                    "{channel:?} is not a channel ID (like C0123456789); find it under the channel's name → About"
                ),
            });
        }
        Ok(Self {
            slack_api_url: slack_api_url(env)?,
            bot_token: secret_source(env, BOT_TOKEN)?,
            channel,
        })
    }
}

impl InteractionsSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Self {
            slack_api_url: slack_api_url(env)?,
            bot_token: secret_source(env, BOT_TOKEN)?,
            signing_secret: secret_source(env, SIGNING_SECRET)?,
            approvers: ApproverPolicy::parse(env.get(APPROVERS).as_deref())?,
        })
    }
}

fn slack_api_url(env: &impl Env) -> Result<String, ConfigError> {
    let url = env
        .get(API_URL)
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !url.contains(char::is_whitespace) => Ok(url.to_owned()),
        _ => Err(ConfigError::Invalid {
            variable: API_URL,
            reason: format!("{url:?} is not an http(s) URL like {DEFAULT_API_URL}"),
        }),
    }
}

fn secret_source(env: &impl Env, variable: &'static str) -> Result<SecretSource, ConfigError> {
    let parameter_variable = format!("{variable}_PARAMETER");
    match (env.get(variable), env.get(&parameter_variable)) {
        (Some(_), Some(_)) => Err(ConfigError::ContradictorySecret(variable)),
        (Some(value), None) => Ok(SecretSource::Value(Secret::new(value.trim()))),
        (None, Some(name)) => Ok(SecretSource::Parameter {
            variable,
            name: name.trim().to_owned(),
        }),
        (None, None) => Err(ConfigError::MissingSecret(variable)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn events_settings_need_a_channel_id_and_a_token() {
        let ok = EventsSettings::from_env(&env(&[(CHANNEL, "C0APPROVALS"), (BOT_TOKEN, "xoxb-1")]))
            .unwrap();
        assert_eq!(ok.slack_api_url, DEFAULT_API_URL);
        assert_eq!(ok.bot_token, SecretSource::Value(Secret::new("xoxb-1")));
        let err = EventsSettings::from_env(&env(&[(BOT_TOKEN, "xoxb-1")])).unwrap_err();
        assert!(err.to_string().contains(CHANNEL));
        let err = EventsSettings::from_env(&env(&[(CHANNEL, "#approvals"), (BOT_TOKEN, "xoxb-1")]))
            .unwrap_err();
        assert!(err.to_string().starts_with("SLACK_CHANNEL:"));
        let err = EventsSettings::from_env(&env(&[(CHANNEL, "C0APPROVALS")])).unwrap_err();
        assert!(err.to_string().contains("SLACK_BOT_TOKEN is not set"));
    }

    #[test]
    fn secrets_come_from_exactly_one_place() {
        let from_parameter = InteractionsSettings::from_env(&env(&[
            ("SLACK_BOT_TOKEN_PARAMETER", "/approvals/bot-token"),
            (SIGNING_SECRET, "s3cret"),
        ]))
        .unwrap();
        assert_eq!(
            from_parameter.bot_token,
            SecretSource::Parameter {
                variable: BOT_TOKEN,
                name: "/approvals/bot-token".into()
            }
        );
        assert_eq!(from_parameter.approvers, ApproverPolicy::Nobody);
        let both = InteractionsSettings::from_env(&env(&[
            (BOT_TOKEN, "xoxb-1"),
            ("SLACK_BOT_TOKEN_PARAMETER", "/x"),
            (SIGNING_SECRET, "s"),
        ]))
        .unwrap_err();
        assert!(
            both.to_string()
                .contains("both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_PARAMETER")
        );
        let none =
            InteractionsSettings::from_env(&env(&[(BOT_TOKEN, "xoxb-1"), (SIGNING_SECRET, " ")]))
                .unwrap_err();
        assert!(none.to_string().contains("SLACK_SIGNING_SECRET is not set"));
    }

    #[test]
    fn bad_approvers_and_urls_are_named() {
        let base = [(BOT_TOKEN, "xoxb-1"), (SIGNING_SECRET, "s")];
        let bad = InteractionsSettings::from_env(&env(&[base[0], base[1], (APPROVERS, "alice")]))
            .unwrap_err();
        assert!(bad.to_string().starts_with("SLACK_APPROVERS:"));
        let url =
            InteractionsSettings::from_env(&env(&[base[0], base[1], (API_URL, "slack.com/api")]))
                .unwrap_err();
        assert!(url.to_string().starts_with("SLACK_API_URL:"));
        let local = InteractionsSettings::from_env(&env(&[
            base[0],
            base[1],
            (API_URL, "http://127.0.0.1:9020/api/"),
        ]))
        .unwrap();
        assert_eq!(local.slack_api_url, "http://127.0.0.1:9020/api");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("xoxb-very-secret");
        assert!(!format!("{s:?}").contains("very-secret"));
        let settings =
            EventsSettings::from_env(&env(&[(CHANNEL, "C0A"), (BOT_TOKEN, "xoxb-very-secret")]))
                .unwrap();
        assert!(!format!("{settings:?}").contains("very-secret"));
    }
}
