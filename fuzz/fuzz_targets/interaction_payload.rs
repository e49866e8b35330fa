//! The interactions function's parsers on arbitrary bytes: the form body
//! (`payload_from_form` → `parse_interaction`, and `command_from_form`), the payload
//! JSON itself (`parse_interaction` on the bytes as lossy UTF-8), and a button value
//! (`parse_button_value`). Parsed or refused, never a panic; a button value that is
//! read back is written the same way (`button_value`) and reads back equal.

#![no_main]

use approvals::domain::inbound::button::{button_value, parse_button_value};
use approvals::domain::inbound::form::payload_from_form;
use approvals::domain::inbound::slash_command::command_from_form;
use approvals::domain::inbound::{Interaction, parse_interaction};
use libfuzzer_sys::fuzz_target;

fn check_button(raw: &str) {
    if let Ok(target) = parse_button_value(raw) {
        assert_eq!(parse_button_value(&button_value(&target)), Ok(target));
    }
}

fn check_interaction(payload: &str) {
    if let Ok(Interaction::Decision(click)) = parse_interaction(payload) {
        let _ = click.actor.user.handle();
        let _ = click.actor.team();
        check_button(&button_value(&click.target));
    } else if let Ok(Interaction::Reason(reason)) = parse_interaction(payload) {
        let _ = reason.actor.user.handle();
        let _ = reason.actor.team();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = payload_from_form(data) {
        check_interaction(&payload);
        check_button(&payload);
    }
    if let Some(command) = command_from_form(data) {
        let _ = command.actor.user.handle();
        let _ = command.actor.team();
    }
    let text = String::from_utf8_lossy(data);
    check_interaction(&text);
    check_button(&text);
});
