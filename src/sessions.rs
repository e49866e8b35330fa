//! Outbound adapter: per-person AWS sessions through STS.
//!
//! With `APPROVER_ROLE_ARN` set, each decision is signalled under an STS session of
//! that role named after the deciding Slack user (`RoleSessionName` and
//! `SourceIdentity` both the user ID). SSM then sees, counts and records each person
//! (`arn:aws:sts::<account>:assumed-role/<role>/<user id>`), so a step's
//! `MinRequiredApprovals` can be met from Slack, and CloudTrail names the person even
//! through role chaining. A session is kept per user until shortly before it expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sdk_ssm::config::Credentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::deadline::{Deadline, OutOfTime, sdk_timeouts};
use crate::domain::identity::{SessionNameError, session_name};

/// How long a session is asked for: one hour, the default maximum of a role.
const SESSION_SECS: i32 = 3600;
/// A kept session is used only while it has at least this long to live.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Name(#[from] SessionNameError),
    #[error("STS AssumeRole failed: {message}")]
    Sts {
        code: Option<String>,
        message: String,
    },
    #[error("STS AssumeRole not started: {0}")]
    OutOfTime(#[from] OutOfTime),
}

impl SessionError {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Sts { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// STS sessions of the approver role, one per Slack user, kept while they last.
pub struct PersonSessions {
    client: aws_sdk_sts::Client,
    role_arn: String,
    kept: Mutex<HashMap<String, Credentials>>,
}

impl PersonSessions {
    pub fn new(client: aws_sdk_sts::Client, role_arn: String) -> Self {
        Self {
            client,
            role_arn,
            kept: Mutex::default(),
        }
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// The session of `user_id`: kept, or a new one from STS (leaving `reserve` of
    /// `deadline` for what follows). Returns whether it is new.
    pub async fn credentials_for(
        &self,
        user_id: &str,
        deadline: &Deadline,
        reserve: Duration,
    ) -> Result<(Credentials, bool), SessionError> {
        let name = session_name(user_id)?;
        if let Some(kept) = self.kept(name) {
            return Ok((kept, false));
        }
        let mut limits = aws_sdk_sts::config::Builder::default();
        limits.set_timeout_config(Some(sdk_timeouts(deadline, reserve)?));
        let out = self
            .client
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(name)
            .source_identity(name)
            .duration_seconds(SESSION_SECS)
            .customize()
            .config_override(limits)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().map(str::to_owned);
                SessionError::Sts {
                    code,
                    message: DisplayErrorContext(aws_sdk_sts::Error::from(e)).to_string(),
                }
            })?;
        let Some(c) = out.credentials() else {
            return Err(SessionError::Sts {
                code: None,
                message: "the answer carries no credentials".into(),
            });
        };
        let expires = SystemTime::try_from(*c.expiration()).ok();
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expires,
            "slack-approver-session",
        );
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), credentials.clone());
        Ok((credentials, true))
    }

    fn kept(&self, name: &str) -> Option<Credentials> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let credentials = kept.get(name)?;
        let lasts = credentials
            .expiry()
            .and_then(|at| at.duration_since(SystemTime::now()).ok())
            .is_some_and(|left| left > REFRESH_BEFORE);
        lasts.then(|| credentials.clone())
    }
}
