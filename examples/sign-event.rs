//! Re-signs a Slack event from `events/` with a fresh timestamp, so the real
//! verifier accepts it in `sam local invoke` or `cargo lambda invoke`:
//!
//!     cargo run -q --example sign-event -- events/slack-approve-click.json > /tmp/click.json
//!
//! The secret is `SLACK_SIGNING_SECRET` from the environment if set, else the one in
//! `env.json` (the local env file). It never turns verification off; it signs.

use std::error::Error;

use stand_ins::slack::resign_event;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: sign-event <events/slack-….json>")?;
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?)?;
    let secret = match std::env::var("SLACK_SIGNING_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
    {
        Some(s) => s,
        None => {
            let env_file = concat!(env!("CARGO_MANIFEST_DIR"), "/env.json");
            let env: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(env_file)?)?;
            env["Parameters"]["SLACK_SIGNING_SECRET"]
                .as_str()
                .ok_or("env.json has no Parameters.SLACK_SIGNING_SECRET")?
                .to_owned()
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    resign_event(&mut event, &secret, now)?;
    println!("{}", serde_json::to_string_pretty(&event)?);
    Ok(())
}
