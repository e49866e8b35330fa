//! Form bodies (`application/x-www-form-urlencoded`): reading an interaction's `payload` field.

use super::PayloadError;

/// Reads `payload` from an `application/x-www-form-urlencoded` body: the first
/// `payload` field, decoded as the WHATWG URL standard decodes forms (as
/// `form_urlencoded` does; tested against it), in one pass over the value.
pub fn payload_from_form(body: &[u8]) -> Result<String, PayloadError> {
    let raw = body
        .split(|&b| b == b'&')
        .find_map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            (form_decode(key) == b"payload").then_some(value)
        })
        .ok_or(PayloadError::NoPayload)?;
    Ok(match String::from_utf8(form_decode(raw)) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// `+` is a space; `%` and two hex digits is that byte; anything else, itself.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16)).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&b| b == b'+' || b == b'%') {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        match (rest[0], hex(rest.get(1)), hex(rest.get(2))) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                rest = &rest[3..];
                continue;
            }
            (b'+', ..) => out.push(b' '),
            (other, ..) => out.push(other),
        }
        rest = &rest[1..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_read_from_the_form() {
        let body = format!(
            "payload={}",
            form_urlencoded::byte_serialize(br#"{"type":"block_actions"}"#).collect::<String>()
        );
        assert_eq!(
            payload_from_form(body.as_bytes()).unwrap(),
            r#"{"type":"block_actions"}"#
        );
        assert!(matches!(
            payload_from_form(b"command=%2Fapprovals"),
            Err(PayloadError::NoPayload)
        ));
        assert!(matches!(
            payload_from_form(b""),
            Err(PayloadError::NoPayload)
        ));
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// The form reader agrees with `form_urlencoded` (the WHATWG decoder) on any
        /// body: bytes, escapes (valid or not), `+`, `&` and `=` where they fall.
        #[test]
        fn the_payload_field_reads_as_the_url_standard_reads_it(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec!["payload", "payload=", "pay%6Coad=", "=", "&", "+", "%", "%2", "%41", "%e2%9c%85", "%zz", "%FF"])
                        .prop_map(|s: &str| s.as_bytes().to_vec()),
                    proptest::collection::vec(proptest::num::u8::ANY, 0..8),
                ],
                0..24,
            ),
        ) {
            let body = parts.concat();
            let reference = form_urlencoded::parse(&body)
                .find(|(key, _)| key == "payload")
                .map(|(_, value)| value.into_owned());
            proptest::prop_assert_eq!(payload_from_form(&body).ok(), reference);
        }

    }
}
