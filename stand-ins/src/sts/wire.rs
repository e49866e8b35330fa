//! STS's wire: Query-protocol parameters, the signer's key, XML answers and errors, times.

use std::collections::HashMap;

use super::{FORM, NAMESPACE};
use crate::{Incoming, Outgoing};

/// An STS error: HTTP status, error code, message.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    status: u16,
    code: String,
    message: String,
}

impl Refusal {
    pub(super) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub(super) fn access_denied(caller: &str, action: &str, role_arn: &str) -> Self {
        Self::new(
            403,
            "AccessDenied",
            format!(
                "User: {caller} is not authorized to perform: {action} on resource: {role_arn}"
            ),
        )
    }

    /// The error document STS sends: `Sender` faults for 4xx, `Receiver` for 5xx.
    pub(super) fn into_response(self) -> Outgoing {
        let request_id = uuid::Uuid::new_v4().to_string();
        let fault = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{fault}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml_escape(&self.code),
            xml_escape(&self.message)
        );
        xml(self.status, body, &request_id)
    }
}

/// The parameters of a Query-protocol request: the form-encoded body of a POST, or
/// the query string of a GET.
pub(super) fn query_params(req: &Incoming) -> Result<HashMap<String, String>, Refusal> {
    if req.path != "/" {
        return Err(Refusal::new(
            404,
            "NotFound",
            format!("{} not found", req.path),
        ));
    }
    let encoded: &[u8] = match req.method.as_str() {
        "GET" => req.query.as_bytes(),
        "POST"
            if req
                .header("content-type")
                .is_some_and(|c| c.starts_with(FORM)) =>
        {
            &req.body
        }
        "POST" => b"",
        other => {
            return Err(Refusal::new(
                405,
                "MethodNotAllowed",
                format!("{other} is not supported"),
            ));
        }
    };
    Ok(form_urlencoded::parse(encoded).into_owned().collect())
}

/// The access key a request is signed with, or the error STS sends when it is not.
pub(super) fn caller_access_key(req: &Incoming) -> Result<String, Refusal> {
    if req.header("authorization").is_none() {
        return Err(Refusal::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        ));
    }
    crate::sigv4_access_key(req, "sts").ok_or_else(|| {
        Refusal::new(
            403,
            "IncompleteSignature",
            "The request signature does not conform to AWS standards: it must be SigV4, scoped to sts, with X-Amz-Date",
        )
    })
}

/// A Unix time as STS writes times: `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn iso8601(unix_secs: i64) -> String {
    let (days, secs) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// `value` safe as the text of an XML element.
pub(super) fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(super) fn xml(status: u16, body: String, request_id: &str) -> Outgoing {
    Outgoing {
        status,
        headers: vec![
            ("content-type".into(), "text/xml".into()),
            ("x-amzn-RequestId".into(), request_id.into()),
        ],
        body: body.into_bytes(),
        delay: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_sts_writes_them() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_350_881), "2026-11-22T12:34:41Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(iso8601(253_402_300_799), "9999-12-31T23:59:59Z");
    }
}
