//! Slack request signing: `v0=` + hex(HMAC-SHA256(secret, "v0:{timestamp}:{raw body}")).
//!
//! Pure: the clock is a parameter, so the window edges and a known vector are testable.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Requests older or newer than this (seconds) are refused, as Slack recommends.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

/// Why a request was refused. Never shown to the caller (it gets a bare 401); logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Slack-Request-Timestamp header is missing")]
    MissingTimestamp,
    #[error("the X-Slack-Signature header is missing")]
    MissingSignature,
    #[error("the request timestamp is not a whole number of seconds")]
    MalformedTimestamp,
    #[error("the request timestamp is {0} s away from now (more than 5 minutes)")]
    OutsideWindow(i64),
    #[error("the signature is not of the form v0=<64 hex digits>")]
    MalformedSignature,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a request's Slack signature over the exact body bytes, in constant time.
/// The timestamp window is checked first, so stale replays cost no HMAC work.
pub fn verify_slack_signature(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?.trim();
    let signature = signature.ok_or(SignatureError::MissingSignature)?.trim();
    let sent_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    let skew = now_unix.saturating_sub(sent_at);
    if skew.unsigned_abs() > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(SignatureError::OutsideWindow(skew));
    }
    let hex_digest = signature
        .strip_prefix("v0=")
        .filter(|h| h.len() == 64)
        .ok_or(SignatureError::MalformedSignature)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::MalformedSignature)?;
    mac_over(signing_secret, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` value Slack would send for this body at this timestamp.
/// Used by the Slack stand-in, the event re-signing tool and tests.
pub fn sign_slack_request(signing_secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac_over(signing_secret, &timestamp.to_string(), body).finalize();
    format!("v0={}", hex::encode(digest.into_bytes()))
}

fn mac_over(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example from Slack's "Verifying requests from Slack" guide.
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const SENT: i64 = 1_531_420_618;

    #[test]
    fn accepts_slacks_documented_example() {
        assert_eq!(
            verify_slack_signature(SECRET, Some(TIMESTAMP), Some(SIGNATURE), BODY, SENT),
            Ok(())
        );
        assert_eq!(sign_slack_request(SECRET, SENT, BODY), SIGNATURE);
    }

    #[test]
    fn window_edges_are_inclusive_at_five_minutes() {
        let verify =
            |now| verify_slack_signature(SECRET, Some(TIMESTAMP), Some(SIGNATURE), BODY, now);
        assert_eq!(verify(SENT + 300), Ok(()));
        assert_eq!(verify(SENT - 300), Ok(()));
        assert_eq!(verify(SENT + 301), Err(SignatureError::OutsideWindow(301)));
        assert_eq!(verify(SENT - 301), Err(SignatureError::OutsideWindow(-301)));
    }

    #[test]
    fn refuses_tampering_and_malformed_headers() {
        let verify = |ts: Option<&str>, sig: Option<&str>, body: &[u8]| {
            verify_slack_signature(SECRET, ts, sig, body, SENT)
        };
        let mut tampered = BODY.to_vec();
        tampered[6] ^= 1;
        assert_eq!(
            verify(Some(TIMESTAMP), Some(SIGNATURE), &tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(None, Some(SIGNATURE), BODY),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            verify(Some(TIMESTAMP), None, BODY),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            verify(Some("soon"), Some(SIGNATURE), BODY),
            Err(SignatureError::MalformedTimestamp)
        );
        assert_eq!(
            verify(Some(TIMESTAMP), Some(&SIGNATURE[3..]), BODY),
            Err(SignatureError::MalformedSignature)
        );
        assert_eq!(
            verify(Some(TIMESTAMP), Some("v0=zz"), BODY),
            Err(SignatureError::MalformedSignature)
        );
        let wrong_hex = format!("v0={}", "g".repeat(64));
        assert_eq!(
            verify(Some(TIMESTAMP), Some(&wrong_hex), BODY),
            Err(SignatureError::MalformedSignature)
        );
        let other_secret =
            verify_slack_signature(b"another", Some(TIMESTAMP), Some(SIGNATURE), BODY, SENT);
        assert_eq!(other_secret, Err(SignatureError::Mismatch));
        // a timestamp that differs from the signed one (replay with a fresh header)
        assert_eq!(
            verify(Some("1531420619"), Some(SIGNATURE), BODY),
            Err(SignatureError::Mismatch)
        );
    }

    proptest::proptest! {
        /// Accepts exactly what it signed, inside the window; anything else is refused,
        /// and no input panics.
        #[test]
        fn accepts_exactly_what_was_signed_inside_the_window(
            secret in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            sent in -4_000_000_000i64..4_000_000_000,
            drift in -400i64..400,
            flip in 0usize..600,
        ) {
            let now = sent.saturating_add(drift);
            let signature = sign_slack_request(&secret, sent, &body);
            let verdict = verify_slack_signature(&secret, Some(&sent.to_string()), Some(&signature), &body, now);
            proptest::prop_assert_eq!(verdict.is_ok(), drift.abs() <= 300);
            if drift.abs() <= 300 && !body.is_empty() {
                let mut tampered = body.clone();
                let i = flip % tampered.len();
                tampered[i] ^= 0x01;
                proptest::prop_assert!(verify_slack_signature(&secret, Some(&sent.to_string()), Some(&signature), &tampered, now).is_err());
            }
        }

        #[test]
        fn never_panics_on_any_headers(
            timestamp in proptest::option::of(".{0,40}"),
            signature in proptest::option::of(".{0,100}"),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
            now in proptest::num::i64::ANY,
        ) {
            let _ = verify_slack_signature(b"secret", timestamp.as_deref(), signature.as_deref(), &body, now);
        }
    }
}
