//! `verify_slack_signature` on arbitrary headers, body, secret and clock, plus the
//! property that decides what it is for, checked against an independent HMAC oracle
//! (the `hmac`/`sha2` crates directly, not the library's `sign_slack_request`):
//!
//! - a signature computed correctly for a timestamp within ±300 s of now is accepted,
//!   one 301 s or more away is refused, and any one-byte change of the body is refused;
//! - whatever the input, an accepted request carries that very signature (no false
//!   acceptance) and a timestamp inside the window.
//!
//! Input layout (see README.md):
//!
//! ```text
//! byte 0      flags: bit 0 timestamp header present, bit 1 signature header present,
//!             bit 2 `now` is absolute (else relative to the timestamp header)
//! bytes 1..9  i64 little-endian: `now`, or (relative) a drift folded into -400..=400
//! bytes 9..   secret \0 timestamp header \0 signature header \0 body  (headers: UTF-8, lossy)
//! ```
//!
//! Missing trailing fields are empty. The property part reuses the same secret and
//! body, and draws its drift and the changed byte from the `now` word.

#![no_main]

use approvals::domain::signature::{MAX_CLOCK_SKEW_SECS, SignatureError, verify_slack_signature};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

/// `v0=` + lowercase hex of HMAC-SHA256(secret, "v0:{ts}:{body}"), computed here.
fn oracle(secret: &[u8], ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let flags = data[0];
    let word = i64::from_le_bytes(data[1..9].try_into().unwrap());
    let mut fields = data[9..].splitn(4, |b| *b == 0);
    let secret = fields.next().unwrap_or_default();
    let ts_raw = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let sig_raw = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let body = fields.next().unwrap_or_default();

    let drift = word.rem_euclid(801) - 400;
    let now = if flags & 4 != 0 {
        word
    } else {
        // relative: near the timestamp header when it is a number, so the seeds
        // (real signed clicks) get past the window and into the HMAC
        ts_raw.trim().parse::<i64>().unwrap_or(0).saturating_add(drift)
    };
    let ts = (flags & 1 != 0).then_some(ts_raw.as_str());
    let sig = (flags & 2 != 0).then_some(sig_raw.as_str());

    // 1. Anything: no panic, and an acceptance is always deserved.
    let verdict = verify_slack_signature(secret, ts, sig, body, now);
    if verdict.is_ok() {
        let (ts, sig) = (ts.unwrap().trim(), sig.unwrap().trim());
        let sent: i64 = ts.parse().expect("accepted a timestamp that is not a number");
        assert!(
            now.abs_diff(sent) <= MAX_CLOCK_SKEW_SECS as u64,
            "accepted a timestamp {sent} outside the window of now {now}"
        );
        assert!(
            sig.eq_ignore_ascii_case(&oracle(secret, ts, body)),
            "accepted a signature that is not the HMAC of the body: {sig:?}"
        );
    }

    // 2. A correct signature at `sent` = `now` + drift: accepted iff |drift| <= 300.
    let Some(sent) = now.checked_add(drift) else {
        return;
    };
    let sent_text = sent.to_string();
    let good = oracle(secret, &sent_text, body);
    let verdict = verify_slack_signature(secret, Some(&sent_text), Some(&good), body, now);
    if drift.abs() <= MAX_CLOCK_SKEW_SECS {
        assert_eq!(verdict, Ok(()), "refused a correct signature, drift {drift}");
    } else {
        assert_eq!(verdict, Err(SignatureError::OutsideWindow(-drift)));
        return;
    }

    // 3. Any one-byte change of the body is refused.
    if !body.is_empty() {
        let at = (word as u64 >> 16) as usize % body.len();
        let xor = ((word as u64 >> 8) as u8).max(1);
        let mut tampered = body.to_vec();
        tampered[at] ^= xor;
        assert_eq!(
            verify_slack_signature(secret, Some(&sent_text), Some(&good), &tampered, now),
            Err(SignatureError::Mismatch),
            "accepted a body changed at byte {at}"
        );
    }

    // 4. The fuzzed timestamp header itself, when it is a plain number in the window,
    //    with the signature computed over exactly that text, is accepted.
    if let Ok(sent) = ts_raw.parse::<i64>()
        && now.abs_diff(sent) <= MAX_CLOCK_SKEW_SECS as u64
    {
        let good = oracle(secret, &ts_raw, body);
        assert_eq!(
            verify_slack_signature(secret, Some(&ts_raw), Some(&good), body, now),
            Ok(()),
            "refused a correct signature over the timestamp header {ts_raw:?}"
        );
    }
});
