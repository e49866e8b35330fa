//! Slack's request signing, and helpers that sign again or edit API Gateway events.

use serde_json::{Value, json};

pub(super) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs an API Gateway / Function URL event's body again, as Slack would at
/// `timestamp`: sets `x-slack-request-timestamp` and `x-slack-signature` (in
/// `headers`, and in `multiValueHeaders` for REST API events). Base64 bodies are
/// signed over their decoded bytes, as Slack signed the bytes it sent.
pub fn resign_event(event: &mut Value, signing_secret: &str, timestamp: i64) -> Result<(), String> {
    let body = event_body(event)?;
    let signature = sign_slack_request(signing_secret.as_bytes(), timestamp, &body);
    for (name, value) in [
        ("x-slack-request-timestamp", timestamp.to_string()),
        ("x-slack-signature", signature),
    ] {
        for (map_key, wrap) in [("headers", false), ("multiValueHeaders", true)] {
            let Some(map) = event.get_mut(map_key).and_then(Value::as_object_mut) else {
                continue;
            };
            map.retain(|k, _| !k.eq_ignore_ascii_case(name));
            map.insert(
                name.into(),
                if wrap { json!([value]) } else { json!(value) },
            );
        }
    }
    Ok(())
}

/// The raw body bytes of an API Gateway event (base64-decoded when flagged).
pub fn event_body(event: &Value) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let body = event
        .get("body")
        .and_then(Value::as_str)
        .ok_or("the event has no string body")?;
    if event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("body is not base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// Edits the `payload` JSON inside an event's form body (keeping its encoding).
pub fn edit_payload(event: &mut Value, edit: impl FnOnce(&mut Value)) -> Result<(), String> {
    let body = event_body(event)?;
    let raw = payload_from_form(&body).ok_or("the form body has no payload field")?;
    let mut payload: Value = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
    edit(&mut payload);
    let form = format!(
        "payload={}",
        form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let base64 = event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    event["body"] = json!(if base64 {
        base64_encode(form.as_bytes())
    } else {
        form
    });
    Ok(())
}

/// The `payload` field of a form-encoded interaction body.
pub fn payload_from_form(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned())
}

/// `X-Slack-Signature` as Slack computes it: `v0=` and the hex HMAC-SHA256, keyed with
/// the signing secret, of `v0:<timestamp>:<body>`.
pub fn sign_slack_request(signing_secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(signing_secret)
        .expect("HMAC takes keys of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_slacks_documented_example() {
        // From Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign_slack_request(b"8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
