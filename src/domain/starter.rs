//! Who started a run, as a Slack person: SSM's `ExecutedBy` matched through the rules
//! document's identity map (`"identities"`), and through the e-mail address an IAM
//! Identity Center (or other federated) session is named after, which Slack's
//! `users.lookupByEmail` turns into a person. Pure: the matching, not the lookup.
//!
//! Separation of duties stands on it: where self-approval is forbidden, a person the
//! starter matches may reject their own run but not approve it. Every doubt is
//! resolved against the starter: an address or ARN that matches several Slack people
//! makes all of them the starter, and an address Slack could not be asked about keeps
//! approvals refused until it can be.

use std::collections::BTreeMap;

/// Whether the person who started a run may approve it (`SLACK_SELF_APPROVAL`, or a
/// rule's `"self_approval"`). Rejecting one's own run is always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfApproval {
    /// Someone else must approve (the default: what change-management audits ask).
    Forbidden,
    Allowed,
}

impl SelfApproval {
    /// `forbidden` or `allowed`, in any letter case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "forbidden" => Ok(Self::Forbidden),
            "allowed" => Ok(Self::Allowed),
            other => Err(format!(
                "{:?} is not \"forbidden\" or \"allowed\"",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// The rules document's `"identities"`: Slack user → the AWS principals that are that
/// person (exact ARNs, or patterns where `*` stands for any run of characters, such as
/// `arn:aws:sts::*:assumed-role/Deploy/carol-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities {
    /// (Slack user ID, principal pattern), in the document's order.
    entries: Vec<(String, String)>,
}

/// A pattern is at most this long (IAM ARNs are at most 2,048 characters).
const PATTERN_MAX: usize = 2048;

impl Identities {
    /// Checks the map; `Err` names the entry and what is wrong with it.
    pub fn parse(map: BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut entries = vec![];
        for (user, patterns) in map {
            let user = user.trim().to_owned();
            if !is_user_id(&user) {
                return Err(format!(
                    "{:?} is not a Slack user ID (U… or W…)",
                    user.chars().take(60).collect::<String>()
                ));
            }
            if patterns.is_empty() {
                return Err(format!("{user} lists no AWS principal"));
            }
            for pattern in patterns {
                let pattern = pattern.trim().to_owned();
                let shaped = pattern.starts_with("arn:")
                    && pattern.len() <= PATTERN_MAX
                    && pattern.split(':').count() >= 6
                    && !pattern.chars().any(char::is_whitespace)
                    && pattern != "arn:*";
                if !shaped {
                    return Err(format!(
                        "{user}: {:?} is not an AWS principal ARN or pattern \
                         (like arn:aws:iam::111122223333:user/carol or \
                         arn:aws:sts::*:assumed-role/Deploy/carol-*)",
                        pattern.chars().take(120).collect::<String>()
                    ));
                }
                if pattern.split(':').skip(5).collect::<Vec<_>>().join(":") == "*" {
                    return Err(format!(
                        "{user}: {pattern:?} matches every principal of its accounts; \
                         name the user, role or session"
                    ));
                }
                entries.push((user.clone(), pattern));
            }
        }
        Ok(Self { entries })
    }

    /// The Slack people the map says `principal` is (several when it is ambiguous).
    pub fn people_for(&self, principal: &str) -> Vec<String> {
        let mut people: Vec<String> = vec![];
        for (user, pattern) in &self.entries {
            if glob(pattern, principal) && !people.contains(user) {
                people.push(user.clone());
            }
        }
        people
    }
}

/// A Slack user ID: `U` or `W`, then upper-case letters and digits.
fn is_user_id(raw: &str) -> bool {
    (2..=32).contains(&raw.len())
        && (raw.starts_with('U') || raw.starts_with('W'))
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `*` matches any run of characters (none included); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    // Both ends first: then the slice between them falls on character boundaries.
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The e-mail address `principal` is named after, lower-cased: the session name of an
/// assumed role (how IAM Identity Center and most federations name sessions), or an
/// IAM user's name. `None` when it is not an address.
pub fn email_in(principal: &str) -> Option<String> {
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    let ["arn", _, service, _, _, resource] = parts.as_slice() else {
        return None;
    };
    let name = match *service {
        "sts" => {
            let mut segments = resource.strip_prefix("assumed-role/")?.split('/');
            let (_role, session) = (segments.next()?, segments.next()?);
            if segments.next().is_some() {
                return None;
            }
            session
        }
        "iam" => resource.strip_prefix("user/")?.rsplit('/').next()?,
        _ => return None,
    };
    let (local, domain) = name.split_once('@')?;
    let shaped = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@');
    shaped.then(|| name.to_ascii_lowercase())
}

/// Who started a run: SSM's principal, and who in Slack that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Starter {
    /// `ExecutedBy`, as SSM reports it.
    pub principal: String,
    /// The Slack people it matches: none, one, or (ambiguous) several, all treated as
    /// the starter.
    pub people: Vec<String>,
    /// An address Slack could not be asked about (the lookup failed or was rate
    /// limited): until it is, nobody can be cleared of having started the run.
    pub unchecked_email: Option<String>,
}

/// Whether a person's Approve is refused because they started the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarterCheck {
    /// They did not start it (or self-approval is allowed).
    Clear,
    /// They started it and someone else must approve.
    StartedIt,
    /// Slack could not say who started it: refused, for now (fail closed).
    Unknown,
}

impl Starter {
    /// A starter Slack knows nothing about yet.
    pub fn unmatched(principal: &str) -> Self {
        Self {
            principal: principal.to_owned(),
            people: vec![],
            unchecked_email: None,
        }
    }

    /// Whether `user_id`'s Approve is refused under `policy`.
    pub fn check(&self, policy: SelfApproval, user_id: &str) -> StarterCheck {
        if policy == SelfApproval::Allowed {
            return StarterCheck::Clear;
        }
        if self.people.iter().any(|p| p == user_id) {
            StarterCheck::StartedIt
        } else if self.unchecked_email.is_some() {
            StarterCheck::Unknown
        } else {
            StarterCheck::Clear
        }
    }

    /// The one Slack person who started it, when the match is certain.
    pub fn person(&self) -> Option<&str> {
        match self.people.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Whether it must be matched again: Slack was not asked, or the record is of
    /// another principal.
    pub fn settled_for(&self, principal: &str) -> bool {
        self.principal == principal && self.unchecked_email.is_none()
    }
}

/// How a prompt shows who started the run, and whether they may approve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartedBy<'a> {
    pub starter: &'a Starter,
    pub policy: SelfApproval,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identities(raw: &str) -> Result<Identities, String> {
        Identities::parse(serde_json::from_str(raw).unwrap())
    }

    #[test]
    fn session_names_and_user_names_that_are_addresses_name_a_person() {
        let cases = [
            (
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123abcd/Carol@Example.com",
                Some("carol@example.com"),
            ),
            (
                "arn:aws:iam::111122223333:user/ops/dave@example.org",
                Some("dave@example.org"),
            ),
            ("arn:aws:sts::111122223333:assumed-role/Ops/alice", None),
            ("arn:aws:iam::111122223333:user/bob", None),
            ("arn:aws:iam::111122223333:role/x@example.com", None),
            (
                "arn:aws:sts::111122223333:assumed-role/Ops/@example.com",
                None,
            ),
            ("arn:aws:sts::111122223333:assumed-role/Ops/a@b", None),
            (
                "arn:aws:sts::111122223333:assumed-role/Ops/a@b.com/extra",
                None,
            ),
            ("carol@example.com", None),
        ];
        for (principal, expected) in cases {
            assert_eq!(email_in(principal).as_deref(), expected, "{principal}");
        }
    }

    #[test]
    fn the_identity_map_matches_exact_arns_and_patterns_and_keeps_ambiguity() {
        let map = identities(
            r#"{"U0CAROL": ["arn:aws:iam::111122223333:user/carol", "arn:aws:sts::*:assumed-role/Deploy/carol-*"],
                "U0DAVE": ["arn:aws:sts::*:assumed-role/Deploy/*-shared"]}"#,
        )
        .unwrap();
        assert_eq!(
            map.people_for("arn:aws:iam::111122223333:user/carol"),
            ["U0CAROL"]
        );
        assert_eq!(
            map.people_for("arn:aws:sts::444455556666:assumed-role/Deploy/carol-1234"),
            ["U0CAROL"]
        );
        // Both patterns match: both people are the starter.
        assert_eq!(
            map.people_for("arn:aws:sts::444455556666:assumed-role/Deploy/carol-shared"),
            ["U0CAROL", "U0DAVE"]
        );
        assert!(
            map.people_for("arn:aws:iam::111122223333:user/carolyn")
                .is_empty()
        );
        assert!(
            map.people_for("arn:aws:sts::444455556666:assumed-role/Other/carol-1")
                .is_empty()
        );
    }

    #[test]
    fn a_malformed_identity_map_is_named() {
        for (raw, expected) in [
            (
                r#"{"carol": ["arn:aws:iam::1:user/c"]}"#,
                "\"carol\" is not a Slack user ID",
            ),
            (
                r#"{"S0GROUP": ["arn:aws:iam::1:user/c"]}"#,
                "is not a Slack user ID",
            ),
            (r#"{"U0C": []}"#, "U0C lists no AWS principal"),
            (
                r#"{"U0C": ["carol"]}"#,
                "U0C: \"carol\" is not an AWS principal",
            ),
            (
                r#"{"U0C": ["arn:aws:iam::1:user/ c"]}"#,
                "is not an AWS principal",
            ),
            (
                r#"{"U0C": ["arn:aws:sts::*:*"]}"#,
                "matches every principal",
            ),
        ] {
            let err = identities(raw).unwrap_err();
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn globs_match_runs_of_characters() {
        assert!(glob("a*c", "abbbc") && glob("a*c", "ac") && glob("*", ""));
        assert!(glob("a*b*c", "a-b-c") && !glob("a*b*c", "a-c"));
        assert!(!glob("ab*ba", "aba"), "the two ends may not overlap");
        assert!(glob("abc", "abc") && !glob("abc", "abcd"));
        assert!(
            !glob("a*b", "aé") && glob("a*é", "a-é"),
            "multi-byte ends never split"
        );
    }

    #[test]
    fn only_a_settled_match_clears_a_person_where_self_approval_is_forbidden() {
        let carol = Starter {
            principal: "arn:aws:sts::1:assumed-role/SSO/carol@example.com".into(),
            people: vec!["U0CAROL".into()],
            unchecked_email: None,
        };
        assert_eq!(
            carol.check(SelfApproval::Forbidden, "U0CAROL"),
            StarterCheck::StartedIt
        );
        assert_eq!(
            carol.check(SelfApproval::Forbidden, "U0ALICE"),
            StarterCheck::Clear
        );
        assert_eq!(
            carol.check(SelfApproval::Allowed, "U0CAROL"),
            StarterCheck::Clear
        );
        let unasked = Starter {
            unchecked_email: Some("carol@example.com".into()),
            people: vec![],
            ..carol.clone()
        };
        assert_eq!(
            unasked.check(SelfApproval::Forbidden, "U0ALICE"),
            StarterCheck::Unknown
        );
        assert!(!unasked.settled_for(&carol.principal));
        assert!(carol.settled_for(&carol.principal) && !carol.settled_for("arn:other"));
        let nobody = Starter::unmatched("arn:aws:iam::1:user/ci");
        assert_eq!(
            nobody.check(SelfApproval::Forbidden, "U0ALICE"),
            StarterCheck::Clear
        );
        assert_eq!(nobody.person(), None);
        assert_eq!(carol.person(), Some("U0CAROL"));
    }

    #[test]
    fn self_approval_reads_two_words() {
        assert_eq!(
            SelfApproval::parse(" Forbidden"),
            Ok(SelfApproval::Forbidden)
        );
        assert_eq!(SelfApproval::parse("allowed"), Ok(SelfApproval::Allowed));
        assert!(SelfApproval::parse("no").unwrap_err().contains("\"no\""));
    }
}
