//! Access keys and secrets as STS makes them up: random, and never issued twice.

use super::State;
use crate::Principals;

/// Characters of the ID parts STS makes up (access key IDs, role IDs).
pub(super) const ID_CHARS: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Characters of secret access keys and session tokens.
pub(super) const SECRET_CHARS: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An access key ID never issued before: `ASIA` and 16 characters, as STS's are.
pub(super) fn fresh_access_key(state: &mut State, principals: &Principals) -> String {
    loop {
        let key = format!("ASIA{}", random_chars(ID_CHARS, 16));
        if principals.arn_of(&key).is_none() && state.issued_access_keys.insert(key.clone()) {
            return key;
        }
    }
}

/// `n` random characters of `alphabet` (whose length divides 256, so none is
/// likelier than another), from version 4 UUIDs' random bytes.
pub(super) fn random_chars(alphabet: &[u8], n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let uuid = uuid::Uuid::new_v4();
        // Bytes 6 and 8 carry the UUID's version and variant bits.
        for (_, byte) in uuid
            .as_bytes()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 6 && *i != 8)
        {
            if out.len() < n {
                out.push(char::from(alphabet[usize::from(*byte) % alphabet.len()]));
            }
        }
    }
    out
}
