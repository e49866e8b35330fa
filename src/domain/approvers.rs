//! Who may decide from Slack: `SLACK_APPROVERS`.
//!
//! Empty and `none` both let nobody decide from Slack, but they are told apart:
//! empty is a setting not made yet (a safe state, and a click says so), `none` is a
//! deployment saying on purpose that such steps are decided in the AWS console.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproverPolicy {
    /// Unset or empty: a safe state in which nobody may decide.
    Nobody,
    /// `none`: nobody may decide from Slack, said on purpose; such steps are decided in
    /// the AWS console. Their prompts are posted without buttons.
    NobodyFromSlack,
    /// `*`: anyone who can see the prompt.
    Anyone,
    /// User IDs (`U…`, `W…`) and user-group IDs (`S…`).
    Listed {
        users: BTreeSet<String>,
        groups: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproversError {
    #[error("SLACK_APPROVERS: {0:?} is not a Slack user ID (U…, W…) or user-group ID (S…)")]
    NotAnId(String),
    #[error("SLACK_APPROVERS: `*` (anyone) cannot be combined with IDs")]
    StarWithIds,
    #[error(
        "SLACK_APPROVERS: `none` (nobody may decide from Slack) cannot be combined with IDs or `*`"
    )]
    NoneWithOthers,
    #[error(
        "SLACK_APPROVERS: {0:?} has characters that are not plain ASCII; Slack IDs are letters and digits \
         (copy the ID again: a look-alike or invisible character came with it)"
    )]
    NotAscii(String),
}

/// The first, cheap part of an authorization decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    Allowed,
    NoApproversConfigured,
    /// `none`: nobody may decide from Slack, on purpose.
    NotFromSlack,
    /// Not listed directly: allowed only if a member of one of these groups.
    CheckGroups(&'a [String]),
}

/// The value that says, on purpose, that nobody may decide from Slack (any letter case).
pub const NONE: &str = "none";

impl ApproverPolicy {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApproversError> {
        let items: Vec<&str> = raw
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Ok(Self::Nobody);
        }
        if items.iter().any(|i| i.eq_ignore_ascii_case(NONE)) {
            return if items.iter().all(|i| i.eq_ignore_ascii_case(NONE)) {
                Ok(Self::NobodyFromSlack)
            } else {
                Err(ApproversError::NoneWithOthers)
            };
        }
        if items.contains(&"*") {
            return if items.iter().all(|i| *i == "*") {
                Ok(Self::Anyone)
            } else {
                Err(ApproversError::StarWithIds)
            };
        }
        let mut users = BTreeSet::new();
        let mut groups = Vec::new();
        for item in items {
            if !item.is_ascii() {
                return Err(ApproversError::NotAscii(item.chars().take(40).collect()));
            }
            let id_like = item.len() >= 3
                && item[1..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            match item.as_bytes()[0] {
                b'U' | b'W' if id_like => {
                    users.insert(item.to_owned());
                }
                b'S' if id_like => {
                    if !groups.iter().any(|g| g == item) {
                        groups.push(item.to_owned());
                    }
                }
                _ => return Err(ApproversError::NotAnId(item.chars().take(40).collect())),
            }
        }
        Ok(Self::Listed { users, groups })
    }

    /// Who may decide, in words a Slack reader recognises (mentions render as names).
    pub fn describe(&self) -> String {
        match self {
            Self::Nobody => "nobody yet (no approvers are configured)".into(),
            Self::NobodyFromSlack => "nobody from Slack: decide in the AWS console".into(),
            Self::Anyone => "anyone in this channel".into(),
            Self::Listed { users, groups } => {
                let mut who: Vec<String> = users.iter().map(|u| format!("<@{u}>")).collect();
                who.extend(groups.iter().map(|g| format!("members of <!subteam^{g}>")));
                match who.len() {
                    0 => "nobody".into(),
                    1 => who.remove(0),
                    n => format!("{} or {}", who[..n - 1].join(", "), who[n - 1]),
                }
            }
        }
    }

    pub fn verdict(&self, user_id: &str) -> Verdict<'_> {
        match self {
            Self::Nobody => Verdict::NoApproversConfigured,
            Self::NobodyFromSlack => Verdict::NotFromSlack,
            Self::Anyone => Verdict::Allowed,
            Self::Listed { users, .. } if users.contains(user_id) => Verdict::Allowed,
            Self::Listed { groups, .. } => Verdict::CheckGroups(groups),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_empty_allows_nobody() {
        for raw in [None, Some(""), Some(" , ,")] {
            let policy = ApproverPolicy::parse(raw).unwrap();
            assert_eq!(policy, ApproverPolicy::Nobody);
            assert_eq!(policy.verdict("U0ALICE"), Verdict::NoApproversConfigured);
        }
    }

    #[test]
    fn none_says_nobody_from_slack_on_purpose_and_stands_alone() {
        for raw in ["none", " NONE ", "None,none"] {
            let policy = ApproverPolicy::parse(Some(raw)).unwrap();
            assert_eq!(policy, ApproverPolicy::NobodyFromSlack, "{raw}");
            // Told apart from a setting not made yet.
            assert_ne!(policy, ApproverPolicy::parse(Some("")).unwrap());
            assert_eq!(policy.verdict("U0ALICE"), Verdict::NotFromSlack);
            assert_eq!(
                policy.describe(),
                "nobody from Slack: decide in the AWS console"
            );
        }
        for raw in [
            "none,U123",
            "U0ALICE, none",
            "none,*",
            "*,NONE",
            "none,S0OPS",
        ] {
            let err = ApproverPolicy::parse(Some(raw)).unwrap_err();
            assert_eq!(err, ApproversError::NoneWithOthers, "{raw}");
            assert!(
                err.to_string().starts_with(
                    "SLACK_APPROVERS: `none` (nobody may decide from Slack) cannot be combined"
                ),
                "{err}"
            );
        }
        // Not a prefix or a look-alike: those are not IDs.
        for raw in ["nobody", "none-", "nonE0"] {
            assert!(
                matches!(
                    ApproverPolicy::parse(Some(raw)),
                    Err(ApproversError::NotAnId(_))
                ),
                "{raw}"
            );
        }
    }

    #[test]
    fn star_allows_anyone_but_not_mixed_with_ids() {
        assert_eq!(
            ApproverPolicy::parse(Some(" * ")).unwrap().verdict("U0ANY"),
            Verdict::Allowed
        );
        assert_eq!(
            ApproverPolicy::parse(Some("*,U0ALICE")),
            Err(ApproversError::StarWithIds)
        );
    }

    #[test]
    fn users_directly_groups_by_lookup() {
        let policy = ApproverPolicy::parse(Some("U0ALICE, W0BOB,S0OPS,S0OPS")).unwrap();
        assert_eq!(policy.verdict("U0ALICE"), Verdict::Allowed);
        assert_eq!(policy.verdict("W0BOB"), Verdict::Allowed);
        assert_eq!(
            policy.verdict("U0MALLORY"),
            Verdict::CheckGroups(&["S0OPS".to_string()])
        );
        let only_users = ApproverPolicy::parse(Some("U0ALICE")).unwrap();
        assert_eq!(only_users.verdict("U0MALLORY"), Verdict::CheckGroups(&[]));
    }

    #[test]
    fn non_ascii_entries_are_a_named_error_not_a_panic() {
        for bad in ["Ü0ALICE", "U0ÄLICE", "\u{200b}U0ALICE", "Ｕ0ALICE", "é"] {
            let err = ApproverPolicy::parse(Some(&format!("U0BOB,{bad}"))).unwrap_err();
            assert!(matches!(err, ApproversError::NotAscii(_)), "{bad}: {err:?}");
            assert!(err.to_string().starts_with("SLACK_APPROVERS:"));
        }
    }

    #[test]
    fn approvers_are_described_as_slack_shows_them() {
        let policy = ApproverPolicy::parse(Some("U0ALICE,S0OPS,W0BOB")).unwrap();
        assert_eq!(
            policy.describe(),
            "<@U0ALICE>, <@W0BOB> or members of <!subteam^S0OPS>"
        );
        assert_eq!(
            ApproverPolicy::parse(Some("U0ALICE")).unwrap().describe(),
            "<@U0ALICE>"
        );
    }

    #[test]
    fn refuses_things_that_are_not_ids() {
        for bad in [
            "alice",
            "@alice",
            "#approvals",
            "C0CHANNEL",
            "u0alice",
            "U",
            "U0-ALICE",
        ] {
            assert!(
                matches!(
                    ApproverPolicy::parse(Some(bad)),
                    Err(ApproversError::NotAnId(_))
                ),
                "{bad}"
            );
        }
    }
}
