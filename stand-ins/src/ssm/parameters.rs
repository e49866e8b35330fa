//! SSM parameters: stored per account and Region, versioned, read with `GetParameter`.

use serde_json::{Value, json};

use super::{ACCOUNT, Place, SsmStandIn, State, error, ok};
use crate::Outgoing;

/// A parameter's value, and how many times it was written.
#[derive(Debug, Clone)]
pub(super) struct Parameter {
    value: String,
    /// A `SecureString` reads as ciphertext unless decrypted; a `String` as is.
    secure: bool,
    version: u64,
}

impl SsmStandIn {
    /// Stores (or overwrites) a SecureString parameter in the home account and Region.
    pub fn put_parameter(&self, name: &str, value: &str) {
        let region = self.region.clone();
        self.put_parameter_in(ACCOUNT, &region, name, value);
    }

    /// Stores (or overwrites, as `put-parameter --overwrite`, its version going up) a
    /// SecureString parameter in `account` and `region`: only requests signed there
    /// read it, and only `WithDecryption` reads its value.
    pub fn put_parameter_in(&self, account: &str, region: &str, name: &str, value: &str) {
        self.store_parameter(Place::new(account, region), name, value, true);
    }

    /// Stores (or overwrites) a `String` parameter (the only kind CloudFormation's
    /// `AWS::SSM::Parameter` creates) in the home account and Region: read as is,
    /// with or without `WithDecryption`.
    pub fn put_string_parameter(&self, name: &str, value: &str) {
        let region = self.region.clone();
        self.put_string_parameter_in(ACCOUNT, &region, name, value);
    }

    /// Like [`SsmStandIn::put_string_parameter`], in `account` and `region`.
    pub fn put_string_parameter_in(&self, account: &str, region: &str, name: &str, value: &str) {
        self.store_parameter(Place::new(account, region), name, value, false);
    }

    fn store_parameter(&self, place: Place, name: &str, value: &str, secure: bool) {
        let key = (place, name.to_owned());
        let mut state = self.lock();
        let version = state.parameters.get(&key).map_or(1, |p| p.version + 1);
        let parameter = Parameter {
            value: value.into(),
            secure,
            version,
        };
        state.parameters.insert(key, parameter);
    }
}

/// `GetParameter`: the parameter `name` as the request's place holds it.
pub(super) fn get_parameter(state: &State, place: &Place, input: &Value, name: String) -> Outgoing {
    match state.parameters.get(&(place.clone(), name.clone())) {
        Some(Parameter {
            value,
            secure,
            version,
        }) => {
            let decrypted = input
                .get("WithDecryption")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let shown = if decrypted || !secure {
                value.clone()
            } else {
                "AQICAHh…(encrypted)".into()
            };
            let kind = if *secure { "SecureString" } else { "String" };
            let Place { account, region } = &place;
            let arn = format!(
                "arn:aws:ssm:{region}:{account}:parameter/{}",
                name.trim_start_matches('/')
            );
            ok(
                json!({"Parameter": {"Name": name, "Type": kind, "Value": shown,
                        "Version": version, "ARN": arn}}),
            )
        }
        None => error(400, "ParameterNotFound", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::test_support::{MEMBER, MEMBER_KEY, call, call_in, ssm_with_member_session};

    #[tokio::test]
    async fn parameters_belong_to_an_account_and_region_and_can_be_overwritten() {
        let ssm = ssm_with_member_session().await;
        ssm.put_parameter("/approvals/slack-bot-token", "xoxb-home");
        ssm.put_parameter_in(
            MEMBER,
            "eu-west-1",
            "/approvals/slack-bot-token",
            "xoxb-member",
        );
        let get = |region: &str, key: &str| {
            let input = json!({"Name": "/approvals/slack-bot-token", "WithDecryption": true});
            call_in(&ssm, region, key, "GetParameter", input)
        };
        let (status, home) = get("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(status, 200);
        assert_eq!(home["Parameter"]["Value"], "xoxb-home");
        assert_eq!(home["Parameter"]["Version"], 1);
        assert_eq!(
            home["Parameter"]["ARN"],
            format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/approvals/slack-bot-token")
        );
        let (_, member) = get("eu-west-1", MEMBER_KEY);
        assert_eq!(member["Parameter"]["Value"], "xoxb-member");
        assert_eq!(
            member["Parameter"]["ARN"],
            format!("arn:aws:ssm:eu-west-1:{MEMBER}:parameter/approvals/slack-bot-token")
        );
        for (region, key) in [
            ("eu-west-1", "AKIAHOMEACCOUNT00001"),
            ("us-east-1", MEMBER_KEY),
        ] {
            let (status, missing) = get(region, key);
            assert_eq!(status, 400);
            assert_eq!(missing["__type"], "ParameterNotFound");
        }

        let (_, encrypted) = call(
            &ssm,
            "AKIAHOMEACCOUNT00001",
            "GetParameter",
            json!({"Name": "/approvals/slack-bot-token"}),
        );
        assert_ne!(
            encrypted["Parameter"]["Value"], "xoxb-home",
            "not decrypted"
        );
        assert_eq!(encrypted["Parameter"]["Type"], "SecureString");

        ssm.put_parameter("/approvals/slack-bot-token", "xoxb-rotated");
        let (_, rotated) = get("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(rotated["Parameter"]["Value"], "xoxb-rotated");
        assert_eq!(rotated["Parameter"]["Version"], 2);
        assert_eq!(
            get("eu-west-1", MEMBER_KEY).1["Parameter"]["Value"],
            "xoxb-member"
        );
    }

    #[tokio::test]
    async fn a_string_parameter_reads_as_is_and_is_rewritten_in_place() {
        let ssm = ssm_with_member_session().await;
        let rules = "/ssm-slack-approvals/rules";
        ssm.put_string_parameter(rules, r#"{"rules": []}"#);
        ssm.put_string_parameter_in(MEMBER, "eu-west-1", rules, r#"{"rules": [1]}"#);
        let read = |region: &str, key: &str| {
            call_in(&ssm, region, key, "GetParameter", json!({"Name": rules})).1
        };
        let home = read("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(home["Parameter"]["Type"], "String");
        assert_eq!(home["Parameter"]["Value"], r#"{"rules": []}"#);
        assert_eq!(
            read("eu-west-1", MEMBER_KEY)["Parameter"]["Value"],
            r#"{"rules": [1]}"#
        );
        ssm.put_string_parameter(rules, r#"{"rules": [2]}"#);
        let edited = read("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(edited["Parameter"]["Value"], r#"{"rules": [2]}"#);
        assert_eq!(edited["Parameter"]["Version"], 2);
    }
}
