//! Outbound adapter: per-person AWS sessions through STS.
//!
//! With `APPROVER_ROLE_ARN` set (or, in a member account of an organization, the
//! spoke's `SPOKE_APPROVER_ROLE_NAME`), each decision is signalled under an STS
//! session of that role named after the deciding Slack user (`RoleSessionName` and
//! `SourceIdentity` both the user ID). SSM then sees, counts and records each person
//! (`arn:aws:sts::<account>:assumed-role/<role>/<user id>`), so a step's
//! `MinRequiredApprovals` can be met from Slack, and CloudTrail names the person even
//! through role chaining. A session is kept per user until shortly before it expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sdk_ssm::config::Credentials;

use crate::deadline::{Deadline, OutOfTime};
use crate::domain::identity::{SessionNameError, session_name};
use crate::places::{Assume, PlaceError, assume, lasts};

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

/// At most this many sessions are kept (about 1 KB each); past it, expired ones go,
/// then the one that expires first.
const KEPT_SESSIONS: usize = 2000;

/// STS sessions of approver roles, one per role and Slack user, kept while they last.
pub struct PersonSessions {
    client: aws_sdk_sts::Client,
    kept: Mutex<HashMap<(String, String), Credentials>>,
}

impl PersonSessions {
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self {
            client,
            kept: Mutex::default(),
        }
    }

    /// The session of `user_id` in `role_arn` (the deployment's own approver role, or
    /// a spoke account's): kept, or a new one from STS (leaving `reserve` of
    /// `deadline` for what follows). Returns whether it is new.
    pub async fn credentials_for(
        &self,
        role_arn: &str,
        user_id: &str,
        deadline: &Deadline,
        reserve: Duration,
    ) -> Result<(Credentials, bool), SessionError> {
        let name = session_name(user_id)?;
        let key = (role_arn.to_owned(), name.to_owned());
        if let Some(kept) = self.kept(&key) {
            return Ok((kept, false));
        }
        let deadline = deadline.keeping(reserve);
        let account = role_arn.split(':').nth(4).unwrap_or_default();
        let credentials = assume(
            &self.client,
            Assume {
                account,
                role: role_arn,
                session_name: name,
                source_identity: Some(name),
                policy: None,
            },
            &deadline,
            "slack-approver-session",
        )
        .await
        .map_err(|e| match e {
            PlaceError::OutOfTime(e) => SessionError::OutOfTime(e),
            PlaceError::CannotAssume { code, message, .. } => SessionError::Sts { code, message },
            other => SessionError::Sts {
                code: None,
                message: other.to_string(),
            },
        })?;
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= KEPT_SESSIONS {
            kept.retain(|_, c| lasts(c));
        }
        if kept.len() >= KEPT_SESSIONS
            && let Some(first) = kept
                .iter()
                .min_by_key(|(_, c)| c.expiry().unwrap_or(SystemTime::UNIX_EPOCH))
                .map(|(k, _)| k.clone())
        {
            kept.remove(&first);
        }
        kept.insert(key, credentials.clone());
        Ok((credentials, true))
    }

    fn kept(&self, key: &(String, String)) -> Option<Credentials> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(key).filter(|c| lasts(c)).cloned()
    }
}
