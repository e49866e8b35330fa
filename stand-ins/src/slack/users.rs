//! People: who sees the channel and clicks, their user groups, and the `user` of payloads.

use serde_json::{Value, json};

use super::{SlackStandIn, TEAM_ID};

/// A person who can see the channel: of the app's workspace, or of another
/// organization sharing the channel (Slack Connect).
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub username: String,
    /// The person's own workspace.
    pub team_id: String,
    /// The address on their profile (`users.lookupByEmail` finds them by it).
    pub email: Option<String>,
}

impl Person {
    /// A member of the app's own workspace ([`TEAM_ID`]).
    pub fn new(id: &str, username: &str) -> Self {
        Self::of_team(id, username, TEAM_ID)
    }

    /// A member of another workspace, clicking in a shared channel.
    pub fn of_team(id: &str, username: &str, team_id: &str) -> Self {
        Self {
            id: id.into(),
            username: username.into(),
            team_id: team_id.into(),
            email: None,
        }
    }

    /// The same person, with this address on their profile.
    pub fn with_email(self, email: &str) -> Self {
        Self {
            email: Some(email.into()),
            ..self
        }
    }
}

/// `users.lookupByEmail`: the one person whose profile has this address (any letter
/// case), else `users_not_found`.
pub(super) fn lookup_by_email(
    people: &std::collections::HashMap<String, Person>,
    email: &str,
) -> Result<Value, &'static str> {
    if email.trim().is_empty() {
        return Err("invalid_arguments");
    }
    let mut found: Vec<&Person> = people
        .values()
        .filter(|p| {
            p.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email.trim()))
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let person = found.first().ok_or("users_not_found")?;
    Ok(
        json!({"user": {"id": person.id, "team_id": person.team_id, "name": person.username,
        "deleted": false, "is_bot": false,
        "profile": {"email": person.email, "display_name": person.username}}}),
    )
}

/// The direct-message channel between the app and a person (`D…`): where
/// `chat.postMessage` to a user ID posts (the app's Messages tab).
pub(super) fn dm_channel(user_id: &str) -> String {
    format!("D{}", &user_id[1..])
}

impl SlackStandIn {
    pub fn add_person(&self, person: Person) {
        self.lock().people.insert(person.id.clone(), person);
    }

    pub fn add_usergroup(&self, id: &str, members: &[&str]) {
        self.lock()
            .usergroups
            .insert(id.into(), members.iter().map(|m| m.to_string()).collect());
    }

    /// The messages the app sent a person directly (to their user ID), oldest first.
    pub fn direct_messages(&self, user_id: &str) -> Vec<super::StoredMessage> {
        let channel = dm_channel(user_id);
        let state = self.lock();
        let mut found: Vec<_> = state
            .messages
            .values()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.ts.cmp(&b.ts));
        found
    }

    /// The display name Slack shows for a user ID (for terminal rendering).
    pub fn username(&self, user_id: &str) -> Option<String> {
        self.lock().people.get(user_id).map(|p| p.username.clone())
    }
}

/// The `user` of an interaction payload.
pub(super) fn user_json(person: &Person) -> Value {
    json!({"id": person.id, "username": person.username, "name": person.username, "team_id": person.team_id})
}
