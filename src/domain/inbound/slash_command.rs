//! The `/approvals` slash command, and Slack's certificate check of its URL.

use super::{Actor, SlackUser};

/// The slash command that lists what waits.
pub const APPROVALS_COMMAND: &str = "/approvals";

/// The `/approvals` slash command.
#[derive(Debug, Clone, PartialEq)]
pub struct SlashCommand {
    pub command: String,
    pub text: String,
    pub actor: Actor,
    pub channel_id: Option<String>,
}

/// Slack's certificate check of a slash-command URL: a form with `ssl_check=1` (and a
/// `token`), no `payload` and no `command`. It is answered 200 before anything else.
pub fn is_ssl_check(body: &[u8]) -> bool {
    let mut check = false;
    for (key, value) in form_urlencoded::parse(body) {
        match &*key {
            "ssl_check" => check = value == "1",
            "payload" | "command" => return false,
            _ => {}
        }
    }
    check
}

/// A slash command's form body (`command`, `text`, `user_id`, …), if it is one.
pub fn command_from_form(body: &[u8]) -> Option<SlashCommand> {
    let mut command = None;
    let (mut text, mut user_id, mut user_name, mut team_id, mut channel_id) =
        (String::new(), None, None, None, None);
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        match &*key {
            "command" => command = Some(value),
            "text" => text = value,
            "user_id" => user_id = Some(value),
            "user_name" => user_name = Some(value),
            "team_id" => team_id = Some(value),
            "channel_id" => channel_id = Some(value),
            _ => {}
        }
    }
    let user_id = user_id.filter(|u| !u.trim().is_empty())?;
    Some(SlashCommand {
        command: command?,
        text,
        actor: Actor {
            user: SlackUser {
                id: user_id,
                username: user_name.clone(),
                name: user_name,
                // A command says only the workspace it came through.
                team_id: None,
            },
            team_id,
        },
        channel_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slacks_certificate_check_is_recognised_and_nothing_else() {
        assert!(is_ssl_check(b"ssl_check=1&token=abc"));
        assert!(is_ssl_check(b"token=abc&ssl_check=1"));
        assert!(!is_ssl_check(b"ssl_check=0&token=abc"));
        assert!(!is_ssl_check(b"ssl_check=1&payload=%7B%7D"));
        assert!(!is_ssl_check(b"ssl_check=1&command=%2Fapprovals"));
        assert!(!is_ssl_check(b"payload=%7B%7D"));
        assert!(!is_ssl_check(b""));
    }

    #[test]
    fn reads_a_slash_command() {
        let body = "token=t&team_id=T0TEAM&team_domain=acme&channel_id=C0OPS&channel_name=ops\
            &user_id=U0ALICE&user_name=alice&command=%2Fapprovals&text=&api_app_id=A0APP\
            &response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=1.2.3";
        let command = command_from_form(body.as_bytes()).unwrap();
        assert_eq!(command.command, APPROVALS_COMMAND);
        assert_eq!(command.actor.user.id, "U0ALICE");
        assert_eq!(command.actor.team(), Some("T0TEAM"));
        assert_eq!(command.channel_id.as_deref(), Some("C0OPS"));
        assert_eq!(command_from_form(b"command=%2Fapprovals"), None);
        assert_eq!(command_from_form(b"payload=%7B%7D"), None);
    }
}
