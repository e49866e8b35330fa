//! The events function's parser on arbitrary JSON: bytes → `serde_json::Value`
//! (inputs that are not JSON are skipped) → `parse_automation_event` → `plan()`.
//! An event or a reason to drop it, never a panic.

#![no_main]

use approvals::domain::event::parse_automation_event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(event) = parse_automation_event(&value) {
        let _ = event.plan();
        let _ = event.execution_id.as_str();
        let _ = event.status.as_str();
    }
});
