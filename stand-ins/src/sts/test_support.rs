//! What the STS stand-in's tests share: a stand-in with a role, `AssumeRole` calls to it.

use super::{FORM, StsStandIn, VERSION};
use crate::Principals;
use crate::test_requests::signed;

pub(super) const ROLE: &str = "arn:aws:iam::123456789012:role/approvers/SlackApprover";
pub(super) const LAMBDA_KEY: &str = "AKIALAMBDAROLE000001";

pub(super) async fn sts_with_role(allows_source_identity: bool) -> StsStandIn {
    let sts = StsStandIn::start("127.0.0.1:0".parse().unwrap(), Principals::default())
        .await
        .unwrap();
    sts.add_role(ROLE, &[LAMBDA_KEY], allows_source_identity);
    sts
}

pub(super) fn assume_role_body(params: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", "AssumeRole")
        .append_pair("Version", VERSION);
    for (key, value) in params {
        form.append_pair(key, value);
    }
    form.finish()
}

pub(super) fn assume(sts: &StsStandIn, caller: &str, params: &[(&str, &str)]) -> (u16, String) {
    let out = sts.serve(signed(caller, "sts", FORM, None, &assume_role_body(params)));
    (out.status, String::from_utf8(out.body).unwrap())
}

/// The text of the first `<name>` element of `xml`.
pub(super) fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}
