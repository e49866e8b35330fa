//! One Slack app for a whole AWS Organization: spoke.yaml (deployed by a service-managed
//! StackSet to member accounts and Regions) and the hub's organization mode in template.yaml
//! agree with each other and with the code. The spokes forward exactly the events the hub
//! listens to; their roles exist once per member account (not in the hub's), are trusted by
//! the hub's function roles only, and allow exactly the SSM calls the code makes: the role
//! both functions assume only reads, and the roles that signal trust the interactions
//! function only; the hub admits its organization only, and may assume those roles only in
//! it, exactly as the code's STS calls ask; both templates use the same names, and the hub
//! prints what the spoke's parameters take.

use std::collections::BTreeMap;

// The YAML reader alone: the rest of tests/support builds the handlers and the stand-ins,
// which these checks of the templates do not need.
#[path = "support/yaml.rs"]
#[allow(dead_code)]
mod yaml;

use yaml::{Deployment, Yaml, assert_names_differ, s, tag};

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn spoke() -> Yaml {
    yaml::parse(&read("spoke.yaml"))
}

fn hub() -> Yaml {
    yaml::parse(&read("template.yaml"))
}

fn sub(text: &str) -> Yaml {
    tag("!Sub", s(text))
}

fn reference(name: &str) -> Yaml {
    tag("!Ref", s(name))
}

fn condition(name: &str) -> Yaml {
    tag("!Condition", s(name))
}

fn seq(items: impl IntoIterator<Item = Yaml>) -> Yaml {
    Yaml::Seq(items.into_iter().collect())
}

fn map<const N: usize>(entries: [(&str, Yaml); N]) -> Yaml {
    Yaml::Map(
        entries
            .map(|(k, v)| (k.to_owned(), v))
            .into_iter()
            .collect(),
    )
}

fn resources_of_type<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    template
        .at(&["Resources"])
        .map()
        .iter()
        .filter(|(_, r)| r.at(&["Type"]).str() == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

fn resource<'a>(template: &'a Yaml, name: &str) -> &'a Yaml {
    template.at(&["Resources", name])
}

fn default<'a>(template: &'a Yaml, parameter: &str) -> &'a str {
    template.at(&["Parameters", parameter, "Default"]).str()
}

/// A policy document's statements, each with the condition of the `!If` it sits in (whose
/// other branch must be nothing).
fn statements(document: &Yaml) -> Vec<(Option<String>, &Yaml)> {
    document
        .at(&["Statement"])
        .items()
        .into_iter()
        .map(|statement| match statement {
            Yaml::Tag(name, inner) if name == "!If" => {
                let branches = inner.items();
                assert_eq!(branches.len(), 3, "{inner:#?}");
                assert_eq!(branches[2], &reference("AWS::NoValue"));
                (Some(branches[0].str().to_owned()), branches[1])
            }
            plain => (None, plain),
        })
        .collect()
}

/// Every statement of a role's inline policies.
fn role_statements(role: &Yaml) -> Vec<(Option<String>, &Yaml)> {
    role.at(&["Properties", "Policies"])
        .items()
        .into_iter()
        .flat_map(|policy| statements(policy.at(&["PolicyDocument"])))
        .collect()
}

fn actions(statements: &[(Option<String>, &Yaml)]) -> Vec<String> {
    statements
        .iter()
        .flat_map(|(_, st)| st.at(&["Action"]).strings())
        .collect()
}

/// The SSM operations the code calls (`self.client.<operation>()` in src/ssm.rs), as IAM
/// actions.
fn ssm_calls_in_the_code() -> Vec<String> {
    let code = read("src/ssm.rs");
    let lines: Vec<&str> = code.lines().map(str::trim).collect();
    let calls: Vec<String> = lines
        .windows(2)
        .filter(|w| w[0] == ".client")
        .filter_map(|w| w[1].strip_prefix('.')?.strip_suffix("()"))
        .map(|op| {
            let pascal: String = op
                .split('_')
                .map(|word| word[..1].to_uppercase() + &word[1..])
                .collect();
            format!("ssm:{pascal}")
        })
        .collect();
    assert!(calls.len() >= 4, "src/ssm.rs calls {calls:?}?");
    calls
}

/// The role ARN a spoke builds from a parameter naming a role of the hub's account.
fn hub_role(parameter: &str) -> Yaml {
    sub(&format!(
        "arn:${{AWS::Partition}}:iam::${{HubAccountId}}:role/${{{parameter}}}"
    ))
}

fn hub_bus() -> Yaml {
    sub("arn:${AWS::Partition}:events:${HubRegion}:${HubAccountId}:event-bus/${HubEventBusName}")
}

/// A trust policy's single statement: the hub account, narrowed to exactly these role ARNs.
fn assert_trusts_only(role: &Yaml, hub_roles: &[&str], trust_actions: &[&str]) {
    let trust = statements(role.at(&["Properties", "AssumeRolePolicyDocument"]));
    assert_eq!(trust.len(), 1, "{trust:#?}");
    let (cond, statement) = &trust[0];
    assert!(cond.is_none());
    assert_eq!(statement.at(&["Effect"]).str(), "Allow");
    assert_eq!(
        statement.at(&["Principal"]),
        &map([(
            "AWS",
            sub("arn:${AWS::Partition}:iam::${HubAccountId}:root")
        )])
    );
    assert_eq!(statement.at(&["Action"]).strings(), trust_actions);
    assert_eq!(
        statement.at(&["Condition"]),
        &map([(
            "ArnEquals",
            map([(
                "aws:PrincipalArn",
                seq(hub_roles.iter().map(|p| hub_role(p))),
            )])
        )])
    );
}

#[test]
fn the_spoke_roles_exist_once_per_account_under_fixed_names() {
    let t = spoke();
    assert_eq!(
        t.at(&["Conditions", "IsPrimaryRegion"]),
        &tag(
            "!Equals",
            seq([reference("AWS::Region"), reference("PrimaryRegion")])
        )
    );
    let conditions = t.at(&["Conditions"]);
    let only_in_primary_region = |name: &str| {
        name == "IsPrimaryRegion"
            || matches!(conditions.at(&[name]), Yaml::Tag(and, parts)
                if and == "!And" && parts.items().contains(&&condition("IsPrimaryRegion")))
    };
    let roles = resources_of_type(&t, "AWS::IAM::Role");
    assert_eq!(roles.len(), 4, "{roles:#?}");
    for (name, role) in &roles {
        let cond = role.at(&["Condition"]).str();
        assert!(only_in_primary_region(cond), "{name} under {cond}");
        // A fixed name, from a parameter: the hub and the other Regions' stacks build its ARN.
        let Yaml::Tag(r, parameter) = role.at(&["Properties", "RoleName"]) else {
            panic!("{name} has no RoleName")
        };
        assert_eq!(r, "!Ref");
        assert!(t.get("Parameters").unwrap().get(parameter.str()).is_some());
    }
    // Nothing refers to another resource: each exists under its own condition (per Region,
    // per account), so the forwarding rules name their role by its ARN.
    let names: Vec<&String> = t.at(&["Resources"]).map().keys().collect();
    for node in t.at(&["Resources"]).walk() {
        if let Yaml::Tag(kind, inner) = node {
            assert_ne!(kind, "!GetAtt", "{inner:#?}");
            if kind == "!Ref" {
                assert!(!names.contains(&&inner.str().to_owned()), "!Ref {inner:?}");
            }
        }
    }
    for (name, rule) in resources_of_type(&t, "AWS::Events::Rule") {
        let targets = rule.at(&["Properties", "Targets"]).items();
        assert_eq!(targets.len(), 1, "{name}");
        assert_eq!(
            targets[0].at(&["RoleArn"]),
            &sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ForwardingRoleName}"),
            "{name}"
        );
    }
    assert_eq!(
        resource(&t, "ForwardingRole").at(&["Properties", "RoleName"]),
        &reference("ForwardingRoleName")
    );
}

const EXECUTIONS: &str = "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*";
/// The sweep's read of many executions at once (src/ssm.rs `execution_summaries`,
/// `waiting_executions`).
const LISTING: &str = "ssm:DescribeAutomationExecutions";
const READS: [&str; 2] = [
    "ssm:GetAutomationExecution",
    "ssm:DescribeAutomationStepExecutions",
];

#[test]
fn the_role_both_functions_assume_only_reads() {
    let t = spoke();
    let role = resource(&t, "HubAccessRole");
    assert_eq!(
        role.at(&["Properties", "RoleName"]),
        &reference("SpokeRoleName")
    );
    // The two reads the hub's functions make on automation executions (src/ssm.rs, Ssm::
    // get_execution, latest_steps), with or without per-person approvals: no statement
    // under a condition, and nothing that signals. The events function may assume no other
    // role here (the_signer_role_is_trusted_by_the_interactions_function_only, and
    // tests/template.rs: the_events_function_can_signal_nowhere), so in IAM it signals
    // nowhere; its session policy (src/places.rs) is a second guard, not the only one.
    // And the sweep's listing (`DescribeAutomationExecutions`), which takes no
    // resource-level scope: the one statement on every resource, and it only lists.
    let granted = role_statements(role);
    assert_eq!(actions(&granted), [READS[0], READS[1], LISTING]);
    for (cond, statement) in &granted {
        assert_eq!(cond, &None);
        // This account's executions, in every Region; only the listing on every resource.
        let everything = statement.at(&["Action"]).strings() == [LISTING];
        let resource = statement.at(&["Resource"]);
        if everything {
            assert_eq!(resource, &s("*"));
        } else {
            assert_eq!(resource, &sub(EXECUTIONS));
        }
    }
    for node in role.walk() {
        if let Yaml::Str(text) = node {
            assert!(!text.contains("SendAutomationSignal"), "{text}");
            assert!(
                !text.contains('*') || text == EXECUTIONS || text == "*",
                "{text}"
            );
        }
    }
    // No inline policy hides behind another name, and no managed policy or boundary adds.
    let properties = role.at(&["Properties"]).map();
    for key in ["ManagedPolicyArns", "PermissionsBoundary"] {
        assert!(!properties.contains_key(key), "{key}");
    }
    assert!(resources_of_type(&t, "AWS::IAM::Policy").is_empty());
    assert!(resources_of_type(&t, "AWS::IAM::ManagedPolicy").is_empty());
    // Both functions may assume it, and the deploy refuses to give it a signing role's name.
    assert_trusts_only(
        role,
        &[
            "HubEventsFunctionRoleName",
            "HubInteractionsFunctionRoleName",
        ],
        &["sts:AssumeRole"],
    );
    assert_names_differ(
        &t,
        "SpokeRoleName",
        &["SpokeSignerRoleName", "SpokeApproverRoleName"],
    );
}

#[test]
fn the_spoke_roles_allow_exactly_the_ssm_calls_the_code_makes() {
    let t = spoke();
    // The signer role: the interactions function reads and signals with it, without
    // per-person approvals.
    let signer = resource(&t, "HubSignerRole");
    assert_eq!(
        signer.at(&["Properties", "RoleName"]),
        &reference("SpokeSignerRoleName")
    );
    let granted = role_statements(signer);
    assert_eq!(
        actions(&granted),
        [READS[0], READS[1], "ssm:SendAutomationSignal"]
    );
    for (cond, statement) in &granted {
        assert_eq!(cond, &None);
        assert_eq!(statement.at(&["Resource"]), &sub(EXECUTIONS));
    }
    // All the spoke roles together allow what src/ssm.rs calls, but for the Slack secrets
    // and the rules (ssm:GetParameter), which stay in the hub; /approvals reads the hub's
    // table, not SSM's list.
    let mut allowed: Vec<String> = ["HubAccessRole", "HubSignerRole", "ApproverRole"]
        .into_iter()
        .flat_map(|role| actions(&role_statements(resource(&t, role))))
        .collect();
    let mut in_the_code: Vec<String> = ssm_calls_in_the_code()
        .into_iter()
        .filter(|a| a != "ssm:GetParameter")
        .collect();
    for list in [&mut allowed, &mut in_the_code] {
        list.sort();
        list.dedup();
    }
    assert_eq!(
        allowed, in_the_code,
        "the spoke roles must allow what src/ssm.rs calls"
    );
    assert_eq!(
        t.at(&["Conditions", "NotPerPerson"]),
        &tag("!Not", seq([condition("PerPerson")]))
    );
    assert_eq!(
        t.at(&["Conditions", "PerPerson"]),
        &tag(
            "!Equals",
            seq([reference("PerPersonApprovals"), s("Enabled")])
        )
    );
}

const HUB_ACCOUNT: &str = "999999999999";
const MEMBER_ACCOUNT: &str = "111122223333";

/// spoke.yaml in each kind of place (the hub's account or a member's, PrimaryRegion or
/// another, the hub's Region or another) with and without per-person approvals.
fn spoke_deployments(t: &Yaml) -> Vec<(Deployment<'_>, bool, bool, bool)> {
    let mut all = Vec::new();
    for account in [HUB_ACCOUNT, MEMBER_ACCOUNT] {
        for region in ["eu-west-1", "us-east-1", "eu-central-1"] {
            for per_person in ["Enabled", "Disabled"] {
                let d = Deployment::new(
                    t,
                    &[
                        ("AWS::AccountId", account),
                        ("AWS::Region", region),
                        ("HubAccountId", HUB_ACCOUNT),
                        ("HubRegion", "eu-central-1"),
                        ("PrimaryRegion", "eu-west-1"),
                        ("PerPersonApprovals", per_person),
                    ],
                );
                all.push((
                    d,
                    account == MEMBER_ACCOUNT,
                    region == "eu-west-1",
                    per_person == "Enabled",
                ));
            }
        }
    }
    all
}

#[test]
fn the_signer_role_is_trusted_by_the_interactions_function_only() {
    let t = spoke();
    let signer = resource(&t, "HubSignerRole");
    // The hub account as principal, narrowed to the interactions function's role: the same
    // shape as ApproverRole, without a source identity (the code sets none on this session,
    // named ssm-slack-approvals).
    assert_trusts_only(
        signer,
        &["HubInteractionsFunctionRoleName"],
        &["sts:AssumeRole"],
    );
    assert_eq!(
        signer.at(&["Properties", "MaxSessionDuration"]),
        resource(&t, "ApproverRole").at(&["Properties", "MaxSessionDuration"])
    );
    // Created once per member account, in PrimaryRegion, and only without per-person
    // approvals; with them ApproverRole signals instead.
    assert_eq!(signer.at(&["Condition"]).str(), "CreatesSignerRole");
    for (d, member, primary, per_person) in spoke_deployments(&t) {
        assert_eq!(
            d.creates(signer),
            member && primary && !per_person,
            "member {member}, primary {primary}, per person {per_person}"
        );
        assert_eq!(
            d.creates(resource(&t, "ApproverRole")),
            member && primary && per_person
        );
        assert_eq!(d.creates(resource(&t, "HubAccessRole")), member && primary);
    }
}

#[test]
fn in_a_member_account_exactly_one_role_signs_and_the_events_function_cannot_assume_it() {
    let t = spoke();
    let events = hub_role("HubEventsFunctionRoleName");
    let interactions = hub_role("HubInteractionsFunctionRoleName");
    for (d, member, primary, per_person) in spoke_deployments(&t) {
        let mut signing = Vec::new();
        for (name, role) in resources_of_type(&t, "AWS::IAM::Role") {
            if !d.creates(role) {
                continue;
            }
            let role = d.resolve(role).unwrap();
            let signs = role
                .at(&["Properties", "Policies"])
                .items()
                .iter()
                .flat_map(|p| p.at(&["PolicyDocument", "Statement"]).items())
                .flat_map(|st| st.at(&["Action"]).strings())
                .any(|a| a == "ssm:SendAutomationSignal" || a.contains('*'));
            let trust = role.at(&["Properties", "AssumeRolePolicyDocument", "Statement"]);
            let trusted: Vec<&Yaml> = trust
                .walk()
                .into_iter()
                .filter(|n| **n == events || **n == interactions)
                .collect();
            if signs {
                // Trusted by the interactions function's role, and it alone.
                assert_eq!(trusted, [&interactions], "{name}");
                signing.push(name);
            }
        }
        let expected: &[&str] = match (member && primary, per_person) {
            (false, _) => &[],
            (true, true) => &["ApproverRole"],
            (true, false) => &["HubSignerRole"],
        };
        assert_eq!(
            signing, expected,
            "member {member}, primary {primary}, per person {per_person}"
        );
    }
    assert_eq!(
        t.at(&["Conditions", "CreatesSignerRole"]),
        &tag(
            "!And",
            seq([
                condition("IsPrimaryRegion"),
                condition("IsMemberAccount"),
                condition("NotPerPerson")
            ])
        )
    );
}

#[test]
fn the_spoke_roles_trust_only_the_hubs_function_roles() {
    let (t, h) = (spoke(), hub());
    assert_trusts_only(
        resource(&t, "HubAccessRole"),
        &[
            "HubEventsFunctionRoleName",
            "HubInteractionsFunctionRoleName",
        ],
        &["sts:AssumeRole"],
    );
    assert_trusts_only(
        resource(&t, "HubSignerRole"),
        &["HubInteractionsFunctionRoleName"],
        &["sts:AssumeRole"],
    );
    assert_trusts_only(
        resource(&t, "ApproverRole"),
        &["HubInteractionsFunctionRoleName"],
        &["sts:AssumeRole", "sts:SetSourceIdentity"],
    );
    // Those parameters name the hub's function roles; the hub lets exactly those roles
    // assume the spoke roles.
    for (parameter, logical_id) in [
        ("HubEventsFunctionRoleName", "AutomationEventsFunctionRole"),
        (
            "HubInteractionsFunctionRoleName",
            "SlackInteractionsFunctionRole",
        ),
    ] {
        let described = t.at(&["Parameters", parameter, "Description"]).str();
        assert!(described.contains(logical_id), "{parameter}: {described}");
    }
    assert_eq!(
        resource(&h, "SpokeRoleAssumePolicy").at(&["Properties", "Roles"]),
        &seq([
            reference("AutomationEventsFunctionRole"),
            reference("SlackInteractionsFunctionRole"),
        ])
    );
    for policy in ["SpokeSignerAssumePolicy", "SpokeApproverAssumePolicy"] {
        assert_eq!(
            resource(&h, policy).at(&["Properties", "Roles"]),
            &seq([reference("SlackInteractionsFunctionRole")]),
            "{policy}"
        );
    }
}

#[test]
fn per_person_sessions_in_member_accounts_are_allowed_exactly_as_the_code_asks_for_them() {
    let (t, h) = (spoke(), hub());
    let role = resource(&t, "ApproverRole");
    assert_eq!(
        role.at(&["Properties", "RoleName"]),
        &reference("SpokeApproverRoleName")
    );
    assert_eq!(role.at(&["Condition"]).str(), "CreatesApproverRole");
    assert_eq!(
        t.at(&["Conditions", "CreatesApproverRole"]),
        &tag(
            "!And",
            seq([
                condition("IsPrimaryRegion"),
                condition("IsMemberAccount"),
                condition("PerPerson")
            ])
        )
    );
    let granted = role_statements(role);
    assert_eq!(actions(&granted), ["ssm:SendAutomationSignal"]);
    assert_eq!(granted[0].0, None);
    assert_eq!(
        granted[0].1.at(&["Resource"]),
        &sub("arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*")
    );
    // The code names a person's session after the Slack user and sets it as the source
    // identity, and tags nothing (src/sessions.rs, through the .assume_role() calls under
    // src/): sts:SetSourceIdentity, no sts:TagSession.
    let sessions: String = read("src/sessions.rs").split_whitespace().collect();
    assert!(
        sessions.contains("session_name(user_id)"),
        "src/sessions.rs names sessions after the Slack user"
    );
    assert!(
        sessions.contains(".source_identity(name)")
            || sessions.contains("name,Some(name)")
            || sessions.contains("source_identity:Some(name)"),
        "src/sessions.rs sets the session's name as its source identity"
    );
    for (file, methods) in assume_role_calls() {
        let asked = sts_actions(&methods);
        assert!(!asked.contains(&"sts:TagSession".to_owned()), "{file}");
    }
    // The hub's side: the interactions function may assume it, only in the organization.
    let assume = resource(&h, "SpokeApproverAssumePolicy");
    assert_eq!(assume.at(&["Condition"]).str(), "OrganizationPerPerson");
    assert_eq!(
        h.at(&["Conditions", "OrganizationPerPerson"]),
        &tag(
            "!And",
            seq([condition("HasOrganization"), condition("PerPerson")])
        )
    );
    let granted = statements(assume.at(&["Properties", "PolicyDocument"]));
    assert_eq!(
        actions(&granted),
        ["sts:AssumeRole", "sts:SetSourceIdentity"]
    );
    assert_in_organization(
        granted[0].1,
        "arn:${AWS::Partition}:iam::*:role/${SpokeApproverRoleName}",
    );
}

fn assert_in_organization(statement: &Yaml, role: &str) {
    assert_eq!(statement.at(&["Resource"]), &sub(role));
    assert_eq!(
        statement.at(&["Condition"]),
        &map([(
            "StringEquals",
            map([("aws:ResourceOrgID", reference("OrganizationId"))])
        )])
    );
}

/// Patterns in a stable order (a resource's name decides nothing).
fn sorted(mut patterns: Vec<&Yaml>) -> Vec<&Yaml> {
    patterns.sort_by_key(|p| format!("{p:?}"));
    patterns
}

/// The events function's patterns, as SAM's EventBridgeRule events give them.
fn hub_patterns(h: &Yaml) -> Vec<&Yaml> {
    let events = resource(h, "AutomationEventsFunction").at(&["Properties", "Events"]);
    events
        .map()
        .values()
        .filter(|e| e.at(&["Type"]).str() == "EventBridgeRule")
        .map(|e| e.at(&["Properties", "Pattern"]))
        .collect()
}

#[test]
fn the_spokes_forward_exactly_what_the_hub_listens_to() {
    let (t, h) = (spoke(), hub());
    let hub_patterns = hub_patterns(&h);
    assert_eq!(hub_patterns.len(), 2);
    let forwarded: Vec<&Yaml> = resources_of_type(&t, "AWS::Events::Rule")
        .into_iter()
        .map(|(_, rule)| rule.at(&["Properties", "EventPattern"]))
        .collect();
    assert_eq!(sorted(forwarded), sorted(hub_patterns.clone()));
    for (name, rule) in resources_of_type(&t, "AWS::Events::Rule") {
        assert_eq!(rule.at(&["Condition"]).str(), "Forwards", "{name}");
        let target = rule.at(&["Properties", "Targets"]).items()[0];
        assert_eq!(target.at(&["Arn"]), &hub_bus(), "{name}");
        assert!(rule.at(&["Properties"]).get("EventBusName").is_none());
    }
    // Not in the hub's own account and Region, where the hub's rules already deliver.
    assert_eq!(
        t.at(&["Conditions", "Forwards"]),
        &tag("!Not", seq([condition("IsHub")]))
    );
    assert_eq!(
        t.at(&["Conditions", "IsHub"]),
        &tag(
            "!And",
            seq([
                tag(
                    "!Equals",
                    seq([reference("AWS::AccountId"), reference("HubAccountId")])
                ),
                tag(
                    "!Equals",
                    seq([reference("AWS::Region"), reference("HubRegion")])
                ),
            ])
        )
    );
    // The forwarding role: EventBridge of this account only, putting on the hub's bus only.
    let role = resource(&t, "ForwardingRole");
    let trust = statements(role.at(&["Properties", "AssumeRolePolicyDocument"]));
    assert_eq!(trust.len(), 1);
    assert_eq!(
        trust[0].1.at(&["Principal"]),
        &map([("Service", s("events.amazonaws.com"))])
    );
    assert_eq!(actions(&trust), ["sts:AssumeRole"]);
    assert_eq!(
        trust[0].1.at(&["Condition"]),
        &map([(
            "StringEquals",
            map([("aws:SourceAccount", reference("AWS::AccountId"))])
        )])
    );
    let granted = role_statements(role);
    assert_eq!(actions(&granted), ["events:PutEvents"]);
    assert_eq!(granted[0].1.at(&["Resource"]), &hub_bus());
    // The hub listens on the organization's bus with the same patterns, and lets the rules
    // invoke the events function.
    let org_rules = resources_of_type(&h, "AWS::Events::Rule");
    assert_eq!(org_rules.len(), 2);
    let on_bus: Vec<&Yaml> = org_rules
        .iter()
        .map(|(_, r)| r.at(&["Properties", "EventPattern"]))
        .collect();
    assert_eq!(sorted(on_bus), sorted(hub_patterns));
    for (name, rule) in &org_rules {
        assert_eq!(rule.at(&["Condition"]).str(), "HasOrganization");
        assert_eq!(
            rule.at(&["Properties", "EventBusName"]),
            &reference("OrganizationEventBus")
        );
        let targets = rule.at(&["Properties", "Targets"]).items();
        assert_eq!(targets.len(), 1);
        assert_eq!(
            targets[0].at(&["Arn"]),
            &tag("!GetAtt", s("AutomationEventsFunction.Arn"))
        );
        let permission = resource(&h, &format!("{name}Permission"));
        assert_eq!(permission.at(&["Condition"]).str(), "HasOrganization");
        assert_eq!(
            permission.at(&["Properties", "SourceArn"]),
            &tag("!GetAtt", s(&format!("{name}.Arn")))
        );
        assert_eq!(
            permission.at(&["Properties", "FunctionName"]),
            &reference("AutomationEventsFunction")
        );
    }
}

#[test]
fn the_hub_admits_its_organization_only_and_assumes_roles_only_there() {
    let h = hub();
    let organization = h.at(&["Parameters", "OrganizationId"]);
    assert_eq!(organization.at(&["Default"]).str(), "");
    assert_eq!(
        organization.at(&["AllowedPattern"]).str(),
        "^(o-[a-z0-9]{10,32})?$"
    );
    assert_eq!(
        h.at(&["Conditions", "HasOrganization"]),
        &tag(
            "!Not",
            seq([tag("!Equals", seq([reference("OrganizationId"), s("")]))])
        )
    );
    // Without an organization, nothing of it is deployed: today's single-account mode.
    let mut organization_resources = 0;
    for (name, r) in h.at(&["Resources"]).map() {
        let cond = r.get("Condition").map(Yaml::str);
        let org = name.starts_with("Organization") || name.starts_with("Spoke");
        assert_eq!(
            org,
            matches!(
                cond,
                Some("HasOrganization" | "OrganizationPerPerson" | "OrganizationNotPerPerson")
            ),
            "{name}"
        );
        organization_resources += usize::from(org);
    }
    assert_eq!(organization_resources, 9);
    let bus = resource(&h, "OrganizationEventBus");
    assert_eq!(
        bus.at(&["Properties", "Name"]),
        &reference("OrganizationEventBusName")
    );
    let policy = resource(&h, "OrganizationEventBusPolicy").at(&["Properties"]);
    assert_eq!(
        policy.at(&["EventBusName"]),
        &reference("OrganizationEventBus")
    );
    let statement = policy.at(&["Statement"]);
    assert_eq!(statement.at(&["Effect"]).str(), "Allow");
    assert_eq!(statement.at(&["Principal"]), &s("*"));
    assert_eq!(statement.at(&["Action"]).strings(), ["events:PutEvents"]);
    assert_eq!(
        statement.at(&["Resource"]),
        &tag("!GetAtt", s("OrganizationEventBus.Arn"))
    );
    assert_eq!(
        statement.at(&["Condition"]),
        &map([(
            "StringEquals",
            map([("aws:PrincipalOrgID", reference("OrganizationId"))])
        )])
    );
    // Both functions may assume the spoke role, by its name in any account of the
    // organization, and nothing else through this policy.
    let assume = resource(&h, "SpokeRoleAssumePolicy");
    let granted = statements(assume.at(&["Properties", "PolicyDocument"]));
    assert_eq!(actions(&granted), ["sts:AssumeRole"]);
    assert_in_organization(
        granted[0].1,
        "arn:${AWS::Partition}:iam::*:role/${SpokeRoleName}",
    );
    // Without per-person approvals the interactions function alone may assume the signer
    // role, likewise.
    let assume = resource(&h, "SpokeSignerAssumePolicy");
    assert_eq!(assume.at(&["Condition"]).str(), "OrganizationNotPerPerson");
    assert_eq!(
        h.at(&["Conditions", "OrganizationNotPerPerson"]),
        &tag(
            "!And",
            seq([condition("HasOrganization"), condition("NotPerPerson")])
        )
    );
    let granted = statements(assume.at(&["Properties", "PolicyDocument"]));
    assert_eq!(actions(&granted), ["sts:AssumeRole"]);
    assert_in_organization(
        granted[0].1,
        "arn:${AWS::Partition}:iam::*:role/${SpokeSignerRoleName}",
    );
    // The functions learn the spoke roles' names from these variables (empty: one account):
    // the read-only role for both, but the interactions function's own value (over Globals')
    // names the signer role without per-person approvals (tests/template.rs,
    // the_interactions_function_assumes_the_role_it_is_allowed_to).
    let variables = h.at(&["Globals", "Function", "Environment", "Variables"]);
    assert_eq!(
        variables.at(&[approvals::config::SPOKE_ROLE_NAME]),
        &tag(
            "!If",
            seq([s("HasOrganization"), reference("SpokeRoleName"), s("")])
        )
    );
    assert_eq!(
        resource(&h, "SlackInteractionsFunction").at(&[
            "Properties",
            "Environment",
            "Variables",
            approvals::config::SPOKE_ROLE_NAME
        ]),
        &tag(
            "!If",
            seq([
                s("HasOrganization"),
                tag(
                    "!If",
                    seq([
                        s("PerPerson"),
                        reference("SpokeRoleName"),
                        reference("SpokeSignerRoleName")
                    ])
                ),
                s("")
            ])
        )
    );
    assert_eq!(
        variables.at(&[approvals::config::SPOKE_APPROVER_ROLE_NAME]),
        &tag(
            "!If",
            seq([
                s("OrganizationPerPerson"),
                reference("SpokeApproverRoleName"),
                s("")
            ])
        )
    );
}

#[test]
fn both_templates_use_the_same_names() {
    let (t, h) = (spoke(), hub());
    for (spoke_parameter, hub_parameter, name) in [
        ("SpokeRoleName", "SpokeRoleName", "ssm-slack-approvals-hub"),
        (
            "SpokeSignerRoleName",
            "SpokeSignerRoleName",
            "ssm-slack-approvals-signer",
        ),
        (
            "SpokeApproverRoleName",
            "SpokeApproverRoleName",
            "ssm-slack-approvals-approver",
        ),
        (
            "HubEventBusName",
            "OrganizationEventBusName",
            "ssm-slack-approvals",
        ),
    ] {
        assert_eq!(default(&t, spoke_parameter), name);
        assert_eq!(default(&h, hub_parameter), name, "{hub_parameter}");
        assert_eq!(
            t.at(&["Parameters", spoke_parameter, "AllowedPattern"]),
            h.at(&["Parameters", hub_parameter, "AllowedPattern"]),
            "{spoke_parameter}"
        );
    }
    assert_eq!(
        t.at(&["Parameters", "PerPersonApprovals"])
            .get("AllowedValues"),
        h.at(&["Parameters", "PerPersonApprovals"])
            .get("AllowedValues")
    );
    assert_eq!(
        default(&t, "PerPersonApprovals"),
        default(&h, "PerPersonApprovals")
    );
    // Both refuse the same names: SpokeRoleName, which both functions assume, never names a
    // role that signals.
    assert_eq!(t.at(&["Rules"]), h.at(&["Rules"]));
    // The spoke is plain CloudFormation: a StackSet takes no transform.
    assert!(t.get("Transform").is_none());
    let parameters: BTreeMap<_, _> = t.at(&["Parameters"]).map().clone();
    for required in [
        "HubAccountId",
        "HubRegion",
        "PrimaryRegion",
        "HubEventsFunctionRoleName",
        "HubInteractionsFunctionRoleName",
    ] {
        assert!(
            parameters[required].get("Default").is_none(),
            "{required} must be given"
        );
    }
}

#[test]
fn the_yaml_reader_reads_what_the_templates_use() {
    let doc = yaml::parse(
        "a: 1 # note\nb:\n  - x\n  - k: v\n    l: [p, \"q\\\\r\", !Ref s]\n  - !If\n    - C\n    - !Sub t:${u}\n    - !Ref AWS::NoValue\nc: >-\n  one\n  two\nd: \"e #f\"\ng:\n- h\n",
    );
    assert_eq!(
        doc,
        map([
            ("a", s("1")),
            (
                "b",
                seq([
                    s("x"),
                    map([
                        ("k", s("v")),
                        ("l", seq([s("p"), s("q\\r"), reference("s")])),
                    ]),
                    tag(
                        "!If",
                        seq([s("C"), sub("t:${u}"), reference("AWS::NoValue")])
                    ),
                ])
            ),
            ("c", s("one two")),
            ("d", s("e #f")),
            ("g", seq([s("h")])),
        ])
    );
    // Both templates parse in full.
    for template in [spoke(), hub()] {
        assert!(template.at(&["Resources"]).map().len() >= 6);
    }
}

#[test]
fn the_roles_the_hub_assumes_exist_in_member_accounts_only() {
    let t = spoke();
    // In the hub's own account the functions read and signal with their own roles, in every
    // Region (template.yaml's HUB_ACCOUNT_ID): a spoke role there would be trust nobody uses.
    assert_eq!(
        t.at(&["Conditions", "IsMemberAccount"]),
        &tag(
            "!Not",
            seq([tag(
                "!Equals",
                seq([reference("AWS::AccountId"), reference("HubAccountId")])
            )])
        )
    );
    assert_eq!(
        resource(&t, "HubAccessRole").at(&["Condition"]).str(),
        "CreatesHubAccessRole"
    );
    assert_eq!(
        t.at(&["Conditions", "CreatesHubAccessRole"]),
        &tag(
            "!And",
            seq([condition("IsPrimaryRegion"), condition("IsMemberAccount")])
        )
    );
    for (role, condition) in [
        ("HubSignerRole", "CreatesSignerRole"),
        ("ApproverRole", "CreatesApproverRole"),
    ] {
        assert_eq!(resource(&t, role).at(&["Condition"]).str(), condition);
    }
    // The forwarding role is needed there too: the hub account's other Regions forward.
    assert_eq!(
        resource(&t, "ForwardingRole").at(&["Condition"]).str(),
        "IsPrimaryRegion"
    );
    // Every combination of account and Region leaves the stack something to create.
    let conditions = t.at(&["Conditions"]);
    assert_eq!(
        conditions.at(&["NothingElse"]),
        &tag(
            "!And",
            seq([
                condition("IsHub"),
                tag("!Not", seq([condition("IsPrimaryRegion")]))
            ])
        )
    );
}

/// Every Rust file under src/, with its path, comments dropped and without whitespace (so
/// rustfmt's line breaks do not matter).
fn code_under_src() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    let mut files = Vec::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut files,
    );
    files
        .into_iter()
        .map(|(path, text)| {
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap())
                .flat_map(str::chars)
                .filter(|c| !c.is_whitespace())
                .collect();
            (path, code)
        })
        .collect()
}

/// Each `.assume_role()` call under src/: its file and the builder methods chained on it
/// (up to `.send()`), with their arguments.
fn assume_role_calls() -> Vec<(String, Vec<(String, String)>)> {
    let mut calls = Vec::new();
    for (path, code) in code_under_src() {
        for (at, _) in code.match_indices(".assume_role()") {
            let chain = &code[at + ".assume_role()".len()..];
            let chain = &chain[..chain.find(".send()").expect("a sent call")];
            let mut methods = Vec::new();
            let mut rest = chain;
            while let Some(call) = rest.strip_prefix('.') {
                let open = call.find('(').expect("a method call");
                // The argument: up to the matching parenthesis.
                let mut depth = 0;
                let close = call[open..]
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .expect("a closed call")
                    .0
                    + open;
                methods.push((call[..open].to_owned(), call[open + 1..close].to_owned()));
                rest = &call[close + 1..];
            }
            calls.push((path.clone(), methods));
        }
    }
    calls
}

/// The STS actions a call may need: sts:AssumeRole, sts:SetSourceIdentity if it sets (or
/// may set) a source identity, sts:TagSession if it passes session tags.
fn sts_actions(methods: &[(String, String)]) -> Vec<String> {
    let sets = |names: &[&str]| methods.iter().any(|(m, _)| names.contains(&m.as_str()));
    let mut needed = vec!["sts:AssumeRole".to_owned()];
    if sets(&["source_identity", "set_source_identity"]) {
        needed.push("sts:SetSourceIdentity".into());
    }
    if sets(&[
        "tags",
        "set_tags",
        "transitive_tag_keys",
        "set_transitive_tag_keys",
    ]) {
        needed.push("sts:TagSession".into());
    }
    needed
}

#[test]
fn the_hub_may_assume_roles_exactly_as_the_codes_sts_calls_ask() {
    let (t, h) = (spoke(), hub());
    let calls = assume_role_calls();
    let files: Vec<&String> = calls.iter().map(|(f, _)| f).collect();
    assert!(!calls.is_empty(), "no .assume_role() under src/");
    let mut asked: Vec<String> = calls.iter().flat_map(|(_, m)| sts_actions(m)).collect();
    asked.sort();
    asked.dedup();
    // What the calls under src/ may ask for, all together: a session, with a source
    // identity (a person's), and no session tags.
    assert_eq!(
        asked,
        ["sts:AssumeRole", "sts:SetSourceIdentity"],
        "the .assume_role() calls in {files:?}"
    );
    for (file, methods) in &calls {
        for needed in ["role_arn", "role_session_name"] {
            assert!(
                methods.iter().any(|(m, _)| m == needed),
                "{file}: .assume_role() without .{needed}()"
            );
        }
    }
    // Two kinds of session. The spoke roles', named ssm-slack-approvals (Approvers in
    // member accounts list assumed-role/<SpokeSignerRoleName>/ssm-slack-approvals) and
    // without a source identity, which their trust does not allow; and a person's, named
    // after them, with their ID as source identity (the test above).
    let literal = "\"ssm-slack-approvals\"";
    let code = code_under_src();
    let named = |name: &str| {
        calls.iter().any(|(_, methods)| {
            methods
                .iter()
                .any(|(m, a)| m == "role_session_name" && a.trim_start_matches('&') == name)
                && sts_actions(methods) == ["sts:AssumeRole"]
        })
    };
    let constants: Vec<String> = code
        .iter()
        .flat_map(|(_, c)| {
            c.match_indices(&format!(":&str={literal};"))
                .map(|(at, _)| {
                    let before = &c[..at];
                    let start = before.rfind("const").expect("a constant") + "const".len();
                    before[start..].to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        named(literal)
            || constants.iter().any(|constant| {
                // Passed as the session name with no source identity (`, None`), or used
                // as the session name of a call that sets none.
                named(constant)
                    || code
                        .iter()
                        .any(|(_, c)| c.contains(&format!("{constant},None")))
            }),
        "no spoke session named ssm-slack-approvals without a source identity in {files:?} \
         (constants of that value: {constants:?})"
    );
    // The hub grants exactly those kinds, and trusts nothing else of them: the read-only and
    // signer spoke roles, and the approver roles (the hub's own and the spokes').
    let plain = vec!["sts:AssumeRole".to_owned()];
    let personal = vec!["sts:AssumeRole".to_owned(), "sts:SetSourceIdentity".into()];
    let granted = |policy: &str| {
        let document = resource(&h, policy).at(&["Properties", "PolicyDocument"]);
        actions(&statements(document))
    };
    assert_eq!(granted("SpokeRoleAssumePolicy"), plain);
    assert_eq!(granted("SpokeSignerAssumePolicy"), plain);
    assert_eq!(granted("SpokeApproverAssumePolicy"), personal);
    assert_eq!(granted("SlackApproverAssumePolicy"), personal);
    let trusted = |template: &Yaml, role: &str| {
        actions(&statements(
            resource(template, role).at(&["Properties", "AssumeRolePolicyDocument"]),
        ))
    };
    assert_eq!(trusted(&t, "HubAccessRole"), plain);
    assert_eq!(trusted(&t, "HubSignerRole"), plain);
    assert_eq!(trusted(&t, "ApproverRole"), personal);
    assert_eq!(trusted(&h, "SlackApproverRole"), personal);
    // No session tags anywhere.
    for template in [&t, &h] {
        for node in template.walk() {
            if let Yaml::Str(text) = node {
                assert!(!text.starts_with("sts:Tag"), "{text}");
            }
        }
    }
}

#[test]
fn the_hub_prints_what_the_spokes_parameters_take() {
    let (t, h) = (spoke(), hub());
    let outputs = h.at(&["Outputs"]);
    for (output, value) in [
        (
            "HubEventsFunctionRoleName",
            reference("AutomationEventsFunctionRole"),
        ),
        (
            "HubInteractionsFunctionRoleName",
            reference("SlackInteractionsFunctionRole"),
        ),
        (
            "OrganizationEventBusArn",
            tag("!GetAtt", s("OrganizationEventBus.Arn")),
        ),
    ] {
        let printed = outputs.at(&[output]);
        assert_eq!(
            printed.at(&["Condition"]).str(),
            "HasOrganization",
            "{output}"
        );
        assert_eq!(printed.at(&["Value"]), &value, "{output}");
    }
    // The two role names go to the spoke's parameters of the same names (whose trust
    // policies take them as role names of the hub's account).
    for parameter in [
        "HubEventsFunctionRoleName",
        "HubInteractionsFunctionRoleName",
    ] {
        assert!(
            t.at(&["Parameters"]).get(parameter).is_some(),
            "{parameter}"
        );
    }
    // The bus ARN holds the other three: the spoke builds it back from HubRegion,
    // HubAccountId and HubEventBusName, as EventBridge writes a bus ARN.
    for (name, rule) in resources_of_type(&t, "AWS::Events::Rule") {
        let target = rule.at(&["Properties", "Targets"]).items()[0];
        assert_eq!(target.at(&["Arn"]), &hub_bus(), "{name}");
    }
    assert_eq!(
        resource(&h, "OrganizationEventBus").at(&["Properties", "Name"]),
        &reference("OrganizationEventBusName")
    );
}
