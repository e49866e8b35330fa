//! What the app draws in Slack, one file per surface, sharing [`blocks`] and [`text`].

pub mod blocks;
pub mod decided;
pub mod home;
pub mod list;
pub mod notices;
pub mod progress;
pub mod prompt;
pub mod reason_form;
pub mod reminders;
pub mod starter;
pub mod text;
pub mod unreachable;

#[cfg(test)]
mod fixtures;
