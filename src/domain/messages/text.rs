//! Text helpers: escaping, code spans, mentions, dates, ages and truncation.

use crate::domain::record::DecisionRecord;

/// Names and principals shown in code spans are cut to this many characters first.
pub(super) const NAME_MAX: usize = 200;

/// "@alice, @bob": who made these decisions, as mentions. A decision made outside
/// Slack names the AWS principal SSM recorded, never a person.
pub(super) fn mentions<'a>(decided: impl IntoIterator<Item = &'a DecisionRecord>) -> String {
    decided
        .into_iter()
        .map(|d| match &d.principal {
            Some(arn) => format!("{} outside Slack", principal(arn)),
            None => mention(&d.user_id, &d.handle),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "alice, bob": who made these decisions, as plain text (for notifications).
pub(super) fn handles<'a>(decided: impl IntoIterator<Item = &'a DecisionRecord>) -> String {
    decided
        .into_iter()
        .map(|d| match &d.principal {
            Some(arn) => format!(
                "{} outside Slack",
                escape(&one_line(&truncate(arn, NAME_MAX)))
            ),
            None => escape(&d.handle),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `arn:aws:sts::123456789012:assumed-role/Ops/alice` → `assumed-role/Ops/alice` (account shown after).
pub(super) fn principal(arn: &str) -> String {
    let arn = truncate(arn, NAME_MAX);
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, _, _, account, resource] if !resource.is_empty() => {
            format!("{} ({})", code(resource), escape(&one_line(account)))
        }
        _ => code(&arn),
    }
}

/// `<@U…>` for a well-formed Slack user ID; anything else is shown as text.
pub fn mention(user_id: &str, handle: &str) -> String {
    if is_slack_id(user_id) {
        format!("<@{user_id}>")
    } else {
        escape(&one_line(&truncate(handle, NAME_MAX)))
    }
}

/// Slack IDs (users, groups, teams, channels): an upper-case letter, then upper-case
/// letters and digits.
pub fn is_slack_id(raw: &str) -> bool {
    raw.len() >= 2
        && raw.len() <= 32
        && raw.as_bytes()[0].is_ascii_uppercase()
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

pub(crate) fn quote(message: &str) -> String {
    escape(message)
        .lines()
        .map(|l| format!(">{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Slack mrkdwn control characters (`&`, `<`, `>`) must be escaped in text we did not write.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Text that is not ours, shown as an inline code span it cannot leave: escaped, with
/// backticks (which would end the span) shown as `ˋ` (U+02CB) and line breaks (which
/// Slack does not keep inside a span) as `↵`. Empty text is shown as `(empty)`.
pub fn code(text: &str) -> String {
    let text = truncate(text, NAME_MAX);
    if text.is_empty() {
        return "_(empty)_".into();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    for c in escape(&one_line(&text)).chars() {
        out.push(if c == '`' { '\u{02CB}' } else { c });
    }
    out.push('`');
    out
}

/// Line breaks shown as `↵`, so text stays on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.replace("\r\n", "\u{21B5}")
        .replace(['\n', '\r', '\u{2028}', '\u{2029}'], "\u{21B5}")
}

/// Cuts to at most `max` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    // never leave half an escape sequence (`&am…`) behind
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

/// A date Slack shows in each reader's own time zone, with a UTC fallback.
pub fn slack_date(unix: i64) -> String {
    format!(
        "<!date^{unix}^{{date_short_pretty}} at {{time}}|{}>",
        utc_text(unix)
    )
}

/// `2026-11-21 13:05 UTC`
pub fn utc_text(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// `45 s`, `12 min`, `3 h`, `2 d`.
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_is_a_calendar_date() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(1_763_733_600), "2025-11-21 14:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5), "5 s");
        assert_eq!(age(600), "10 min");
        assert_eq!(age(7200), "2 h");
        assert_eq!(age(3 * 86_400), "3 d");
        assert_eq!(age(-4), "0 s");
    }
}
