//! Which channel a runbook's prompts go to: `SLACK_ROUTES`, a comma-separated list
//! of `RunbookNamePrefix=ChannelID`. The longest prefix that the runbook's name starts
//! with wins; a runbook no route names goes to `SLACK_CHANNEL`.

/// A parsed `SLACK_ROUTES`, longest prefix first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    routes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("route {0:?} is not RunbookNamePrefix=ChannelID")]
    NotAPair(String),
    #[error("route {0:?} has an empty runbook name prefix")]
    EmptyPrefix(String),
    #[error("route {route:?}: {channel:?} is not a channel ID (like C0123456789)")]
    NotAChannel { route: String, channel: String },
    #[error("the prefix {0:?} is routed twice")]
    Duplicate(String),
}

/// A Slack channel ID: `C`, `G` or `D`, then upper-case letters and digits.
pub fn is_channel_id(raw: &str) -> bool {
    raw.len() >= 3
        && matches!(raw.as_bytes()[0], b'C' | b'G' | b'D')
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Routes {
    pub fn parse(raw: &str) -> Result<Self, RouteError> {
        let mut routes: Vec<(String, String)> = vec![];
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let shown = || entry.chars().take(80).collect::<String>();
            let (prefix, channel) = entry
                .split_once('=')
                .ok_or_else(|| RouteError::NotAPair(shown()))?;
            let (prefix, channel) = (prefix.trim(), channel.trim());
            if prefix.is_empty() {
                return Err(RouteError::EmptyPrefix(shown()));
            }
            if !is_channel_id(channel) {
                return Err(RouteError::NotAChannel {
                    route: shown(),
                    channel: channel.chars().take(40).collect(),
                });
            }
            if routes.iter().any(|(p, _)| p == prefix) {
                return Err(RouteError::Duplicate(prefix.to_owned()));
            }
            routes.push((prefix.to_owned(), channel.to_owned()));
        }
        routes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(Self { routes })
    }

    /// The channel for runbook `document_name`: the longest matching prefix's, else `default`.
    pub fn channel_for<'a>(&'a self, document_name: &str, default: &'a str) -> &'a str {
        self.routes
            .iter()
            .find(|(prefix, _)| document_name.starts_with(prefix.as_str()))
            .map_or(default, |(_, channel)| channel.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// Runbooks chosen by name prefix (`SLACK_RESUME_PREFIXES`): comma-separated
/// prefixes, or `*` for every runbook. Empty chooses none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunbookPrefixes {
    all: bool,
    prefixes: Vec<String>,
}

impl RunbookPrefixes {
    pub fn parse(raw: &str) -> Self {
        let entries: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        Self {
            all: entries.iter().any(|e| e == "*"),
            prefixes: entries,
        }
    }

    pub fn matches(&self, document_name: &str) -> bool {
        self.all
            || self
                .prefixes
                .iter()
                .any(|p| document_name.starts_with(p.as_str()))
    }

    /// No runbook may be resumed from Slack (the default).
    pub fn is_empty(&self) -> bool {
        !self.all && self.prefixes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_prefix_wins() {
        let routes = Routes::parse("Prod-=C0PROD, Prod-Db-=C0DBA ,Staging=C0STAGE").unwrap();
        assert_eq!(routes.channel_for("Prod-Db-Failover", "C0DEFAULT"), "C0DBA");
        assert_eq!(
            routes.channel_for("Prod-Web-Restart", "C0DEFAULT"),
            "C0PROD"
        );
        assert_eq!(routes.channel_for("StagingDeploy", "C0DEFAULT"), "C0STAGE");
        assert_eq!(routes.channel_for("Dev-Thing", "C0DEFAULT"), "C0DEFAULT");
        // Prefixes are case-sensitive, as runbook names are.
        assert_eq!(routes.channel_for("prod-db-x", "C0DEFAULT"), "C0DEFAULT");
    }

    #[test]
    fn empty_routes_send_everything_to_the_default_channel() {
        let routes = Routes::parse(" , ").unwrap();
        assert!(routes.is_empty());
        assert_eq!(routes.channel_for("Anything", "C0DEFAULT"), "C0DEFAULT");
    }

    #[test]
    fn resumable_runbooks_are_chosen_by_prefix_and_none_by_default() {
        let none = RunbookPrefixes::parse("");
        assert!(!none.matches("Deploy"));
        let some = RunbookPrefixes::parse("Deploy-, Maint");
        assert!(some.matches("Deploy-Web") && some.matches("Maintenance"));
        assert!(!some.matches("Cleanup"));
        assert!(RunbookPrefixes::parse("*").matches("Anything"));
    }

    #[test]
    fn bad_routes_are_named() {
        assert_eq!(
            Routes::parse("Prod-C0PROD"),
            Err(RouteError::NotAPair("Prod-C0PROD".into()))
        );
        assert_eq!(
            Routes::parse("=C0PROD"),
            Err(RouteError::EmptyPrefix("=C0PROD".into()))
        );
        assert!(matches!(
            Routes::parse("Prod-=#prod"),
            Err(RouteError::NotAChannel { channel, .. }) if channel == "#prod"
        ));
        assert_eq!(
            Routes::parse("Prod-=C0A,Prod-=C0B"),
            Err(RouteError::Duplicate("Prod-".into()))
        );
    }
}
