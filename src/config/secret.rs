//! Secrets from the environment: a value that never reaches a log, given directly
//! (local runs) or as the name of an SSM SecureString parameter.

use std::fmt;

use super::{ConfigError, Env};

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

pub(super) fn secret_source(
    env: &impl Env,
    variable: &'static str,
) -> Result<SecretSource, ConfigError> {
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
