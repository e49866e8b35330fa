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
        }
    }
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

    /// The display name Slack shows for a user ID (for terminal rendering).
    pub fn username(&self, user_id: &str) -> Option<String> {
        self.lock().people.get(user_id).map(|p| p.username.clone())
    }
}

/// The `user` of an interaction payload.
pub(super) fn user_json(person: &Person) -> Value {
    json!({"id": person.id, "username": person.username, "name": person.username, "team_id": person.team_id})
}
