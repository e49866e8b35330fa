//! Renders Block Kit as a person would read it in Slack, as plain text for a
//! terminal (the demo) or a README. Covers the block and mrkdwn features this
//! project's messages use; anything else is shown by its type.

use serde_json::Value;

/// `names` turns a user ID into the name Slack would show for `<@U…>`.
pub fn render(blocks: &[Value], names: &dyn Fn(&str) -> Option<String>) -> String {
    let mut lines: Vec<String> = Vec::new();
    for block in blocks {
        match block["type"].as_str().unwrap_or("") {
            "header" => {
                let text = block["text"]["text"].as_str().unwrap_or("");
                lines.push(format!("**{text}**"));
            }
            "section" => {
                if let Some(text) = block["text"]["text"].as_str() {
                    lines.extend(mrkdwn(text, names).lines().map(str::to_owned));
                }
                if let Some(fields) = block["fields"].as_array() {
                    let cells: Vec<String> = fields
                        .iter()
                        .map(|f| mrkdwn(f["text"].as_str().unwrap_or(""), names))
                        .collect();
                    for pair in cells.chunks(2) {
                        let left: Vec<&str> = pair[0].lines().collect();
                        let right: Vec<&str> =
                            pair.get(1).map(|r| r.lines().collect()).unwrap_or_default();
                        for i in 0..left.len().max(right.len()) {
                            let l = left.get(i).copied().unwrap_or("");
                            let r = right.get(i).copied().unwrap_or("");
                            lines.push(format!("{l:<34} {r}").trim_end().to_owned());
                        }
                    }
                }
            }
            "context" => {
                let parts: Vec<String> = block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| mrkdwn(e["text"].as_str().unwrap_or(""), names))
                    .collect();
                lines.push(format!("  {}", parts.join("  ")));
            }
            "actions" => {
                let buttons: Vec<String> = block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let label = e["text"]["text"].as_str().unwrap_or("?");
                        // A button that asks before it acts says so.
                        if e.get("confirm").is_some() {
                            format!("[ {label} (confirm) ]")
                        } else {
                            format!("[ {label} ]")
                        }
                    })
                    .collect();
                lines.push(buttons.join("  "));
            }
            "divider" => lines.push("─".repeat(40)),
            other => lines.push(format!("({other} block)")),
        }
    }
    lines.join("\n")
}

/// Slack mrkdwn to plain text: links, mentions, dates and escapes resolved.
pub fn mrkdwn(text: &str, names: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + end];
        let (target, label) = inner
            .split_once('|')
            .map_or((inner, None), |(t, l)| (t, Some(l)));
        let shown = if let Some(user) = target.strip_prefix('@') {
            format!("@{}", names(user).unwrap_or_else(|| user.to_owned()))
        } else if let Some(group) = target.strip_prefix("!subteam^") {
            // Slack shows a user group by its handle; without one at hand, its ID.
            format!("@{}", label.map_or(group, |l| l.trim_start_matches('@')))
        } else if target.starts_with("!date") {
            label.unwrap_or(target).to_owned()
        } else {
            match label {
                Some(l) => format!("{l} ({target})"),
                None => target.to_owned(),
            }
        };
        out.push_str(&shown);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let mut out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    for (code, emoji) in EMOJI {
        out = out.replace(code, emoji);
    }
    out
}

/// The emoji shortcodes this project's messages use, as Slack shows them.
const EMOJI: [(&str, &str); 6] = [
    (":hourglass_flowing_sand:", "⏳"),
    (":white_check_mark:", "✅"),
    (":x:", "❌"),
    (":alarm_clock:", "⏰"),
    (":no_entry_sign:", "🚫"),
    (":grey_question:", "❔"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_links_mentions_and_dates() {
        let names = |id: &str| (id == "U1").then(|| "alice".to_owned());
        let text = ":x: *Rejected* by <@U1> <!date^1^{date}|1970-01-01 00:00 UTC> · <https://x.test|open> &lt;b&gt;";
        assert_eq!(
            mrkdwn(text, &names),
            "❌ *Rejected* by @alice 1970-01-01 00:00 UTC · open (https://x.test) <b>"
        );
    }
}
