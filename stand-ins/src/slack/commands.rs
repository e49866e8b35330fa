//! Slash commands: the signed form fields Slack sends to a command's URL, and `ssl_check`.

use super::clicks::SignedClick;
use super::response_urls::Original;
use super::users::Person;
use super::{APP_ID, SlackStandIn, VERIFICATION_TOKEN};

impl SlackStandIn {
    /// `person` runs the slash command `command` (with its leading `/`) with `text` in
    /// `channel`: returns the request Slack would send to the command's request URL,
    /// form fields (not a `payload`) signed like a click, with a fresh `response_url`
    /// and `trigger_id`. The command's `response_url` has no message to replace:
    /// `replace_original` and `delete_original` are refused there (Slack ignores
    /// them); it posts ephemeral answers, or with `response_type: in_channel` a
    /// message in the channel.
    pub fn slash_command(
        &self,
        person: &Person,
        channel: &str,
        command: &str,
        text: &str,
    ) -> SignedClick {
        let mut state = self.lock();
        let response_url = state.issue_response_url(
            &self.server.url(),
            "commands",
            Original::Command {
                channel: channel.into(),
            },
            &person.id,
        );
        let trigger_id = state.issue_trigger(&person.id);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", VERIFICATION_TOKEN)
            .append_pair("team_id", &person.team_id)
            .append_pair("team_domain", "local")
            .append_pair("channel_id", channel)
            .append_pair("channel_name", "approvals")
            .append_pair("user_id", &person.id)
            .append_pair("user_name", &person.username)
            .append_pair("command", command)
            .append_pair("text", text)
            .append_pair("api_app_id", APP_ID)
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", &response_url)
            .append_pair("trigger_id", &trigger_id)
            .finish();
        state.signed(body)
    }

    /// The request Slack sends to a slash command's URL to check its certificate:
    /// `ssl_check=1` and the (deprecated) verification token, signed as usual.
    pub fn ssl_check(&self) -> SignedClick {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("ssl_check", "1")
            .append_pair("token", VERIFICATION_TOKEN)
            .finish();
        self.lock().signed(body)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::slack::test_support::*;
    use crate::slack::{Ephemeral, TEAM_ID};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slash_command_arrives_as_signed_form_fields() {
        let slack = slack().await;
        let command = slack.slash_command(&alice(), CHANNEL, "/approvals", "list pending");
        assert_signed(&command);
        let fields: BTreeMap<String, String> = form_urlencoded::parse(command.body.as_bytes())
            .into_owned()
            .collect();
        let field = |k: &str| fields.get(k).map(String::as_str);
        assert_eq!(field("payload"), None);
        assert_eq!(field("token"), Some(VERIFICATION_TOKEN));
        assert_eq!(
            (field("team_id"), field("team_domain")),
            (Some(TEAM_ID), Some("local"))
        );
        assert_eq!(
            (field("channel_id"), field("channel_name")),
            (Some(CHANNEL), Some("approvals"))
        );
        assert_eq!(
            (field("user_id"), field("user_name")),
            (Some("U0ALICE"), Some("alice"))
        );
        assert_eq!(
            (field("command"), field("text")),
            (Some("/approvals"), Some("list pending"))
        );
        assert_eq!(
            (field("api_app_id"), field("is_enterprise_install")),
            (Some("A0LOCAL"), Some("false"))
        );
        let url = field("response_url").unwrap();
        assert!(url.starts_with(&format!("{}/commands/", slack.server.url())));
        assert!(
            command
                .body
                .contains("command=%2Fapprovals&text=list+pending")
        );

        let opened = api(
            &slack,
            "views.open",
            &json!({"trigger_id": field("trigger_id"), "view": modal()}),
        );
        assert_eq!(opened["ok"], true);
        assert_eq!(slack.open_views()[0].user_id, "U0ALICE");

        let replace = respond(&slack, url, &json!({"replace_original": true, "text": "x"}));
        assert_eq!(
            replace,
            (400, json!({"ok": false, "error": "no_original_message"}))
        );
        assert_eq!(
            respond(&slack, url, &json!({"text": "Nothing waits."})).0,
            200
        );
        assert_eq!(
            slack.ephemeral(),
            [Ephemeral {
                user_id: "U0ALICE".into(),
                text: "Nothing waits.".into()
            }]
        );
        let shown = slack.ephemeral_messages("U0ALICE");
        assert_eq!((shown.len(), shown[0].channel.as_str()), (1, CHANNEL));
        assert!(slack.messages().is_empty());
        assert_eq!(
            respond(
                &slack,
                url,
                &json!({"response_type": "in_channel", "text": "2 waiting"})
            )
            .0,
            200
        );
        assert_eq!(slack.messages()[0].text, "2 waiting");
        assert_eq!(respond(&slack, url, &json!({"text": "3"})).0, 200);
        assert_eq!(respond(&slack, url, &json!({"text": "4"})).0, 200);
        let sixth = respond(&slack, url, &json!({"text": "5"}));
        assert_eq!(sixth.0, 404, "5 uses, the refused one included");
        assert_eq!(slack.count_calls("response_url"), 6);
    }
}
