//! The comment a decision carries to SSM, and reading it back from SSM's record of
//! the step (`ApproverDecisions`), so the audit trail can be completed from SSM.
//!
//! SSM takes at most 512 characters per payload value, `Comment` included: a longer
//! one is refused with a `ValidationException` and nothing is decided. The comment
//! therefore carries who decided and as much of the reason as fits; the whole reason
//! stays on the prompt and in the audit trail.

use serde_json::Value;

use super::inbound::Decision;
use super::record::DecisionRecord;

/// SSM's limit on one payload value (its API model: 1 to 512 characters).
pub const COMMENT_MAX: usize = 512;

/// What each decision from Slack begins its comment with, before the person.
const IN_SLACK: &str = " in Slack by ";

/// `Rejected in Slack by bob (U0BOB): reason`, cut to fit [`COMMENT_MAX`]. Counted
/// in UTF-16 units, which is never more than characters: whichever way SSM counts,
/// it fits.
pub fn signal_comment(
    decision: Decision,
    handle: &str,
    user_id: &str,
    reason: Option<&str>,
) -> String {
    let mut comment = format!("{}{IN_SLACK}{handle} ({user_id})", decision.past_tense());
    if let Some(reason) = reason {
        comment.push_str(": ");
        comment.push_str(reason);
    }
    if comment.encode_utf16().count() <= COMMENT_MAX {
        return comment;
    }
    let mut cut = String::new();
    let mut units = 0;
    for c in comment.chars() {
        // Room for the ellipsis that says the reason goes on.
        if units + c.len_utf16() > COMMENT_MAX - 1 {
            break;
        }
        units += c.len_utf16();
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// A decision as SSM recorded it in the step's outputs (`ApproverDecisions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedBySsm {
    pub decision: Decision,
    /// Who signalled it, as SSM names the principal (`Approver`).
    pub approver: Option<String>,
    /// The Slack person and handle the comment names, when it reads like ours. Only a
    /// claim: see [`RecordedBySsm::into_record`].
    pub named: Option<(String, String)>,
    pub at_unix: Option<i64>,
    /// As much of the reason as our comment carried; any other comment, whole.
    pub reason: Option<String>,
}

impl RecordedBySsm {
    /// The trail's record of it. `credited`: one of this deployment's own identities
    /// signalled it (see [`crate::domain::identity::Signers`]), so the person the
    /// comment names decided it in Slack. Otherwise it was decided outside Slack, by
    /// the principal SSM names, whatever the comment says.
    pub fn into_record(self, step_key: &str, fallback_at: i64, credited: bool) -> DecisionRecord {
        let (user_id, handle, principal) = match self.named {
            Some((user_id, handle)) if credited => (user_id, handle, None),
            _ => (
                String::new(),
                String::new(),
                Some(
                    self.approver
                        .unwrap_or_else(|| "an unnamed AWS principal".into()),
                ),
            ),
        };
        DecisionRecord {
            step_key: step_key.to_owned(),
            decision: self.decision,
            user_id,
            handle,
            at_unix: self.at_unix.unwrap_or(fallback_at),
            reason: self.reason,
            principal,
        }
    }
}

/// Reads back a comment written by [`signal_comment`]; `None` for any other comment
/// (a decision made in the console, or by another tool).
pub fn parse_signal_comment(comment: &str) -> Option<(Decision, String, String, Option<String>)> {
    let (verb, rest) = comment.split_once(IN_SLACK)?;
    let decision = [Decision::Approve, Decision::Reject, Decision::Resume]
        .into_iter()
        .find(|d| d.past_tense() == verb)?;
    // `handle (USERID)`, then the end or `: reason`: the first ` (` that opens such
    // an ID (a reason may hold parentheses of its own).
    let (handle, user_id, tail) = rest.match_indices(" (").find_map(|(open, _)| {
        let after = &rest[open + 2..];
        let close = after.find(')')?;
        let id = &after[..close];
        let tail = &after[close + 1..];
        let valid_id = id.len() >= 3 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        (valid_id && (tail.is_empty() || tail.starts_with(": "))).then(|| (&rest[..open], id, tail))
    })?;
    if handle.is_empty() {
        return None;
    }
    let reason = tail
        .strip_prefix(": ")
        .map(str::to_owned)
        .filter(|r| !r.is_empty());
    Some((decision, handle.to_owned(), user_id.to_owned(), reason))
}

/// Every decision in an approval step's `ApproverDecisions` output. SSM does not
/// document the entries: each value is read tolerantly (a JSON object per decision, or
/// a JSON list of them; keys in any letter case; `ApprovalStatus` or `Decision`).
pub fn decisions_in_outputs(outputs: &[String]) -> Vec<RecordedBySsm> {
    let mut found = vec![];
    for raw in outputs {
        let entries = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Array(list)) => list,
            Ok(object @ Value::Object(_)) => vec![object],
            _ => continue,
        };
        for entry in entries {
            let text = |names: &[&str]| field(&entry, names).and_then(Value::as_str);
            let comment = text(&["Comment"]).filter(|c| !c.is_empty());
            let ours = comment.and_then(parse_signal_comment);
            // What SSM says was decided wins over what the comment says.
            let decision = match text(&["ApprovalStatus", "Decision"]) {
                Some(s)
                    if s.eq_ignore_ascii_case("Reject") || s.eq_ignore_ascii_case("Rejected") =>
                {
                    Some(Decision::Reject)
                }
                Some(s)
                    if s.eq_ignore_ascii_case("Approve") || s.eq_ignore_ascii_case("Approved") =>
                {
                    Some(Decision::Approve)
                }
                _ => ours.as_ref().map(|(d, ..)| *d),
            };
            let Some(decision) = decision else {
                continue;
            };
            let (named, reason) = match ours {
                Some((_, handle, user_id, reason)) => (Some((user_id, handle)), reason),
                None => (None, comment.map(str::to_owned)),
            };
            found.push(RecordedBySsm {
                decision,
                approver: text(&["Approver"])
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
                named,
                at_unix: text(&["ApprovalDecisionTime"]).and_then(parse_iso_time),
                reason,
            });
        }
    }
    found
}

/// The first of `names` in `entry`, in any letter case.
fn field<'a>(entry: &'a Value, names: &[&str]) -> Option<&'a Value> {
    let object = entry.as_object()?;
    names.iter().find_map(|name| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// `2022-04-06T07:22:51.034463Z` (UTC, fraction optional) as Unix seconds.
fn parse_iso_time(raw: &str) -> Option<i64> {
    let raw = raw.strip_suffix('Z')?;
    let (date, time) = raw.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let time = time.split('.').next()?;
    let mut time = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (time.next()??, time.next()??, time.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian, in eras of 400 years).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_always_fits_ssms_512_characters() {
        let short = signal_comment(Decision::Reject, "bob", "U0BOB", Some("disk full"));
        assert_eq!(short, "Rejected in Slack by bob (U0BOB): disk full");
        for reason in ["x".repeat(1000), "é".repeat(1000), "🙂".repeat(1000)] {
            let long = signal_comment(Decision::Reject, "bob", "U0BOB", Some(&reason));
            assert!(long.encode_utf16().count() <= COMMENT_MAX);
            assert!(long.chars().count() <= COMMENT_MAX);
            assert!(long.ends_with('…'));
            assert!(long.starts_with("Rejected in Slack by bob (U0BOB): "));
        }
        let exact = "y".repeat(COMMENT_MAX - "Rejected in Slack by bob (U0BOB): ".len());
        let fits = signal_comment(Decision::Reject, "bob", "U0BOB", Some(&exact));
        assert_eq!(fits.chars().count(), COMMENT_MAX);
        assert!(!fits.ends_with('…'));
    }

    #[test]
    fn comments_read_back_as_written() {
        for (decision, reason) in [
            (Decision::Approve, None),
            (Decision::Reject, Some("the disk (sda) is full: stop")),
        ] {
            let comment = signal_comment(decision, "alice.b", "U0ALICE", reason);
            assert_eq!(
                parse_signal_comment(&comment),
                Some((
                    decision,
                    "alice.b".into(),
                    "U0ALICE".into(),
                    reason.map(str::to_owned)
                ))
            );
        }
        assert_eq!(parse_signal_comment("Approved in the console"), None);
        assert_eq!(parse_signal_comment("Approved in Slack by  (U0A)"), None);
        assert_eq!(
            parse_signal_comment("Approved in Slack by x (<@here>)"),
            None
        );
    }

    proptest::proptest! {
        /// Whatever the person typed, SSM takes the comment, and it reads back as who
        /// decided, with the reason (or its start) as sent.
        #[test]
        fn every_comment_fits_ssm_and_reads_back(
            handle in "[a-z0-9._-]{1,21}",
            user_id in "[UW][A-Z0-9]{2,11}",
            reason in proptest::option::of("(\\PC|\n){0,1100}"),
            reject in proptest::bool::ANY,
        ) {
            let decision = if reject { Decision::Reject } else { Decision::Approve };
            let comment = signal_comment(decision, &handle, &user_id, reason.as_deref());
            proptest::prop_assert!(comment.encode_utf16().count() <= COMMENT_MAX);
            let (read, read_handle, read_id, read_reason) =
                parse_signal_comment(&comment).expect("our own comment");
            proptest::prop_assert_eq!((read, read_handle, read_id), (decision, handle, user_id));
            if let (Some(sent), Some(read)) = (reason.as_deref(), read_reason.as_deref()) {
                let kept = read.strip_suffix('…').unwrap_or(read);
                proptest::prop_assert!(sent.starts_with(kept), "{:?} / {:?}", sent, read);
            }
        }
    }

    #[test]
    fn decisions_are_read_from_ssms_approver_decisions() {
        let one = r#"{"Approver":"arn:aws:iam::1:role/r","Decision":"Approve","ApprovalDecisionTime":"2022-04-06T07:22:51.034463Z","Comment":"Approved in Slack by alice (U0ALICE)"}"#;
        let list = r#"[{"Approver":"a","Decision":"Approve","Comment":"LGTM"},{"Approver":"b","Decision":"Reject","Comment":"Rejected in Slack by bob (U0BOB): no"}]"#;
        let found = decisions_in_outputs(&[one.into(), list.into(), "not json".into()]);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].named, Some(("U0ALICE".into(), "alice".into())));
        assert_eq!(found[0].approver.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(found[0].at_unix, Some(1_649_229_771));
        // A decision made elsewhere is read too, with its own comment.
        assert_eq!(
            (
                found[1].named.as_ref(),
                found[1].approver.as_deref(),
                found[1].reason.as_deref()
            ),
            (None, Some("a"), Some("LGTM"))
        );
        assert_eq!(
            (found[2].decision, found[2].reason.as_deref()),
            (Decision::Reject, Some("no"))
        );
        assert_eq!(parse_iso_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso_time("2000-02-29T12:00:00.5Z"), Some(951_825_600));
        assert_eq!(parse_iso_time("2000-13-01T00:00:00Z"), None);
    }

    #[test]
    fn entries_are_read_whatever_their_keys_letter_case_and_status_name() {
        // SSM does not document the entries: the shape cdk-ssm-documents models
        // (ApprovalStatus), and keys in another letter case, read alike.
        let shapes = [
            r#"{"Approver":"arn:aws:sts::1:assumed-role/R/U0A","ApprovalStatus":"Rejected","ApprovalDecisionTime":"2022-04-06T07:22:51Z","Comment":"Rejected in Slack by a (U0A): no"}"#,
            r#"{"approver":"arn:aws:sts::1:assumed-role/R/U0A","decision":"Reject","approvalDecisionTime":"2022-04-06T07:22:51Z","comment":"Rejected in Slack by a (U0A): no"}"#,
            r#"[{"APPROVER":"arn:aws:sts::1:assumed-role/R/U0A","APPROVALSTATUS":"REJECT","APPROVALDECISIONTIME":"2022-04-06T07:22:51Z","COMMENT":"Rejected in Slack by a (U0A): no"}]"#,
        ];
        for shape in shapes {
            let found = decisions_in_outputs(&[shape.into()]);
            assert_eq!(found.len(), 1, "{shape}");
            let d = &found[0];
            assert_eq!(d.decision, Decision::Reject, "{shape}");
            assert_eq!(
                d.approver.as_deref(),
                Some("arn:aws:sts::1:assumed-role/R/U0A")
            );
            assert_eq!(d.named, Some(("U0A".into(), "a".into())), "{shape}");
            assert_eq!(d.at_unix, Some(1_649_229_771), "{shape}");
            assert_eq!(d.reason.as_deref(), Some("no"), "{shape}");
        }
        // No decision SSM names and no comment of ours: nothing to record.
        assert!(decisions_in_outputs(&[r#"{"Approver":"x","Comment":"hmm"}"#.into()]).is_empty());
    }

    #[test]
    fn a_comment_that_reads_like_ours_credits_nobody_unless_we_signed_it() {
        let found = decisions_in_outputs(&[r#"{"Approver":"arn:aws:sts::1:assumed-role/Admin/mallory","Decision":"Approve","Comment":"Approved in Slack by alice (U0ALICE)"}"#.into()]);
        let forged = found[0].clone().into_record("s-1", 5, false);
        assert_eq!((forged.user_id.as_str(), forged.handle.as_str()), ("", ""));
        assert_eq!(
            forged.principal.as_deref(),
            Some("arn:aws:sts::1:assumed-role/Admin/mallory")
        );
        let ours = found[0].clone().into_record("s-1", 5, true);
        assert_eq!((ours.user_id.as_str(), ours.principal), ("U0ALICE", None));
    }
}
