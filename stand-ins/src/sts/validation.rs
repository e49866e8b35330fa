//! `AssumeRole`'s input checked against STS's constraints, worded as STS words them.

use std::collections::HashMap;

use super::ROLE_MAX_SESSION;
use super::wire::Refusal;

/// The shortest session STS issues (15 minutes).
const MIN_DURATION: u32 = 900;
/// The longest `MaxSessionDuration` a role can have (12 hours): a longer request is
/// invalid whatever the role.
const DURATION_LIMIT: u32 = 43_200;

/// `AssumeRole`'s input, once it satisfies STS's constraints.
pub(super) struct AssumeRoleInput<'a> {
    pub(super) role_arn: &'a str,
    pub(super) session_name: &'a str,
    pub(super) source_identity: Option<&'a str>,
    pub(super) duration_seconds: u32,
}

impl<'a> AssumeRoleInput<'a> {
    /// The input, or a `ValidationError` listing every constraint it breaks, worded
    /// as STS words them.
    pub(super) fn validated(params: &'a HashMap<String, String>) -> Result<Self, Refusal> {
        let mut problems = vec![];
        let role_arn = params.get("RoleArn").map(String::as_str);
        match role_arn {
            None => problems.push(not_null("roleArn")),
            Some(arn) => check_length("roleArn", arn, 20, 2048, &mut problems),
        }
        let session_name = params.get("RoleSessionName").map(String::as_str);
        match session_name {
            None => problems.push(not_null("roleSessionName")),
            Some(name) => check_name("roleSessionName", name, &mut problems),
        }
        let source_identity = params.get("SourceIdentity").map(String::as_str);
        if let Some(identity) = source_identity {
            check_name("sourceIdentity", identity, &mut problems);
            if identity.starts_with("aws:") {
                problems.push(format!(
                    "Value '{identity}' at 'sourceIdentity' failed to satisfy constraint: \
                     Member must not begin with the prefix aws:, which is reserved for AWS"
                ));
            }
        }
        let duration_seconds = match params.get("DurationSeconds") {
            None => ROLE_MAX_SESSION,
            Some(text) => check_duration(text, &mut problems),
        };
        match (role_arn, session_name) {
            (Some(role_arn), Some(session_name)) if problems.is_empty() => Ok(Self {
                role_arn,
                session_name,
                source_identity,
                duration_seconds,
            }),
            _ => Err(validation_error(&problems)),
        }
    }
}

/// STS's report of broken constraints: "N validation error(s) detected: …; …".
fn validation_error(problems: &[String]) -> Refusal {
    let plural = if problems.len() == 1 { "" } else { "s" };
    Refusal::new(
        400,
        "ValidationError",
        format!(
            "{} validation error{plural} detected: {}",
            problems.len(),
            problems.join("; ")
        ),
    )
}

fn not_null(member: &str) -> String {
    format!("Value null at '{member}' failed to satisfy constraint: Member must not be null")
}

fn check_length(member: &str, value: &str, min: usize, max: usize, problems: &mut Vec<String>) {
    let length = value.chars().count();
    if length < min {
        problems.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must have length greater than or equal to {min}"
        ));
    }
    if length > max {
        problems.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must have length less than or equal to {max}"
        ));
    }
}

/// Session names and source identities: 2 to 64 characters of `[\w+=,.@-]`.
fn check_name(member: &str, value: &str, problems: &mut Vec<String>) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !value.chars().all(allowed) {
        problems.push(format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        ));
    }
    check_length(member, value, 2, 64, problems);
}

/// `DurationSeconds`: a number from 900 to 43200 (the role's own maximum is checked
/// once the role is known).
fn check_duration(text: &str, problems: &mut Vec<String>) -> u32 {
    let Ok(seconds) = text.parse::<i64>() else {
        problems.push(format!(
            "Value '{text}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
        ));
        return 0;
    };
    if seconds < i64::from(MIN_DURATION) {
        problems.push(format!(
            "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: \
             Member must have value greater than or equal to {MIN_DURATION}"
        ));
    }
    if seconds > i64::from(DURATION_LIMIT) {
        problems.push(format!(
            "Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: \
             Member must have value less than or equal to {DURATION_LIMIT}"
        ));
    }
    u32::try_from(seconds).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use crate::sts::test_support::{LAMBDA_KEY, ROLE, assume, element, sts_with_role};

    #[tokio::test]
    async fn input_that_breaks_sts_constraints_is_a_validation_error() {
        let sts = sts_with_role(true).await;
        let refused = |params: &[(&str, &str)]| {
            let (status, xml) = assume(&sts, LAMBDA_KEY, params);
            assert_eq!(status, 400, "{xml}");
            assert_eq!(element(&xml, "Type"), Some("Sender"));
            assert_eq!(element(&xml, "Code"), Some("ValidationError"));
            element(&xml, "Message").unwrap().to_owned()
        };
        assert_eq!(
            refused(&[("RoleArn", ROLE), ("RoleSessionName", "U0 ALICE")]),
            "1 validation error detected: Value 'U0 ALICE' at 'roleSessionName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
        assert_eq!(
            refused(&[("RoleArn", ROLE), ("RoleSessionName", "U")]),
            "1 validation error detected: Value 'U' at 'roleSessionName' failed to satisfy \
             constraint: Member must have length greater than or equal to 2"
        );
        assert!(
            refused(&[("RoleArn", ROLE), ("RoleSessionName", &"U".repeat(65))])
                .ends_with("Member must have length less than or equal to 64")
        );
        assert!(refused(&[("RoleArn", ROLE)]).contains(
            "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        ));
        let session = ("RoleSessionName", "U0ALICE");
        assert!(
            refused(&[("RoleArn", ROLE), session, ("SourceIdentity", "aws:alice")])
                .contains("at 'sourceIdentity' failed to satisfy constraint: Member must not begin with the prefix aws:")
        );
        assert!(
            refused(&[("RoleArn", ROLE), session, ("SourceIdentity", "alice smith")])
                .contains("at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern")
        );
        assert!(refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "899")]).ends_with(
            "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        ));
        assert!(
            refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "43201")])
                .ends_with("Member must have value less than or equal to 43200")
        );
        assert_eq!(
            refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "7200")]),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        );
        assert!(
            refused(&[("RoleArn", ROLE), session, ("DurationSeconds", "soon")])
                .contains("Member must be a number")
        );
        let both = refused(&[
            ("RoleArn", ROLE),
            ("RoleSessionName", "a b"),
            ("SourceIdentity", "x"),
            ("DurationSeconds", "60"),
        ]);
        assert!(both.starts_with("3 validation errors detected: "), "{both}");
        assert_eq!(both.matches("; ").count(), 2);
        assert!(sts.assume_role_calls().iter().all(|c| !c.accepted));
        assert_eq!(sts.assume_role_calls().len(), 11);
    }
}
