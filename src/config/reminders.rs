//! The sweep's settings (the events function, on its schedule): when to remind, when
//! to send the last call, and how many SSM reads one sweep may make.

use super::{ConfigError, Env};
use crate::domain::reminders::ReminderSettings;

pub const REMIND_AFTER_MINUTES: &str = "SLACK_REMIND_AFTER_MINUTES";
pub const LAST_CALL_MINUTES: &str = "SLACK_LAST_CALL_MINUTES";
pub const SWEEP_MAX_SSM_READS: &str = "SWEEP_MAX_SSM_READS";
pub const SWEEP_MAX_LISTINGS: &str = "SWEEP_MAX_LISTINGS";

/// Four hours: a reminder a working day sees once or twice.
pub const DEFAULT_REMIND_AFTER_MINUTES: i64 = 240;
/// An hour before the step's timeout.
pub const DEFAULT_LAST_CALL_MINUTES: i64 = 60;
/// SSM throttles its API per account and Region (it publishes no figure for
/// `GetAutomationExecution`): the sweep reads only what its batches of statuses send it
/// to, as many at once as the time left needs, and stops when throttled.
pub const DEFAULT_SWEEP_MAX_SSM_READS: usize = 1000;
/// The calls one sweep may spend finding waiting steps no event announced: a page (50
/// executions) per place served, and a read per execution found without a prompt.
pub const DEFAULT_SWEEP_MAX_LISTINGS: usize = 200;

/// `aws:approve` waits 30 days at most.
const MAX_MINUTES: i64 = 30 * 24 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    pub reminders: ReminderSettings,
    /// At most this many executions read from SSM per sweep.
    pub max_ssm_reads: usize,
    /// At most this many SSM calls per sweep to find waiting steps without a prompt.
    pub max_listings: usize,
}

impl SweepSettings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let minutes = |variable: &'static str, default: i64| -> Result<Option<i64>, ConfigError> {
            let minutes = match env.get(variable) {
                None => default,
                Some(raw) => match raw.trim().parse::<i64>() {
                    Ok(m) if (0..=MAX_MINUTES).contains(&m) => m,
                    _ => {
                        return Err(ConfigError::Invalid {
                            variable,
                            reason: format!(
                                "{:?} is not a number of minutes from 0 (off) to {MAX_MINUTES}",
                                raw.chars().take(40).collect::<String>()
                            ),
                        });
                    }
                },
            };
            Ok((minutes > 0).then_some(minutes * 60))
        };
        let count = |variable: &'static str, default: usize, what: &str| match env.get(variable) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => Ok(n),
                _ => Err(ConfigError::Invalid {
                    variable,
                    reason: format!(
                        "{:?} is not a number of {what} from 1 to 10000",
                        raw.chars().take(40).collect::<String>()
                    ),
                }),
            },
        };
        let max_ssm_reads = count(SWEEP_MAX_SSM_READS, DEFAULT_SWEEP_MAX_SSM_READS, "reads")?;
        let max_listings = count(SWEEP_MAX_LISTINGS, DEFAULT_SWEEP_MAX_LISTINGS, "calls")?;
        Ok(Self {
            reminders: ReminderSettings {
                every_secs: minutes(REMIND_AFTER_MINUTES, DEFAULT_REMIND_AFTER_MINUTES)?,
                last_call_secs: minutes(LAST_CALL_MINUTES, DEFAULT_LAST_CALL_MINUTES)?,
            },
            max_ssm_reads,
            max_listings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn reminders_default_to_four_hours_and_a_last_call_an_hour_before() {
        let s = SweepSettings::from_env(&env(&[])).unwrap();
        assert_eq!(s.reminders.every_secs, Some(4 * 3600));
        assert_eq!(s.reminders.last_call_secs, Some(3600));
        assert_eq!(s.max_ssm_reads, DEFAULT_SWEEP_MAX_SSM_READS);
        assert_eq!(s.max_listings, DEFAULT_SWEEP_MAX_LISTINGS);
        let off = SweepSettings::from_env(&env(&[
            (REMIND_AFTER_MINUTES, "0"),
            (LAST_CALL_MINUTES, "0"),
        ]))
        .unwrap();
        assert_eq!(off.reminders.every_secs, None);
        assert_eq!(off.reminders.last_call_secs, None);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, bad) in [
            (REMIND_AFTER_MINUTES, "4h"),
            (REMIND_AFTER_MINUTES, "-1"),
            (LAST_CALL_MINUTES, "99999999"),
            (SWEEP_MAX_SSM_READS, "0"),
            (SWEEP_MAX_LISTINGS, "0"),
            (SWEEP_MAX_LISTINGS, "many"),
        ] {
            let err = SweepSettings::from_env(&env(&[(variable, bad)])).unwrap_err();
            assert!(err.to_string().contains(variable), "{err}");
        }
    }
}
