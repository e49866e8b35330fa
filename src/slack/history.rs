//! `conversations.history`: a channel's recent messages, newest first, with their
//! message metadata (`include_all_metadata`), one page at a time. Scopes
//! `channels:history` (public channels) and `groups:history` (private ones).

use serde_json::Value;

use super::{SlackClient, SlackError, short, transport};
use crate::deadline::Deadline;

const METHOD: &str = "conversations.history";

/// One page of a channel's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Newest first, as Slack sends them.
    pub messages: Vec<Value>,
    /// Where the next page starts (`response_metadata.next_cursor`), if there is one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Slack refused to read the channel (`missing_scope`, `not_in_channel`,
    /// `channel_not_found`, …); with `missing_scope`, the scope it `needed`.
    #[error("Slack {METHOD} refused: {error}{}", needed.as_deref().map(|n| format!(" (needs {n})")).unwrap_or_default())]
    Refused {
        error: String,
        needed: Option<String>,
    },
    #[error(transparent)]
    Call(#[from] SlackError),
}

impl HistoryError {
    /// What to add or do so that the app may read the channel, for the log.
    pub fn remedy(&self) -> String {
        match self {
            Self::Refused { error, needed } if error == "missing_scope" => match needed {
                Some(scope) => format!("add the bot scope {scope} to the Slack app and reinstall it"),
                None => "add the bot scopes channels:history (public channels) and groups:history \
                         (private channels) to the Slack app and reinstall it"
                    .to_owned(),
            },
            Self::Refused { error, .. } if error == "not_in_channel" => {
                "invite the app to the channel".to_owned()
            }
            Self::Refused { error, .. } if error == "channel_not_found" => {
                "check the channel ID, and that the app is in the channel".to_owned()
            }
            Self::Call(SlackError::RateLimited { .. }) => {
                "Slack rate limits conversations.history (Tier 3 for apps created from the manifest)"
                    .to_owned()
            }
            _ => "see the error".to_owned(),
        }
    }
}

impl SlackClient {
    /// The page of `channel`'s messages since `oldest` (Slack's `ts` form) that starts
    /// at `cursor` (the first page without one), at most `limit` messages, each with its
    /// metadata.
    pub async fn history_page(
        &self,
        channel: &str,
        oldest: &str,
        cursor: Option<&str>,
        limit: u32,
        deadline: &Deadline,
    ) -> Result<HistoryPage, HistoryError> {
        let limit = limit.to_string();
        let mut arguments = vec![
            ("channel", channel),
            ("oldest", oldest),
            ("limit", limit.as_str()),
            ("include_all_metadata", "true"),
        ];
        if let Some(cursor) = cursor {
            arguments.push(("cursor", cursor));
        }
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&arguments)
            .finish();
        let url = format!("{}/{METHOD}?{query}", self.api_url);
        let response = self
            .send(METHOD, deadline, || {
                self.http.get(&url).bearer_auth(self.token.expose())
            })
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| transport(METHOD, e))?;
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            return Err(SlackError::Status {
                method: METHOD,
                status,
                detail: short(&text),
            }
            .into());
        };
        if value["ok"] != true {
            let error = value["error"]
                .as_str()
                .unwrap_or("unknown_error")
                .to_owned();
            return Err(match error.as_str() {
                "ratelimited" => SlackError::Api {
                    method: METHOD,
                    error,
                    status,
                }
                .into(),
                _ => HistoryError::Refused {
                    needed: value["needed"].as_str().map(str::to_owned),
                    error,
                },
            });
        }
        let messages = value["messages"].as_array().cloned().unwrap_or_default();
        let next_cursor = value["response_metadata"]["next_cursor"]
            .as_str()
            .filter(|c| !c.is_empty() && value["has_more"] != false)
            .map(str::to_owned);
        Ok(HistoryPage {
            messages,
            next_cursor,
        })
    }
}
