//! What the code expects of the deployment and what template.yaml deploys agree: the
//! table's keys, TTL attribute and waiting-steps index, the permissions each function's
//! calls need (and no more, under the conditions it makes them: the rules document, the
//! organization's Regions), the variables, the EventBridge rules that let through only what
//! the events function acts on, and an endpoint Slack is not throttled out of.

use approvals::store::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

// The YAML reader alone (the rest of tests/support builds the handlers, which these checks
// of the template do not need).
#[path = "support/yaml.rs"]
#[allow(dead_code)]
mod yaml;

use yaml::{Deployment, Yaml, assert_names_differ, s, tag};

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap()
}

/// The block of a top-level resource: from its name to the next resource or section.
fn resource(template: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    let first = lines.next().unwrap_or_else(|| panic!("no resource {name}"));
    let body = lines.take_while(|l| l.is_empty() || l.starts_with("   ") || l.starts_with("  #"));
    std::iter::once(first)
        .chain(body)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The IAM actions a resource's policies allow, in order.
fn actions(block: &str) -> Vec<String> {
    block
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- ").or_else(|| l.strip_prefix("Action: ")))
        .filter(|l| {
            ["ssm:", "dynamodb:", "kms:", "sts:", "sqs:"]
                .iter()
                .any(|service| l.starts_with(service))
        })
        .map(str::to_owned)
        .collect()
}

/// A block's policy statements split by condition: the lines outside any `!If`, and for
/// each `- !If [Condition, then, else]` item its condition, then-branch and else-branch.
struct Conditional {
    condition: String,
    then: String,
    otherwise: String,
}

fn split_conditionals(block: &str) -> (String, Vec<Conditional>) {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = block.lines().collect();
    let (mut plain, mut conditionals) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "- !If" {
            plain.push(lines[i]);
            i += 1;
            continue;
        }
        // The item's three entries sit one level deeper than its `- !If`.
        let depth = indent(lines[i]);
        let item: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || indent(l) > depth)
            .copied()
            .collect();
        i += 1 + item.len();
        let entry = indent(item[0]);
        let mut entries = vec![Vec::new()];
        for (n, line) in item.iter().enumerate() {
            if n > 0 && indent(line) == entry && line.trim_start().starts_with("- ") {
                entries.push(Vec::new());
            }
            entries.last_mut().unwrap().push(*line);
        }
        assert_eq!(entries.len(), 3, "a !If of three entries: {item:#?}");
        conditionals.push(Conditional {
            condition: entries[0][0].trim().trim_start_matches("- ").to_owned(),
            then: entries[1].join("\n"),
            otherwise: entries[2].join("\n"),
        });
    }
    (plain.join("\n"), conditionals)
}

#[test]
fn the_table_is_keyed_and_expires_as_the_code_expects() {
    let table = resource(&template(), "ApprovalsTable");
    assert!(table.contains("Type: AWS::DynamoDB::Table"));
    for (name, kind) in [(PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE")] {
        assert!(
            table.contains(&format!(
                "- AttributeName: {name}\n          KeyType: {kind}"
            )),
            "{name} {kind}: {table}"
        );
        assert!(table.contains(&format!(
            "- AttributeName: {name}\n          AttributeType: S"
        )));
    }
    assert!(table.contains(&format!(
        "AttributeName: {TTL_ATTRIBUTE}\n        Enabled: true"
    )));
    assert!(table.contains("BillingMode: PAY_PER_REQUEST"));
    assert!(table.contains("SSEEnabled: true"));
}

#[test]
fn each_function_may_make_exactly_the_calls_it_makes() {
    let t = template();
    assert_eq!(
        actions(&resource(&t, "AutomationEventsFunction")),
        [
            "ssm:GetAutomationExecution",
            "ssm:DescribeAutomationStepExecutions",
            // The sweep: ten executions' status a call, and what waits in each place.
            "ssm:DescribeAutomationExecutions",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            // The sweep, on the index of what waits.
            "dynamodb:Query",
            // The sweep, on the failed-events queue: read back, delete what was handled.
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "ssm:GetParameter",
            "kms:Decrypt",
            "ssm:GetParameter",
        ]
    );
    assert_eq!(
        actions(&resource(&t, "SlackInteractionsFunction")),
        [
            "ssm:SendAutomationSignal",
            "ssm:GetAutomationExecution",
            "ssm:DescribeAutomationStepExecutions",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            // The Home tab: each person's last decisions, the Events API deliveries handled.
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:Query",
            "ssm:GetParameter",
            "kms:Decrypt",
            "ssm:GetParameter",
        ]
    );
    // Table actions only on the table (and its index); nothing on executions' tags, and
    // nothing on every resource (/approvals reads the table's index, not SSM's list of
    // executions, which takes no resource-level scope) but the sweep's one listing read.
    for function in ["AutomationEventsFunction", "SlackInteractionsFunction"] {
        let block = resource(&t, function);
        assert!(
            block.contains("Resource: !GetAtt ApprovalsTable.Arn"),
            "{function}"
        );
        assert!(!block.contains("Tags"), "{function} touches tags");
        let listing = function == "AutomationEventsFunction";
        assert_eq!(block.contains("Resource: \"*\""), listing, "{function}");
        assert_eq!(
            block.contains("DescribeAutomationExecutions"),
            listing,
            "{function}"
        );
    }
    assert!(
        resource(&t, "AutomationEventsFunction")
            .contains("Action: ssm:DescribeAutomationExecutions\n              Resource: \"*\"")
    );
}

#[test]
fn the_events_function_scales_and_hears_only_what_it_acts_on() {
    let t = template();
    let events = resource(&t, "AutomationEventsFunction");
    assert!(!events.contains("ReservedConcurrentExecutions"));
    assert!(events.contains(
        "detail-type: [EC2 Automation Step Status-change Notification]\n              detail:\n                Action: [aws:approve, aws:pause]"
    ));
    assert!(events.contains("detail-type: [EC2 Automation Execution Status-change Notification]"));
    for status in ["Waiting", "Success", "Failed", "TimedOut", "Cancelled"] {
        assert!(
            events.contains(&format!("                  - {status}\n")),
            "{status}"
        );
    }
    assert!(!events.contains("InProgress"));
    // Both functions find the table by the variable the code reads.
    assert!(t.contains(&format!(
        "{}: !Ref ApprovalsTable",
        approvals::config::TABLE
    )));
}

#[test]
fn decisions_are_signalled_by_the_function_role_only_without_per_person_approvals() {
    let t = template();
    assert!(t.contains("  NotPerPerson: !Not [!Condition PerPerson]\n"));
    // The function's own role may signal only under NotPerPerson: with per-person
    // approvals every signal goes through a SlackApproverRole session.
    let (plain, conditionals) = split_conditionals(&resource(&t, "SlackInteractionsFunction"));
    assert!(!actions(&plain).contains(&"ssm:SendAutomationSignal".to_owned()));
    let signals: Vec<_> = conditionals
        .iter()
        .filter(|c| {
            actions(&c.then).contains(&"ssm:SendAutomationSignal".to_owned())
                || actions(&c.otherwise).contains(&"ssm:SendAutomationSignal".to_owned())
        })
        .collect();
    assert_eq!(signals.len(), 1, "one conditional statement signals");
    assert_eq!(signals[0].condition, "NotPerPerson");
    assert_eq!(actions(&signals[0].then), ["ssm:SendAutomationSignal"]);
    assert_eq!(signals[0].otherwise.trim(), "- !Ref AWS::NoValue");
    assert!(
        signals[0].then.contains(":automation-execution/*"),
        "{}",
        signals[0].then
    );
    // What it reads it reads either way, and nothing else it holds signals.
    for action in [
        "ssm:GetAutomationExecution",
        "ssm:DescribeAutomationStepExecutions",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "ssm:GetParameter",
    ] {
        assert!(actions(&plain).contains(&action.to_owned()), "{action}");
    }
    assert!(
        !actions(&resource(&t, "SlackApproverAssumePolicy"))
            .contains(&"ssm:SendAutomationSignal".to_owned())
    );
    // The approver role, which exists exactly when per-person approvals are on, signals.
    let role = resource(&t, "SlackApproverRole");
    assert!(role.contains("Condition: PerPerson"));
    assert!(actions(&role).contains(&"ssm:SendAutomationSignal".to_owned()));
    assert!(role.contains(":automation-execution/*"));
}

#[test]
fn slack_is_not_throttled_out_of_its_endpoint() {
    let api = resource(&template(), "SlackApi");
    let limit = |name: &str| -> Option<u32> {
        api.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .map(|v| v.parse().unwrap())
    };
    // A stage throttle is one bucket for Slack and whoever floods the URL: it must be far
    // above what Slack sends, or absent.
    for name in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        assert!(
            limit(name).is_none_or(|n| n >= 1000),
            "{name} {:?}",
            limit(name)
        );
    }
    assert!(api.contains("DestinationArn: !GetAtt SlackApiAccessLogs.Arn"));
    assert!(api.contains("$context.requestId"));
}

#[test]
fn per_person_sessions_are_allowed_exactly_as_the_code_asks_for_them() {
    let t = template();
    // The approver role trusts the interactions function's role, with source identity.
    let role = resource(&t, "SlackApproverRole");
    assert!(role.contains("Condition: PerPerson"));
    assert!(role.contains("AWS: !GetAtt SlackInteractionsFunctionRole.Arn"));
    assert_eq!(
        actions(&role),
        [
            "sts:AssumeRole",
            "sts:SetSourceIdentity",
            "ssm:SendAutomationSignal"
        ]
    );
    // The function's role may assume it, and set the source identity the code sets.
    let assume = resource(&t, "SlackApproverAssumePolicy");
    assert!(assume.contains("- !Ref SlackInteractionsFunctionRole"));
    assert!(assume.contains("Resource: !GetAtt SlackApproverRole.Arn"));
    assert_eq!(
        actions(&assume),
        ["sts:AssumeRole", "sts:SetSourceIdentity"]
    );
    // The variable the code reads is set from the role, only when enabled.
    assert!(t.contains(&format!(
        "{}: !If [PerPerson, !GetAtt SlackApproverRole.Arn, \"\"]",
        approvals::config::APPROVER_ROLE_ARN
    )));
    assert!(t.contains(&format!("{}: !Ref SlackRoutes", approvals::config::ROUTES)));
    assert!(t.contains(&format!(
        "{}: !Ref RejectReason",
        approvals::config::REJECT_REASON
    )));
}

/// A parameter's `AllowedPattern`, as CloudFormation reads it (YAML double-quoted).
fn allowed_pattern(block: &str) -> String {
    let quoted = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedPattern: "))
        .expect("an AllowedPattern");
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .expect("a double-quoted AllowedPattern");
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap() } else { c });
    }
    out
}

/// Just enough of a regular expression engine for the template's patterns (anchors, literals,
/// `\` escapes, classes with ranges, negated or not, groups with `|`, `*` `+` `?` `{n,m}`), with the
/// backtracking full-match semantics of CloudFormation's Java patterns.
mod regex {
    #[derive(Debug)]
    enum Node {
        Start,
        End,
        Char(char),
        /// Negated or not, and its ranges.
        Class(bool, Vec<(char, char)>),
        Group(Vec<Vec<Node>>),
        Repeat(Box<Node>, usize, Option<usize>),
    }

    pub struct Regex(Vec<Vec<Node>>);

    impl Regex {
        pub fn new(pattern: &str) -> Self {
            let chars: Vec<char> = pattern.chars().collect();
            let mut pos = 0;
            let alternatives = alternatives(&chars, &mut pos);
            assert_eq!(pos, chars.len(), "unbalanced ) in {pattern}");
            Self(alternatives)
        }

        pub fn is_match(&self, s: &str) -> bool {
            let s: Vec<char> = s.chars().collect();
            self.0
                .iter()
                .any(|alt| seq(alt, &s, 0, &|end| end == s.len()))
        }
    }

    fn alternatives(p: &[char], pos: &mut usize) -> Vec<Vec<Node>> {
        let mut alts = vec![Vec::new()];
        while *pos < p.len() && p[*pos] != ')' {
            let c = p[*pos];
            *pos += 1;
            let atom = match c {
                '|' => {
                    alts.push(Vec::new());
                    continue;
                }
                '^' => Node::Start,
                '$' => Node::End,
                '\\' => {
                    *pos += 1;
                    assert!(!p[*pos - 1].is_alphanumeric(), "class escapes unsupported");
                    Node::Char(p[*pos - 1])
                }
                '(' => {
                    let group = alternatives(p, pos);
                    assert_eq!(p.get(*pos), Some(&')'));
                    *pos += 1;
                    Node::Group(group)
                }
                '[' => {
                    let negated = p[*pos] == '^';
                    if negated {
                        *pos += 1;
                    }
                    // A member: a character, or `\` and the character it escapes.
                    let member = |pos: &mut usize| {
                        if p[*pos] == '\\' {
                            assert!(!p[*pos + 1].is_alphanumeric(), "class escapes unsupported");
                            *pos += 1;
                        }
                        *pos += 1;
                        p[*pos - 1]
                    };
                    let mut ranges = Vec::new();
                    while p[*pos] != ']' {
                        let lo = member(pos);
                        if p[*pos] == '-' && p[*pos + 1] != ']' {
                            *pos += 1;
                            ranges.push((lo, member(pos)));
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    *pos += 1;
                    Node::Class(negated, ranges)
                }
                '.' | '*' | '+' | '?' | '{' => panic!("unsupported {c} at {}", *pos - 1),
                c => Node::Char(c),
            };
            let (min, max) = match p.get(*pos) {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    let close = *pos + p[*pos..].iter().position(|&c| c == '}').unwrap();
                    let bounds: String = p[*pos + 1..close].iter().collect();
                    *pos = close;
                    match bounds.split_once(',') {
                        Some((lo, "")) => (lo.parse().unwrap(), None),
                        Some((lo, hi)) => (lo.parse().unwrap(), Some(hi.parse().unwrap())),
                        None => (bounds.parse().unwrap(), Some(bounds.parse().unwrap())),
                    }
                }
                _ => {
                    alts.last_mut().unwrap().push(atom);
                    continue;
                }
            };
            *pos += 1;
            alts.last_mut()
                .unwrap()
                .push(Node::Repeat(Box::new(atom), min, max));
        }
        alts
    }

    fn seq(nodes: &[Node], s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
        match nodes.split_first() {
            None => k(i),
            Some((node, rest)) => one(node, s, i, &|j| seq(rest, s, j, k)),
        }
    }

    fn one(node: &Node, s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
        match node {
            Node::Start => i == 0 && k(i),
            Node::End => i == s.len() && k(i),
            Node::Char(c) => s.get(i) == Some(c) && k(i + 1),
            Node::Class(negated, ranges) => {
                s.get(i)
                    .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                    && k(i + 1)
            }
            Node::Group(alts) => alts.iter().any(|alt| seq(alt, s, i, k)),
            Node::Repeat(inner, min, max) => repeat(inner, *min, *max, s, i, k),
        }
    }

    /// Greedy: one more repetition first (never an empty one), then stop once `min` is met.
    fn repeat(
        node: &Node,
        min: usize,
        max: Option<usize>,
        s: &[char],
        i: usize,
        k: &dyn Fn(usize) -> bool,
    ) -> bool {
        (max != Some(0)
            && one(node, s, i, &|j| {
                j > i && repeat(node, min.saturating_sub(1), max.map(|m| m - 1), s, j, k)
            }))
            || (min == 0 && k(i))
    }
}

#[test]
fn the_deploy_asks_for_approvers_and_refuses_what_the_functions_would_refuse() {
    use approvals::domain::approvers::ApproverPolicy;
    let block = resource(&template(), "SlackApprovers");
    // No default: `sam deploy --guided` asks, and a deploy without it fails.
    assert!(!block.contains("Default:"), "{block}");
    assert!(block.contains("ConstraintDescription:"), "{block}");
    let pattern = regex::Regex::new(&allowed_pattern(&block));
    // What a deploy accepts is what the function's start-up accepts (ApproverPolicy::parse),
    // but an empty list, which parses as "nobody may decide", is refused at deploy time.
    // (The one other difference: parse also trims whitespace other than spaces.)
    // `none` (nobody from Slack, on purpose) is deployable; an empty list is not.
    let deployable = |raw: &str| {
        ApproverPolicy::parse(Some(raw)).is_ok_and(|p| !matches!(p, ApproverPolicy::Nobody))
    };
    let check = |raw: &str| {
        assert_eq!(
            pattern.is_match(raw),
            deployable(raw),
            "SlackApprovers {raw:?}: the pattern and ApproverPolicy::parse disagree"
        );
    };
    for raw in [
        "U0ALICE",
        "U0ALICE, W0BOB,S0OPS,S0OPS",
        " U0ALICE , S0OPS ",
        "U0ALICE,,S0OPS,",
        "*",
        " * ",
        "*,*",
        "",
        " , ,",
        "*,U0ALICE",
        "U0ALICE,*",
        "alice",
        "@alice",
        "#approvals",
        "C0CHANNEL",
        "u0alice",
        "U",
        "U0",
        "U0-ALICE",
        "U0ALICE S0OPS",
        "U0ALICE;S0OPS",
        "Ü0ALICE",
        "U0ÄLICE",
        "\u{200b}U0ALICE",
        "Ｕ0ALICE",
        "**",
        "*U0ALICE",
        "none",
        "NONE",
        " None , none ",
        "none,U0ALICE",
        "none,*",
        "nobody",
    ] {
        check(raw);
    }
    // Every string of up to 5 characters from an alphabet that reaches each branch of both.
    let alphabet = ['U', 'W', 'S', 'C', '0', 'A', 'a', '*', ',', ' ', '-'];
    let mut words = vec![String::new()];
    for _ in 0..5 {
        let longer: Vec<String> = words
            .iter()
            .filter(|w| w.len() == words.last().unwrap().len())
            .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
            .collect();
        words.extend(longer);
    }
    assert_eq!(
        words.len(),
        (0..=5).map(|n| alphabet.len().pow(n)).sum::<usize>()
    );
    // And longer ones, drawn from the same alphabet (a fixed xorshift, so failures repeat).
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = 6 + (next() % 19) as usize;
        words.push(
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect(),
        );
    }
    for word in &words {
        check(word);
    }
}

#[test]
fn the_function_roles_principals_are_printed_only_when_they_signal() {
    let t = template();
    // Without per-person approvals the function's own role signals; with them, only the
    // approver role's sessions do, so printing the function's role for Approvers would mislead.
    for output in ["ApproverRoleArn", "ApproverSessionArn"] {
        let block = resource(&t, output);
        assert!(block.contains("    Condition: NotPerPerson\n"), "{block}");
    }
    let per_person = resource(&t, "ApproverPersonSessionArn");
    assert!(
        per_person.contains("    Condition: PerPerson\n"),
        "{per_person}"
    );
}

fn parsed() -> Yaml {
    yaml::parse(&template())
}

fn sub(text: &str) -> Yaml {
    tag("!Sub", s(text))
}

fn reference(name: &str) -> Yaml {
    tag("!Ref", s(name))
}

fn map<const N: usize>(entries: [(&str, Yaml); N]) -> Yaml {
    Yaml::Map(
        entries
            .map(|(k, v)| (k.to_owned(), v))
            .into_iter()
            .collect(),
    )
}

/// A function's policy statements, each with the condition of the `!If` it sits in (whose
/// other branch must be nothing).
fn function_statements<'a>(t: &'a Yaml, function: &str) -> Vec<(Option<&'a str>, &'a Yaml)> {
    let policies = t
        .at(&["Resources", function, "Properties", "Policies"])
        .items();
    assert_eq!(policies.len(), 1, "{function}: one inline statement list");
    policies[0]
        .at(&["Statement"])
        .items()
        .into_iter()
        .map(|statement| match statement {
            Yaml::Tag(name, inner) if name == "!If" => {
                let branches = inner.items();
                assert_eq!(branches.len(), 3, "{inner:#?}");
                assert_eq!(branches[2], &reference("AWS::NoValue"));
                (Some(branches[0].str()), branches[1])
            }
            plain => (None, plain),
        })
        .collect()
}

use approvals::store::WAITING_INDEX;
// The index's keys (src/store/waiting.rs; private there, so checked by name below).
const WAITS: &str = "waits";
const WAITING_SINCE: &str = "waiting_since";

#[test]
fn the_waiting_steps_index_is_sparse_and_keyed_by_when_steps_began_to_wait() {
    let t = parsed();
    let table = t.at(&["Resources", "ApprovalsTable", "Properties"]);
    let attribute =
        |name: &str, kind: &str| map([("AttributeName", s(name)), ("AttributeType", s(kind))]);
    // Every attribute defined is a key of the table or of the index (CloudFormation refuses
    // any other), and the index's two are typed as the code writes them.
    assert_eq!(
        table.at(&["AttributeDefinitions"]),
        &Yaml::Seq(vec![
            attribute(PARTITION_KEY, "S"),
            attribute(SORT_KEY, "S"),
            attribute(WAITS, "S"),
            attribute(WAITING_SINCE, "N"),
        ])
    );
    let indexes = table.at(&["GlobalSecondaryIndexes"]).items();
    assert_eq!(indexes.len(), 1, "{indexes:#?}");
    let key = |name: &str, kind: &str| map([("AttributeName", s(name)), ("KeyType", s(kind))]);
    assert_eq!(
        indexes[0],
        &map([
            ("IndexName", s(WAITING_INDEX)),
            (
                "KeySchema",
                Yaml::Seq(vec![key(WAITS, "HASH"), key(WAITING_SINCE, "RANGE")])
            ),
            ("Projection", map([("ProjectionType", s("ALL"))])),
        ]),
        "on demand, like the table: no throughput of its own"
    );
    assert_eq!(table.at(&["BillingMode"]).str(), "PAY_PER_REQUEST");
}

/// Every Rust file under src/, with its path.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut out,
    );
    out
}

#[test]
fn the_code_writes_and_queries_the_index_the_template_creates() {
    // The events function sets and removes the index's attributes; the interactions function
    // queries it by name (WAITING_INDEX, from the code, is the template's name: the test
    // above). Names, not types: the test above holds the template to S and N.
    let code = sources();
    for name in [WAITS, WAITING_SINCE] {
        let quoted = format!("\"{name}\"");
        assert!(
            code.iter().any(|(_, text)| text.contains(&quoted)),
            "no file under src/ names {quoted}: the index the template creates is not the code's"
        );
    }
}

#[test]
fn the_index_is_queried_only_by_the_list_the_home_tab_and_the_sweep() {
    let t = parsed();
    let index = sub(&format!("${{ApprovalsTable.Arn}}/index/{WAITING_INDEX}"));
    let table = tag("!GetAtt", s("ApprovalsTable.Arn"));
    let queries = |function: &str| -> Vec<(Option<&str>, Yaml)> {
        function_statements(&t, function)
            .into_iter()
            .filter(|(_, st)| {
                st.at(&["Action"])
                    .strings()
                    .contains(&"dynamodb:Query".into())
            })
            .map(|(cond, st)| (cond, st.at(&["Resource"]).clone()))
            .collect()
    };
    // A statement on the index grants Query alone, whatever the parameters.
    for function in ["SlackInteractionsFunction", "AutomationEventsFunction"] {
        let statements = function_statements(&t, function);
        let on_index: Vec<_> = statements
            .iter()
            .filter(|(_, st)| st.at(&["Resource"]) == &index)
            .collect();
        assert_eq!(on_index.len(), 1, "{function}: {on_index:#?}");
        assert_eq!(on_index[0].0, None);
        assert_eq!(on_index[0].1.at(&["Action"]).strings(), ["dynamodb:Query"]);
    }
    // /approvals and the Home tab read the index; the Home tab also a person's last
    // decisions on the table. The events function reads one execution's items on the
    // table, and the sweep the index.
    for function in ["SlackInteractionsFunction", "AutomationEventsFunction"] {
        assert_eq!(
            queries(function),
            [(None, table.clone()), (None, index.clone())],
            "{function}"
        );
    }
    assert_eq!(template().matches("/index/").count(), 2);
}

#[test]
fn both_functions_read_the_rules_parameter_only_when_there_is_one() {
    let t = parsed();
    let parameter = t.at(&["Parameters", "SlackRulesParameter"]);
    assert_eq!(parameter.at(&["Default"]).str(), "");
    assert_eq!(
        parameter.at(&["AllowedPattern"]).str(),
        "^(/[a-zA-Z0-9_.\\-/]+)?$"
    );
    assert_eq!(
        t.at(&["Conditions", "HasRules"]),
        &tag(
            "!Not",
            Yaml::Seq(vec![tag(
                "!Equals",
                Yaml::Seq(vec![reference("SlackRulesParameter"), s("")])
            )])
        )
    );
    let rules = sub(
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SlackRulesParameter}",
    );
    for function in ["AutomationEventsFunction", "SlackInteractionsFunction"] {
        let statements = function_statements(&t, function);
        let reading: Vec<_> = statements
            .iter()
            .filter(|(_, st)| st.at(&["Resource"]).items().contains(&&rules))
            .collect();
        assert_eq!(reading.len(), 1, "{function}: {reading:#?}");
        let (cond, statement) = reading[0];
        assert_eq!(*cond, Some("HasRules"), "{function}");
        // A String parameter: read, not decrypted, and nothing else on it.
        assert_eq!(statement.at(&["Action"]).strings(), ["ssm:GetParameter"]);
        assert_eq!(statement.at(&["Resource"]), &rules, "{function}");
        for (cond, st) in &statements {
            if *cond == Some("HasRules") {
                assert_eq!(st, statement, "{function}: one statement under HasRules");
            }
        }
    }
    // The functions learn the parameter's name from this variable, empty without rules; the
    // refresh interval keeps the code's default.
    let variables = t.at(&["Globals", "Function", "Environment", "Variables"]);
    assert_eq!(
        variables.at(&[approvals::config::RULES_PARAMETER]),
        &reference("SlackRulesParameter")
    );
    assert!(!template().contains(&format!("{}:", approvals::config::RULES_REFRESH_SECONDS)));
}

#[test]
fn both_functions_see_the_same_account_routing_and_approvers() {
    let t = parsed();
    let variables = t.at(&["Globals", "Function", "Environment", "Variables"]);
    // The events function draws who may decide on the prompt and the interactions function
    // checks it (falling back to the channel for rules): one value for both, from Globals.
    use approvals::config::{ACCOUNT_NAMES, APPROVERS, CHANNEL, HUB_ACCOUNT_ID, ROUTES};
    for (variable, value) in [
        (HUB_ACCOUNT_ID, reference("AWS::AccountId")),
        (CHANNEL, reference("SlackChannel")),
        (ROUTES, reference("SlackRoutes")),
        (APPROVERS, reference("SlackApprovers")),
        (
            approvals::config::RULES_PARAMETER,
            reference("SlackRulesParameter"),
        ),
        (ACCOUNT_NAMES, reference("AccountNames")),
    ] {
        assert_eq!(variables.at(&[variable]), &value, "{variable}");
        for function in ["AutomationEventsFunction", "SlackInteractionsFunction"] {
            let own = t
                .at(&["Resources", function, "Properties"])
                .get("Environment")
                .map(|e| e.at(&["Variables"]).map().clone())
                .unwrap_or_default();
            assert!(
                !own.contains_key(variable),
                "{function} sets {variable} again"
            );
        }
    }
    assert_eq!(
        t.at(&["Parameters", "AccountNames", "Default"]).str(),
        "",
        "no names: prompts show account IDs"
    );
}

#[test]
fn the_hub_reads_and_signals_its_own_accounts_other_regions_only_for_an_organization() {
    let t = parsed();
    let executions = tag(
        "!If",
        Yaml::Seq(vec![
            s("HasOrganization"),
            sub("arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*"),
            sub(
                "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:automation-execution/*",
            ),
        ]),
    );
    // Every statement on automation executions, in the functions' roles and the approver
    // role: this account in every Region with OrganizationId (the hub account's other
    // Regions are served by these roles, not the spoke roles), this Region without.
    let mut scoped = 0;
    let mut statements: Vec<&Yaml> = ["AutomationEventsFunction", "SlackInteractionsFunction"]
        .into_iter()
        .flat_map(|f| function_statements(&t, f))
        .map(|(_, st)| st)
        .collect();
    let role = t.at(&["Resources", "SlackApproverRole", "Properties", "Policies"]);
    for policy in role.items() {
        statements.extend(policy.at(&["PolicyDocument", "Statement"]).items());
    }
    for statement in statements {
        let actions = statement.at(&["Action"]).strings();
        let on_executions = actions.iter().any(|a| {
            [
                "ssm:GetAutomationExecution",
                "ssm:DescribeAutomationStepExecutions",
                "ssm:SendAutomationSignal",
            ]
            .contains(&a.as_str())
        });
        if on_executions {
            assert_eq!(statement.at(&["Resource"]), &executions, "{actions:?}");
            scoped += 1;
        }
    }
    // The events function's read; the interactions function's read and signal; the
    // approver role's signal.
    assert_eq!(scoped, 4);
    // Nothing else names executions: two ARNs in each of those four.
    assert_eq!(template().matches(":automation-execution/*").count(), 2 * 4);
}

#[test]
fn the_deploy_refuses_account_names_the_functions_would_refuse() {
    let block = resource(&template(), "AccountNames");
    assert!(block.contains("ConstraintDescription:"), "{block}");
    let pattern = regex::Regex::new(&allowed_pattern(&block));
    let long = |n: usize| format!("111122223333={}", "x".repeat(n));
    // ACCOUNT_NAMES as the functions read it (AccountNames::parse, src/domain/place.rs):
    // comma-separated AccountId=name, spaces around each part and empty entries ignored, a
    // name of 1 to 64 characters (after the first `=`, so it may hold another).
    for accepted in [
        "".to_owned(),
        " , ".into(),
        "111122223333=payments-prod".into(),
        "111122223333=payments-prod,444455556666=staging".into(),
        " 111122223333 = payments-prod , 444455556666=staging ".into(),
        "111122223333=payments prod".into(),
        "111122223333=Zahlungsverkehr-Prüfung".into(),
        "111122223333=a=b".into(),
        "111122223333=x,,444455556666=y,".into(),
        ",111122223333=x".into(),
        long(64),
    ] {
        assert!(
            pattern.is_match(&accepted),
            "AccountNames {accepted:?} refused"
        );
    }
    for refused in [
        "111122223333".to_owned(),
        "1111=payments".into(),
        "1111222233334=payments".into(),
        "payments-prod=111122223333".into(),
        "111122223333=".into(),
        "111122223333= ".into(),
        "111122223333= ,444455556666=staging".into(),
        "=payments".into(),
        "111122223333;payments".into(),
        "111122223333=a;444455556666=b,555566667777".into(),
        long(65),
    ] {
        assert!(
            !pattern.is_match(&refused),
            "AccountNames {refused:?} accepted"
        );
    }
    // What only the start-up refuses: an account named twice.
    assert!(pattern.is_match("111122223333=a,111122223333=b"));
    // And the pattern against the parser itself, on strings drawn from pieces that reach
    // each of their branches (a fixed xorshift, so failures repeat).
    use approvals::domain::place::{AccountNames, AccountNamesError};
    let pieces = [
        "111122223333".to_owned(),
        "444455556666".into(),
        "1111".into(),
        "=".into(),
        ",".into(),
        " ".into(),
        "a".into(),
        "payments-prod".into(),
        "ü".into(),
        ";".into(),
        "x".repeat(31),
        "x".repeat(64),
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = 1 + (next() % 8) as usize;
        let raw: String = (0..len)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize].as_str())
            .collect();
        match AccountNames::parse(&raw) {
            Err(AccountNamesError::Duplicate(_)) => assert!(pattern.is_match(&raw), "{raw:?}"),
            parsed => assert_eq!(
                pattern.is_match(&raw),
                parsed.is_ok(),
                "AccountNames {raw:?}: the pattern and AccountNames::parse disagree"
            ),
        }
    }
}

#[test]
fn the_deploy_refuses_a_rules_parameter_name_its_arn_cannot_hold() {
    let block = resource(&template(), "SlackRulesParameter");
    let pattern = regex::Regex::new(&allowed_pattern(&block));
    // The policy names it as `parameter${SlackRulesParameter}`: a name from the root, as the
    // ARN of a parameter is written.
    for accepted in ["", "/ssm-slack-approvals/rules", "/rules", "/a.b_c-D/9"] {
        assert!(pattern.is_match(accepted), "{accepted:?} refused");
    }
    for refused in [
        "rules",
        "ssm-slack-approvals/rules",
        "/with space",
        "/rüles",
        "/rules*",
        "arn:aws:ssm:eu-west-1:111122223333:parameter/rules",
    ] {
        assert!(!pattern.is_match(refused), "{refused:?} accepted");
    }
}

/// Every combination of the parameters that decide who may assume what: with and without
/// an organization, with and without per-person approvals (and every optional statement on,
/// so that no `!If` hides one).
fn deployments(t: &Yaml) -> Vec<Deployment<'_>> {
    let mut all = Vec::new();
    for organization in ["", "o-a1b2c3d4e5"] {
        for per_person in ["Enabled", "Disabled"] {
            for (key, rules) in [("", ""), ("arn:aws:kms:eu-west-1:1:key/k", "/rules")] {
                all.push(Deployment::new(
                    t,
                    &[
                        ("OrganizationId", organization),
                        ("PerPersonApprovals", per_person),
                        ("SecretsKmsKeyArn", key),
                        ("SlackRulesParameter", rules),
                    ],
                ));
            }
        }
    }
    all
}

/// Whether a node is `!Ref <name>`, `!GetAtt <name>.…` or a `!Sub` naming `${<name>…}`.
fn names_resource(node: &Yaml, name: &str) -> bool {
    match node {
        Yaml::Tag(f, inner) if f == "!Ref" => inner.str() == name,
        Yaml::Tag(f, inner) if f == "!GetAtt" => inner.str().split('.').next() == Some(name),
        Yaml::Tag(f, inner) if f == "!Sub" => inner.walk().iter().any(|n| {
            matches!(n, Yaml::Str(text)
                if text.contains(&format!("${{{name}}}")) || text.contains(&format!("${{{name}.")))
        }),
        _ => false,
    }
}

/// Every policy statement a function's role holds in a deployment: the function's own
/// `Policies` (SAM puts them on its role), and each `AWS::IAM::Policy` or
/// `AWS::IAM::ManagedPolicy` created there that names the role. (SAM adds to the role only
/// AWSLambdaBasicExecutionRole, for its logs, and for the events function sqs:SendMessage on
/// its failure destination.)
fn statements_of(t: &Yaml, d: &Deployment, function: &str) -> Vec<Yaml> {
    let role = format!("{function}Role");
    let mut held = Vec::new();
    let own = d
        .resolve(t.at(&["Resources", function, "Properties", "Policies"]))
        .unwrap();
    for policy in own.items() {
        held.extend(policy.at(&["Statement"]).items().into_iter().cloned());
    }
    for (name, r) in t.at(&["Resources"]).map() {
        let kind = r.at(&["Type"]).str();
        if !matches!(kind, "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") || !d.creates(r) {
            continue;
        }
        let properties = d.resolve(r.at(&["Properties"])).unwrap();
        let roles = properties.get("Roles").map(Yaml::items).unwrap_or_default();
        if roles.iter().any(|r| names_resource(r, &role)) {
            let statements = properties.at(&["PolicyDocument", "Statement"]).items();
            assert!(!statements.is_empty(), "{name}");
            held.extend(statements.into_iter().cloned());
        }
    }
    for statement in &held {
        assert_eq!(statement.at(&["Effect"]).str(), "Allow", "{statement:#?}");
    }
    held
}

/// The role ARNs a set of statements lets its holder assume (or set a source identity on).
fn assumable(statements: &[Yaml]) -> Vec<Yaml> {
    statements
        .iter()
        .filter(|st| {
            st.at(&["Action"])
                .strings()
                .iter()
                .any(|a| a.starts_with("sts:"))
        })
        .flat_map(|st| st.at(&["Resource"]).items().into_iter().cloned())
        .collect()
}

fn spoke_role_pattern(parameter: &str) -> Yaml {
    sub(&format!(
        "arn:${{AWS::Partition}}:iam::*:role/${{{parameter}}}"
    ))
}

/// The value a variable takes for a function in a deployment: its own, over Globals'.
fn variable(t: &Yaml, d: &Deployment, function: &str, name: &str) -> Yaml {
    let own = t
        .at(&["Resources", function, "Properties"])
        .get("Environment")
        .and_then(|e| e.at(&["Variables"]).get(name));
    let value =
        own.unwrap_or_else(|| t.at(&["Globals", "Function", "Environment", "Variables", name]));
    d.resolve(value).unwrap()
}

#[test]
fn the_events_function_can_signal_nowhere() {
    let t = parsed();
    let events = "AutomationEventsFunction";
    for d in deployments(&t) {
        let held = statements_of(&t, &d, events);
        // Nothing it holds signals, or names a wildcard action that could.
        for statement in &held {
            for action in statement.at(&["Action"]).strings() {
                assert_ne!(action, "ssm:SendAutomationSignal", "{statement:#?}");
                assert!(!action.contains('*'), "{action} in {statement:#?}");
                assert!(
                    !matches!(action.as_str(), "sts:SetSourceIdentity" | "sts:TagSession"),
                    "{action}"
                );
            }
        }
        // The one role it may assume elsewhere is the read-only SpokeRoleName (spoke.yaml's
        // HubAccessRole, which only reads: tests/spoke_template.rs), and only with an
        // organization; never the signer or approver roles, here or in a member account.
        let expected = if d.holds("HasOrganization") {
            vec![spoke_role_pattern("SpokeRoleName")]
        } else {
            vec![]
        };
        assert_eq!(assumable(&held), expected);
        // And that is the role its variable names (Globals' value, which it keeps).
        assert_eq!(
            variable(&t, &d, events, approvals::config::SPOKE_ROLE_NAME),
            if d.holds("HasOrganization") {
                reference("SpokeRoleName")
            } else {
                s("")
            }
        );
    }
    let own = t
        .at(&["Resources", events, "Properties"])
        .get("Environment")
        .map(|e| e.at(&["Variables"]).map().clone())
        .unwrap_or_default();
    for name in [
        approvals::config::SPOKE_ROLE_NAME,
        approvals::config::SPOKE_APPROVER_ROLE_NAME,
    ] {
        assert!(!own.contains_key(name), "{events} sets {name} itself");
    }
    // No role of this template trusts it, and no policy but those read above names it: every
    // mention of its role is in the Roles of a policy (checked above) or an output.
    let role = format!("{events}Role");
    for (name, r) in t.at(&["Resources"]).map() {
        let mentions = r.walk().iter().filter(|n| names_resource(n, &role)).count();
        let in_roles = r
            .get("Properties")
            .and_then(|p| p.get("Roles"))
            .map_or(0, |roles| {
                roles
                    .items()
                    .iter()
                    .filter(|n| names_resource(n, &role))
                    .count()
            });
        assert_eq!(mentions, in_roles, "{name} names {role} outside its Roles");
        if in_roles > 0 {
            assert_eq!(r.at(&["Type"]).str(), "AWS::IAM::Policy", "{name}");
        }
    }
    // The pattern it may assume never names a role that signals: the deploy refuses a
    // SpokeRoleName equal to the signer's or the approver's.
    assert_names_differ(
        &t,
        "SpokeRoleName",
        &["SpokeSignerRoleName", "SpokeApproverRoleName"],
    );
}

#[test]
fn only_the_interactions_function_may_assume_the_spoke_signer_role() {
    let t = parsed();
    let signer = spoke_role_pattern("SpokeSignerRoleName");
    assert_eq!(
        t.at(&["Parameters", "SpokeSignerRoleName", "Default"])
            .str(),
        "ssm-slack-approvals-signer"
    );
    assert_eq!(
        t.at(&["Parameters", "SpokeSignerRoleName", "AllowedPattern"]),
        t.at(&["Parameters", "SpokeRoleName", "AllowedPattern"])
    );
    for d in deployments(&t) {
        let member_signer = d.holds("HasOrganization") && !d.holds("PerPerson");
        for function in ["AutomationEventsFunction", "SlackInteractionsFunction"] {
            let held = statements_of(&t, &d, function);
            let may = assumable(&held).contains(&signer);
            let expected = function == "SlackInteractionsFunction" && member_signer;
            assert_eq!(may, expected, "{function}");
            // Plainly: no source identity, no tags (the code sets neither on it), and only
            // in the organization's accounts.
            for statement in &held {
                if statement.at(&["Resource"]).items().contains(&&signer) {
                    assert_eq!(statement.at(&["Action"]).strings(), ["sts:AssumeRole"]);
                    assert_eq!(statement.at(&["Resource"]), &signer);
                    assert_eq!(
                        statement.at(&["Condition"]),
                        &map([(
                            "StringEquals",
                            map([("aws:ResourceOrgID", reference("OrganizationId"))])
                        )])
                    );
                }
            }
        }
    }
    // Nothing else in the resources names the signer role: the one policy that lets the
    // interactions function assume it, and the variable that tells the function its name.
    let mut naming: Vec<&str> = t
        .at(&["Resources"])
        .map()
        .iter()
        .filter(|(_, r)| {
            r.walk().iter().any(|n| match n {
                Yaml::Tag(f, inner) => {
                    (f == "!Ref" || f == "!Sub")
                        && matches!(&**inner, Yaml::Str(text)
                            if text == "SpokeSignerRoleName"
                                || text.contains("${SpokeSignerRoleName}"))
                }
                _ => false,
            })
        })
        .map(|(name, _)| name.as_str())
        .collect();
    naming.sort();
    assert_eq!(
        naming,
        ["SlackInteractionsFunction", "SpokeSignerAssumePolicy"]
    );
    let policy = t.at(&["Resources", "SpokeSignerAssumePolicy"]);
    assert_eq!(policy.at(&["Condition"]).str(), "OrganizationNotPerPerson");
    assert_eq!(
        policy.at(&["Properties", "Roles"]),
        &Yaml::Seq(vec![reference("SlackInteractionsFunctionRole")])
    );
}

#[test]
fn the_interactions_function_assumes_the_role_it_is_allowed_to() {
    let t = parsed();
    let interactions = "SlackInteractionsFunction";
    for d in deployments(&t) {
        let organization = d.holds("HasOrganization");
        let per_person = d.holds("PerPerson");
        // In a member account it reads, and without per-person approvals signals, as the
        // session of SPOKE_ROLE_NAME: the signer role then, the read-only role with them
        // (each person's approver role session signals).
        let role_name = variable(&t, &d, interactions, approvals::config::SPOKE_ROLE_NAME);
        let approver = variable(
            &t,
            &d,
            interactions,
            approvals::config::SPOKE_APPROVER_ROLE_NAME,
        );
        let (expected, expected_approver) = match (organization, per_person) {
            (false, _) => (s(""), s("")),
            (true, true) => (
                reference("SpokeRoleName"),
                reference("SpokeApproverRoleName"),
            ),
            (true, false) => (reference("SpokeSignerRoleName"), s("")),
        };
        assert_eq!(role_name, expected, "{organization} {per_person}");
        assert_eq!(approver, expected_approver, "{organization} {per_person}");
        // Its policies let it assume exactly the roles its variables name, with the read-only
        // role as well (its own, with per-person approvals; the events function's otherwise).
        let held = statements_of(&t, &d, interactions);
        let mut may = assumable(&held);
        let mut wanted = Vec::new();
        if organization {
            wanted.push(spoke_role_pattern("SpokeRoleName"));
            wanted.push(spoke_role_pattern(if per_person {
                "SpokeApproverRoleName"
            } else {
                "SpokeSignerRoleName"
            }));
        }
        if per_person {
            wanted.push(tag("!GetAtt", s("SlackApproverRole.Arn")));
        }
        let key = |y: &Yaml| format!("{y:?}");
        may.sort_by_key(key);
        may.dedup();
        wanted.sort_by_key(key);
        assert_eq!(may, wanted, "{organization} {per_person}");
    }
}

#[test]
fn the_trail_is_told_exactly_which_identities_sign() {
    // The events function credits a decision SSM recorded to a Slack person only when one
    // of the identities the interactions function signs with signalled it: it must be
    // told those, in every deployment, and no other.
    let t = parsed();
    let events = "AutomationEventsFunction";
    for d in deployments(&t) {
        let organization = d.holds("HasOrganization");
        let per_person = d.holds("PerPerson");
        assert_eq!(
            variable(&t, &d, events, approvals::config::INTERACTIONS_ROLE_ARN),
            tag("!GetAtt", s("SlackInteractionsFunctionRole.Arn"))
        );
        assert_eq!(
            variable(&t, &d, events, approvals::config::SPOKE_SIGNER_ROLE_NAME),
            if organization && !per_person {
                reference("SpokeSignerRoleName")
            } else {
                s("")
            },
            "{organization} {per_person}"
        );
        // The signer is what the interactions function assumes to signal there.
        if organization && !per_person {
            assert_eq!(
                variable(&t, &d, events, approvals::config::SPOKE_SIGNER_ROLE_NAME),
                variable(
                    &t,
                    &d,
                    "SlackInteractionsFunction",
                    approvals::config::SPOKE_ROLE_NAME
                )
            );
        }
    }
}

#[test]
fn the_alarms_and_the_dashboard_read_the_metrics_the_functions_write() {
    let t = template();
    // The namespace the functions write to (both, from Globals) is the one read.
    let namespace = "SsmSlackApprovals/${AWS::StackName}";
    assert!(t.contains(&format!("METRICS_NAMESPACE: !Sub \"{namespace}\"")));
    let metrics =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics.rs")).unwrap();
    for alarm in ["SweepIncompleteAlarm", "SlackTokenAlarm"] {
        let block = resource(&t, alarm);
        assert!(
            block.contains(&format!("Namespace: !Sub \"{namespace}\"")),
            "{alarm}"
        );
        for line in block
            .lines()
            .filter_map(|l| l.trim().strip_prefix("MetricName: "))
        {
            assert!(
                metrics.contains(&format!("\"{line}\"")),
                "{alarm} reads {line}, never written"
            );
        }
    }
    // The token alarm's codes are the ones Slack answers for a token it refuses, as the
    // SlackErrors metric names them.
    let token = resource(&t, "SlackTokenAlarm");
    for code in ["invalid_auth", "token_revoked", "account_inactive"] {
        assert!(token.contains(&format!("Value: {code}")), "{code}");
    }
    // Every alarm notifies the optional topic, on alarm and on recovery.
    let alarms: Vec<&str> = t
        .lines()
        .filter_map(|l| l.strip_prefix("  ").and_then(|l| l.strip_suffix("Alarm:")))
        .collect();
    assert_eq!(alarms.len(), 6, "{alarms:?}");
    for alarm in alarms {
        let block = resource(&t, &format!("{alarm}Alarm"));
        assert!(
            block.contains(
                "AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"
            ),
            "{alarm}"
        );
        assert!(
            block.contains(
                "OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"
            ),
            "{alarm}"
        );
    }
    // Each dashboard widget's metric names are written by the functions or by AWS.
    let dashboard = resource(&t, "Dashboard");
    for (i, _) in dashboard.match_indices("[\"${Namespace}\", \"") {
        let name: String = dashboard[i + 17..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        assert!(
            metrics.contains(&format!("\"{name}\"")),
            "the dashboard shows {name}, never written"
        );
    }
}
