//! The pictures in the README are the real Block Kit output, rendered as text: this
//! test renders the prompt and the decided message for a fixed execution and checks
//! that the README shows exactly that. On a mismatch it prints what to paste.

use std::collections::BTreeMap;

use approvals::domain::approvers::ApproverPolicy;
use approvals::domain::execution::{APPROVE_ACTION, Execution, ExecutionId, Status, Step};
use approvals::domain::inbound::Decision;
use approvals::domain::messages::decided::render_outcome;
use approvals::domain::messages::prompt::{PromptStyle, render_prompt};
use approvals::domain::place::{AccountNames, Place, Shown};
use approvals::domain::record::DecisionRecord;
use approvals::domain::waiting::StepKind;
use stand_ins::block_kit_text::render;

const STARTED: i64 = 1_795_266_000; // 2026-11-21 13:00 UTC

fn example(step_status: Status, execution_status: Status) -> (Execution, Step) {
    let step = Step {
        name: "approveRollout".into(),
        action: APPROVE_ACTION.into(),
        status: step_status,
        step_execution_id: Some("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f".into()),
        inputs: BTreeMap::from([
            (
                "Message".into(),
                "\"Roll payments 2026.11.21-1 out to production?\\nCanary error rate is 0.02% over the last hour.\"".into(),
            ),
            ("MinRequiredApprovals".into(), "1".into()),
        ]),
        started_at_unix: Some(STARTED),
        timeout_seconds: Some(3600),
        failure_message: None,
        outputs: Default::default(),
    };
    let execution = Execution {
        id: ExecutionId::parse("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c").unwrap(),
        document_name: "Deploy-Payments".into(),
        document_version: Some("4".into()),
        status: execution_status,
        executed_by: Some("arn:aws:sts::123456789012:assumed-role/Deployer/carol".into()),
        parameters: BTreeMap::from([
            ("Environment".into(), vec!["production".into()]),
            ("ImageTag".into(), vec!["payments:2026.11.21-1".into()]),
        ]),
        steps: vec![step.clone()],
    };
    (execution, step)
}

fn names(id: &str) -> Option<String> {
    (id == "U0ALICE").then(|| "alice".to_owned())
}

fn readme_block(readme: &str, name: &str) -> String {
    let begin = format!("<!-- {name}:begin -->\n```\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README has no {name} picture"))
        + begin.len();
    let end = start + readme[start..].find("```\n<!--").expect("closing fence");
    readme[start..end].to_owned()
}

#[test]
fn readme_pictures_are_the_rendered_messages() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let (execution, step) = example(Status::Waiting, Status::Waiting);
    let place = Place::new(Some("111122223333"), "us-east-1");
    let account_names = AccountNames::parse("111122223333=payments-prod").unwrap();
    let prompt = render(
        &render_prompt(
            &execution,
            &step,
            StepKind::Approval,
            &Shown::new(&place, &account_names),
            // As deployed by default: REJECT_REASON=optional, one role signals.
            PromptStyle {
                per_person: false,
                reason_modal: true,
                rule_approvals: 0,
                nobody_from_slack: false,
            },
            &ApproverPolicy::parse(Some("U0ALICE,S0PAYOPS"))
                .unwrap()
                .describe(),
        )
        .blocks,
        &names,
    ) + "\n";

    let (execution, step) = example(Status::Success, Status::Success);
    let record = DecisionRecord {
        step_key: step.key().into(),
        decision: Decision::Approve,
        user_id: "U0ALICE".into(),
        handle: "alice".into(),
        at_unix: STARTED + 600,
        reason: None,
        principal: None,
    };
    let decided = render(
        &render_outcome(
            &execution,
            &step,
            std::slice::from_ref(&record),
            &Shown::new(&place, &account_names),
        )
        .blocks,
        &names,
    ) + "\n";

    for (name, expected) in [("prompt", prompt), ("decided", decided)] {
        assert_eq!(
            readme_block(&readme, name),
            expected,
            "README's {name} picture is stale; paste:\n{expected}"
        );
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `Outputs:` of template.yaml, in order.
fn template_outputs(template: &str) -> Vec<String> {
    let outputs = &template[template.find("\nOutputs:\n").expect("an Outputs section")..];
    outputs
        .lines()
        .skip(2)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .map(|l| l.trim_end_matches(':').to_owned())
        .collect()
}

#[test]
fn readme_names_the_outputs_the_template_prints() {
    let readme = read("README.md");
    let outputs = template_outputs(&read("template.yaml"));
    assert!(outputs.len() >= 4, "{outputs:?}");
    let listed = outputs
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ");
    // Some are printed only with some parameters: the README says which.
    let sentence = format!("prints these outputs: {listed}.");
    assert!(
        readme.replace("\n   ", " ").contains(&sentence),
        "README should say: {sentence}"
    );
}

/// The environment variables table of docs/configuration.md (the README links to it): from
/// its heading to the next heading.
fn configuration_table() -> String {
    let doc = read("docs/configuration.md");
    let heading = "\n## Environment variables\n";
    let start = doc
        .find(heading)
        .expect("docs/configuration.md has ## Environment variables")
        + heading.len();
    let end = doc[start..].find("\n#").map_or(doc.len(), |i| start + i);
    doc[start..end].to_owned()
}

#[test]
fn readme_documents_every_variable_the_functions_read() {
    use approvals::config::*;
    assert!(
        read("README.md").contains("](docs/configuration.md)"),
        "README does not link to docs/configuration.md, where the configuration table is"
    );
    // The whole table is in docs/configuration.md; the README keeps what a newcomer sets.
    let table = configuration_table();
    let template = read("template.yaml");
    let read_by_the_code = [
        SIGNING_SECRET,
        BOT_TOKEN,
        CHANNEL,
        APPROVERS,
        API_URL,
        GROUP_CACHE_SECONDS,
        TEAM_ID,
        ALLOWED_TEAMS,
        TABLE,
        RETENTION_DAYS,
        ROUTES,
        RESUME_PREFIXES,
        APPROVER_ROLE_ARN,
        REJECT_REASON,
        approvals::config::RULES_PARAMETER,
        approvals::config::RULES_REFRESH_SECONDS,
        approvals::config::HUB_ACCOUNT_ID,
        approvals::config::SPOKE_ROLE_NAME,
        approvals::config::SPOKE_APPROVER_ROLE_NAME,
        approvals::config::SPOKE_SIGNER_ROLE_NAME,
        approvals::config::INTERACTIONS_ROLE_ARN,
        approvals::config::ACCOUNT_NAMES,
        approvals::config::REMIND_AFTER_MINUTES,
        approvals::config::LAST_CALL_MINUTES,
        approvals::config::SWEEP_MAX_SSM_READS,
        approvals::config::SWEEP_MAX_LISTINGS,
        approvals::config::SELF_APPROVAL,
        approvals::config::NOTIFY_STARTER,
        approvals::config::FAILED_EVENTS_QUEUE_URL,
        approvals::metrics::METRICS_NAMESPACE,
    ];
    for variable in read_by_the_code {
        assert!(
            table.contains(&format!("| `{variable}`"))
                || table.contains(&format!("`{variable}` or `")),
            "{variable} is not in docs/configuration.md's table of environment variables"
        );
    }
    // Every variable the template sets is one the code reads (or a secret's parameter).
    let secret_parameters = [
        "SLACK_SIGNING_SECRET_PARAMETER",
        "SLACK_BOT_TOKEN_PARAMETER",
    ];
    let known: Vec<&str> = read_by_the_code
        .into_iter()
        .chain(secret_parameters)
        .collect();
    for line in template.lines().map(str::trim) {
        if let Some((name, _)) = line.split_once(':')
            && (name.starts_with("SLACK_")
                || name.starts_with("APPROVAL")
                || name.starts_with("APPROVER_")
                || name.starts_with("SPOKE_")
                || name.starts_with("INTERACTIONS_")
                || matches!(name, "REJECT_REASON" | "HUB_ACCOUNT_ID" | "ACCOUNT_NAMES"))
        {
            assert!(
                known.contains(&name),
                "template sets {name}, which no function reads"
            );
        }
    }
}

/// The README and the documents it moved its depth to (`docs/*.md`).
fn documents() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/docs"))
        .expect("docs/")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    assert!(
        docs.iter().any(|d| d == "docs/design.md")
            && docs.iter().any(|d| d == "docs/performance.md"),
        "{docs:?}"
    );
    docs.insert(0, "README.md".into());
    docs
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            let slug = anchor(line.trim_start_matches('#'));
            assert!(!found.contains(&slug), "two headings make #{slug}");
            found.push(slug);
        }
    }
    found
}

/// Checks every relative link of `doc` (file and anchor), every `events/…` and `docs/…` file
/// it names and every example it runs; returns how many names it checked.
fn check_names(doc: &str) -> usize {
    let text = read(doc);
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = std::path::Path::new(doc).parent().unwrap();
    let mut checked = 0;
    for (i, _) in text.match_indices("](") {
        let target = &text[i + 2..];
        let target = &target[..target.find(')').unwrap()];
        if target.starts_with("http") {
            continue;
        }
        let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
        // Relative to the document, as GitHub resolves them.
        let file = if path.is_empty() {
            doc.to_owned()
        } else {
            let joined = dir.join(path);
            let mut parts: Vec<&str> = Vec::new();
            for part in joined.iter().map(|p| p.to_str().unwrap()) {
                match part {
                    ".." => assert!(
                        parts.pop().is_some(),
                        "{doc} links outside the repository: {target}"
                    ),
                    "." => {}
                    part => parts.push(part),
                }
            }
            parts.join("/")
        };
        assert!(
            std::path::Path::new(&format!("{root}/{file}")).exists(),
            "{doc} links to {target}"
        );
        if !fragment.is_empty() {
            assert!(file.ends_with(".md"), "{doc} links to {target}");
            assert!(
                anchors(&read(&file)).iter().any(|a| a == fragment),
                "{doc} links to {target}, but {file} has no heading #{fragment}"
            );
        }
        checked += 1;
    }
    // Paths in commands and prose are the repository's, wherever the document is.
    for word in text.split(|c: char| c.is_whitespace() || c == '`' || c == ',') {
        if (word.starts_with("events/") || word.starts_with("docs/")) && !word.ends_with('/') {
            let word = word.trim_end_matches(['.', ')', ':']);
            if word.contains('…') {
                continue;
            }
            assert!(
                std::path::Path::new(&format!("{root}/{word}")).exists(),
                "{doc} names {word}"
            );
            checked += 1;
        }
    }
    for (i, _) in text.match_indices("--example ") {
        let name: String = text[i + 10..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '-')
            .collect();
        assert!(
            std::path::Path::new(&format!("{root}/examples/{name}.rs")).exists(),
            "{doc} runs example {name}"
        );
        checked += 1;
    }
    checked
}

#[test]
fn files_and_examples_the_readme_names_exist() {
    let checked = check_names("README.md");
    assert!(checked > 10, "only {checked} names checked");
}

#[test]
fn files_links_and_examples_the_docs_name_exist() {
    for doc in documents().iter().skip(1) {
        let checked = check_names(doc);
        assert!(checked > 0, "{doc}: nothing checked");
    }
}

#[test]
fn the_readme_links_to_its_docs() {
    let readme = read("README.md");
    for doc in documents().iter().skip(1) {
        assert!(
            readme.contains(&format!("]({doc}")),
            "README does not link to {doc}"
        );
    }
}

#[test]
fn headings_make_the_anchors_github_makes() {
    assert_eq!(
        anchor(" Deploy (about 15 minutes)"),
        "deploy-about-15-minutes"
    );
    assert_eq!(
        anchor(" Try it now: two commands"),
        "try-it-now-two-commands"
    );
    assert_eq!(
        anchor(" What is waiting on me? `/approvals`"),
        "what-is-waiting-on-me-approvals"
    );
    assert_eq!(
        anchor(" Slack's certificate check"),
        "slacks-certificate-check"
    );
}

#[test]
fn ci_runs_the_readmes_test_command() {
    let readme = read("README.md");
    let line = readme
        .lines()
        .find(|l| l.contains("# the tests"))
        .expect("the README's test command");
    let command = line.split('#').next().unwrap().trim();
    assert_eq!(command, "cargo test");
    assert!(read(".ci/run").lines().any(|l| l.trim() == command));
}

/// The shell commands of `doc`'s fenced blocks that start with `start`, each with its
/// continuation lines joined.
fn commands(doc: &str, start: &str) -> Vec<String> {
    let mut found = vec![];
    let mut in_code = false;
    let mut current: Option<String> = None;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let text = line.trim();
        match current.as_mut() {
            Some(command) => command.push_str(&format!(" {}", text.trim_end_matches('\\'))),
            None if text.starts_with(start) => {
                current = Some(text.trim_end_matches('\\').to_owned())
            }
            None => continue,
        }
        if !text.ends_with('\\') {
            found.extend(current.take());
        }
    }
    found
}

#[test]
fn every_stack_set_and_spoke_stack_recipe_grants_the_named_iam_capability() {
    let doc = read("docs/organization.md");
    let mut recipes = vec![];
    for start in [
        "aws cloudformation create-stack-set",
        "aws cloudformation update-stack-set",
        "aws cloudformation deploy",
    ] {
        let found = commands(&doc, start);
        assert!(
            !found.is_empty(),
            "docs/organization.md has no {start} recipe"
        );
        recipes.extend(found);
    }
    for recipe in recipes {
        // spoke.yaml names its roles: without the capability CloudFormation refuses it.
        assert!(
            recipe.contains("--capabilities CAPABILITY_NAMED_IAM"),
            "a recipe without --capabilities CAPABILITY_NAMED_IAM: {recipe}"
        );
    }
}

/// A parameter's `Default:` in a CloudFormation template, read as text.
fn default_of(template: &str, parameter: &str) -> String {
    let start = template
        .find(&format!("\n  {parameter}:\n"))
        .unwrap_or_else(|| panic!("no parameter {parameter}"));
    template[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("    "))
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .unwrap_or_else(|| panic!("{parameter} has no Default"))
        .trim()
        .trim_matches('"')
        .to_owned()
}

#[test]
fn the_member_account_example_runbook_lists_the_spoke_signer_role_and_its_session() {
    let spoke = read("spoke.yaml");
    let signer = default_of(&spoke, "SpokeSignerRoleName");
    let read_only = default_of(&spoke, "SpokeRoleName");
    let runbook = read("docs/example-runbook-member.yaml");
    let approvers: Vec<&str> = runbook
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- arn:"))
        .collect();
    let session = approvals::places::SPOKE_SESSION_NAME;
    assert_eq!(
        approvers,
        [
            format!("aws:iam::MEMBER_ACCOUNT_ID:role/{signer}"),
            format!("aws:sts::MEMBER_ACCOUNT_ID:assumed-role/{signer}/{session}"),
        ],
        "the example's Approvers must be spoke.yaml's signer role ({signer}) and its session"
    );
    assert!(
        !runbook.contains(&format!("/{read_only}\n")),
        "the read-only role cannot signal"
    );
    // The guide fills in the account and runs it.
    let doc = read("docs/organization.md");
    assert!(
        doc.contains("s|MEMBER_ACCOUNT_ID|$MEMBER|g\" docs/example-runbook-member.yaml"),
        "docs/organization.md does not fill in and run docs/example-runbook-member.yaml"
    );
}

#[test]
fn the_request_url_output_names_the_three_places_slack_uses_it() {
    let template = read("template.yaml");
    let start = template
        .find("\n  SlackRequestUrl:\n")
        .expect("the SlackRequestUrl output");
    let description: String = template[start..]
        .lines()
        .skip(2)
        .take_while(|l| !l.trim_start().starts_with("Value:"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    for place in ["Slash Commands", "Event Subscriptions", "Interactivity"] {
        assert!(
            description.contains(place),
            "SlackRequestUrl's description does not name {place}: {description}"
        );
    }
    // The manifest uses it in exactly those three places.
    let manifest = read("slack-app-manifest.yaml");
    assert_eq!(manifest.matches("REPLACE-WITH-SlackRequestUrl").count(), 3);
}
