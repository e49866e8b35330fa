//! Modals: `views.open`, the views open in a client, their submission and the app's answer.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::answers::{fail, invalid_arguments, ok};
use super::block_kit::{check_view, problem};
use super::clicks::{SignedClick, TRIGGER_LIFETIME, payload_form};
use super::inputs::{TEXT_INPUTS, input_elements};
use super::users::{Person, user_json};
use super::{APP_ID, BOT_ID, SlackStandIn, State, TEAM_ID, VERIFICATION_TOKEN};
use crate::{Outgoing, now_unix_f64};

/// Slack refuses a view larger than 250 kB (`view_too_large`).
pub(super) const VIEW_MAX_BYTES: usize = 250 * 1024;

/// A modal open in a person's Slack client, as `views.open` (or an update) left it.
#[derive(Debug, Clone)]
pub struct OpenView {
    pub id: String,
    /// The person who sees it: the one whose interaction issued the `trigger_id`.
    pub user_id: String,
    /// The view as Slack keeps it (`id`, `hash`, `state`, `root_view_id`, …).
    pub view: Value,
}

/// What Slack does with the app's HTTP answer to a `view_submission`.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewAnswer {
    /// The modal closes (an empty body, `{}` or `response_action: clear`).
    Closed,
    /// The modal stays open, each message shown under the input block it names.
    Errors(BTreeMap<String, String>),
    /// The modal now shows this view (as Slack keeps it, same `id`).
    Updated(Value),
}

#[derive(Debug)]
pub(super) struct ViewState {
    open: OpenView,
    /// Submitted: the app's answer has not been applied yet.
    awaiting_answer: bool,
    /// What the person typed so far, by (`block_id`, `action_id`): the client keeps
    /// it while the modal is open, and through updates that keep the same input.
    typed: BTreeMap<(String, String), String>,
}

impl State {
    /// A view ID as Slack forms them: `V` and upper-case letters and digits.
    fn new_view_id(&mut self) -> String {
        self.next_view += 1;
        let random = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        format!("V{:05X}{}", self.next_view, &random[..5])
    }

    fn view_mut(&mut self, id: &str) -> Option<&mut ViewState> {
        self.views.iter_mut().find(|v| v.open.id == id)
    }

    /// Whether an open view other than `except` already has this `external_id`.
    fn external_id_taken(&self, view: &Value, except: Option<&str>) -> bool {
        let Some(external_id) = view["external_id"].as_str().filter(|e| !e.is_empty()) else {
            return false;
        };
        self.views.iter().any(|v| {
            Some(v.open.id.as_str()) != except && v.open.view["external_id"] == external_id
        })
    }
}

impl SlackStandIn {
    /// The modals open now, oldest first.
    pub fn open_views(&self) -> Vec<OpenView> {
        self.lock().views.iter().map(|v| v.open.clone()).collect()
    }

    /// `person` presses the submit button of the open modal `view_id`, having typed
    /// `values` (`block_id`, `action_id`, text) into its text inputs: returns the
    /// `view_submission` request Slack would send to the app's interactivity URL.
    ///
    /// Every input block of the view has an entry in `view.state.values`: what was
    /// typed now or earlier while the modal was open, else the element's initial
    /// value, else null. Slack's client does not submit while a required input is
    /// empty or a text breaks the element's `min_length`/`max_length`, nor while an
    /// earlier submission waits for the app's answer (see [`SlackStandIn::view_answer`]);
    /// those are errors here.
    pub fn submit_view(
        &self,
        view_id: &str,
        person: &Person,
        values: &[(&str, &str, &str)],
    ) -> Result<SignedClick, String> {
        let mut state = self.lock();
        let open = state
            .view_mut(view_id)
            .ok_or_else(|| format!("no modal {view_id} is open"))?;
        if open.open.user_id != person.id {
            return Err(format!(
                "modal {view_id} is open for {}, not for {}",
                open.open.user_id, person.id
            ));
        }
        if open.awaiting_answer {
            return Err(format!(
                "modal {view_id} was submitted and waits for the app's answer (apply it with view_answer)"
            ));
        }
        let inputs = input_elements(&open.open.view["blocks"]);
        let mut typed = open.typed.clone();
        for &(block_id, action_id, text) in values {
            let element = inputs
                .iter()
                .find(|i| i.block_id == block_id && i.action_id == action_id)
                .ok_or_else(|| {
                    format!("modal {view_id} has no input {block_id:?}/{action_id:?}")
                })?;
            if !TEXT_INPUTS.contains(&element.kind.as_str()) {
                return Err(format!(
                    "the input {block_id:?}/{action_id:?} is a {}, not a text input",
                    element.kind
                ));
            }
            typed.insert((block_id.into(), action_id.into()), text.into());
        }
        let mut values = serde_json::Map::new();
        for input in &inputs {
            let entry =
                input.state(typed.get(&(input.block_id.clone(), input.action_id.clone())))?;
            values
                .entry(input.block_id.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("an object")
                .insert(input.action_id.clone(), entry);
        }
        let open = state.view_mut(view_id).expect("found above");
        open.typed = typed;
        open.awaiting_answer = true;
        open.open.view["state"] = json!({"values": values});
        let view = open.open.view.clone();
        let trigger_id = state.issue_trigger(&person.id);
        let payload = json!({
            "type": "view_submission",
            "team": {"id": person.team_id, "domain": "local"},
            "user": user_json(person),
            "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id,
            "view": view,
            "response_urls": [],
            "is_enterprise_install": false, "enterprise": null
        });
        Ok(state.signed(payload_form(&payload)))
    }

    /// Applies the app's HTTP answer (`status`, `body`) to the submission of modal
    /// `view_id`, as Slack does: an empty body, `{}` or `response_action: clear`
    /// closes it; `errors` (by input `block_id`) keeps it open with the messages;
    /// `update` replaces its view (checked as `views.open` checks one). Anything else,
    /// and any status but 200, leaves the modal open with Slack's error in it ("We had
    /// some trouble connecting"): an error here.
    pub fn view_answer(
        &self,
        view_id: &str,
        status: u16,
        body: &str,
    ) -> Result<ViewAnswer, String> {
        let mut state = self.lock();
        let open = state
            .view_mut(view_id)
            .ok_or_else(|| format!("no modal {view_id} is open"))?;
        if !open.awaiting_answer {
            return Err(format!(
                "modal {view_id} has no submission waiting for an answer"
            ));
        }
        open.awaiting_answer = false;
        let trouble = |why: String| {
            Err(format!(
                "Slack shows \"We had some trouble connecting. Try again?\" in modal {view_id}: {why}"
            ))
        };
        if status != 200 {
            return trouble(format!("the app answered HTTP {status}"));
        }
        let answer: Value = if body.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str(body) {
                Ok(answer @ Value::Object(_)) => answer,
                _ => return trouble(format!("the answer is not a JSON object: {body:?}")),
            }
        };
        let only = |keys: &[&str]| {
            answer
                .as_object()
                .is_some_and(|o| o.keys().all(|k| keys.contains(&k.as_str())))
        };
        let closed = match answer.get("response_action").and_then(Value::as_str) {
            None if only(&[]) => true,
            Some("clear") if only(&["response_action"]) => true,
            Some("errors") if only(&["response_action", "errors"]) => false,
            Some("update") if only(&["response_action", "view"]) => false,
            Some("push") => {
                return trouble("response_action push is not modelled by this stand-in".into());
            }
            _ => return trouble(format!("Slack does not understand the answer {answer}")),
        };
        if closed {
            state.views.retain(|v| v.open.id != view_id);
            return Ok(ViewAnswer::Closed);
        }
        if answer["response_action"] == "errors" {
            let blocks = state.view_mut(view_id).expect("found above").open.view["blocks"].clone();
            let inputs = input_elements(&blocks);
            let errors = answer["errors"].as_object().filter(|e| !e.is_empty());
            let Some(errors) = errors else {
                return trouble("response_action errors without errors".into());
            };
            let mut shown = BTreeMap::new();
            for (block_id, message) in errors {
                if !inputs.iter().any(|i| &i.block_id == block_id) {
                    return trouble(format!(
                        "{block_id:?} is not the block_id of an input block of the view"
                    ));
                }
                let Some(message) = message.as_str() else {
                    return trouble(format!("the error for {block_id:?} is not a string"));
                };
                shown.insert(block_id.clone(), message.to_owned());
            }
            return Ok(ViewAnswer::Errors(shown));
        }
        let view = &answer["view"];
        if !view.is_object() {
            return trouble("response_action update without a view object".into());
        }
        if view.to_string().len() > VIEW_MAX_BYTES {
            return trouble("view_too_large".into());
        }
        if let Err(messages) = check_view(view, "/view") {
            return trouble(format!("invalid_arguments {messages:?}"));
        }
        if state.external_id_taken(view, Some(view_id)) {
            return trouble("duplicate_external_id".into());
        }
        let open = state.view_mut(view_id).expect("found above");
        let root = open.open.view["root_view_id"]
            .as_str()
            .unwrap_or(view_id)
            .to_owned();
        let shown = shown_view(view, view_id, &root);
        let kept = input_elements(&shown["blocks"]);
        open.typed.retain(|(block_id, action_id), _| {
            kept.iter()
                .any(|i| &i.block_id == block_id && &i.action_id == action_id)
        });
        open.open.view = shown.clone();
        Ok(ViewAnswer::Updated(shown))
    }
}

/// `views.open`: exchanges a `trigger_id` (known, unused, at most 3 seconds old) and
/// a valid modal view for a modal shown to the person whose interaction issued it.
/// The trigger is spent only when the modal opens.
pub(super) fn views_open(state: &mut State, args: &Value) -> Outgoing {
    let trigger_id = args["trigger_id"].as_str().unwrap_or_default();
    if trigger_id.is_empty() {
        return invalid_arguments(vec!["invalid `trigger_id`".into()]);
    }
    let user_id = match state.triggers.get(trigger_id) {
        None => return fail("invalid_trigger_id"),
        Some(t) if t.used => return fail("exchanged_trigger_id"),
        Some(t) if t.age() > TRIGGER_LIFETIME => return fail("expired_trigger_id"),
        Some(t) => t.user_id.clone(),
    };
    let view = match &args["view"] {
        Value::Null => {
            return invalid_arguments(vec!["[ERROR] missing required field: view".into()]);
        }
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    if !view.is_object() {
        return invalid_arguments(vec![problem("must be a JSON object", "/view")]);
    }
    if view.to_string().len() > VIEW_MAX_BYTES {
        return fail("view_too_large");
    }
    if let Err(messages) = check_view(&view, "/view") {
        return invalid_arguments(messages);
    }
    if state.external_id_taken(&view, None) {
        return fail("duplicate_external_id");
    }
    if let Some(trigger) = state.triggers.get_mut(trigger_id) {
        trigger.used = true;
    }
    let id = state.new_view_id();
    let shown = shown_view(&view, &id, &id);
    state.views.push(ViewState {
        open: OpenView {
            id,
            user_id,
            view: shown.clone(),
        },
        awaiting_answer: false,
        typed: BTreeMap::new(),
    });
    ok(json!({"view": shown}))
}

/// A modal view as Slack keeps and returns it: Slack's own fields added, every block
/// and input element given an ID (Slack makes one up where the app gave none).
fn shown_view(view: &Value, id: &str, root_view_id: &str) -> Value {
    let mut blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    let mut taken: HashSet<String> = blocks
        .iter()
        .filter_map(|b| b["block_id"].as_str().map(str::to_owned))
        .collect();
    for block in &mut blocks {
        if block["block_id"].as_str().is_none() {
            let made_up = loop {
                let id = uuid::Uuid::new_v4().simple().to_string()[..5].to_owned();
                if taken.insert(id.clone()) {
                    break id;
                }
            };
            block["block_id"] = json!(made_up);
        }
        if block["type"] == "input"
            && block["element"].is_object()
            && block["element"]["action_id"].as_str().is_none()
        {
            block["element"]["action_id"] = json!(uuid::Uuid::new_v4().simple().to_string()[..5]);
        }
    }
    let text = |key: &str| view[key].as_str().unwrap_or_default();
    let or_null = |key: &str| view.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "id": id, "team_id": TEAM_ID, "type": "modal", "blocks": blocks,
        "private_metadata": text("private_metadata"), "callback_id": text("callback_id"),
        "state": {"values": {}},
        "hash": format!("{}.{}", now_unix_f64() as u64, &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "title": view["title"], "clear_on_close": view["clear_on_close"] == true,
        "notify_on_close": view["notify_on_close"] == true,
        "close": or_null("close"), "submit": or_null("submit"),
        "previous_view_id": null, "root_view_id": root_view_id, "app_id": APP_ID,
        "external_id": text("external_id"), "app_installed_team_id": TEAM_ID, "bot_id": BOT_ID
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::slack::JSON;
    use crate::slack::test_support::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trigger_id_opens_one_modal_within_three_seconds() {
        let slack = slack().await;
        let t = trigger(&slack);
        let opened = api(
            &slack,
            "views.open",
            &json!({"trigger_id": t, "view": modal()}),
        );
        assert_eq!(opened["ok"], true, "{opened}");
        let view = &opened["view"];
        let id = view["id"].as_str().unwrap();
        assert!(id.starts_with('V') && id.len() > 1);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(view["team_id"], TEAM_ID);
        assert_eq!(view["type"], "modal");
        assert_eq!(view["state"], json!({"values": {}}));
        assert_eq!(view["private_metadata"], "exec-1/step-1");
        assert_eq!(view["callback_id"], "reject_reason");
        assert_eq!(view["title"]["text"], "Reject runbook");
        assert_eq!(view["submit"]["text"], "Reject");
        assert_eq!(view["close"]["text"], "Cancel");
        assert_eq!(view["blocks"][1]["block_id"], "reason");
        assert!(
            view["blocks"][0]["block_id"].is_string(),
            "Slack names every block"
        );
        assert!(!view["hash"].as_str().unwrap().is_empty());
        assert_eq!(view["root_view_id"], id);
        assert_eq!(
            (view["app_id"].as_str(), view["bot_id"].as_str()),
            (Some("A0LOCAL"), Some("B0LOCAL"))
        );
        let open = slack.open_views();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].id.as_str(), open[0].user_id.as_str()),
            (id, "U0ALICE")
        );
        assert_eq!(&open[0].view, view);
        assert_eq!(slack.count_calls("views.open"), 1);

        let again = api(
            &slack,
            "views.open",
            &json!({"trigger_id": t, "view": modal()}),
        );
        assert_eq!(again, json!({"ok": false, "error": "exchanged_trigger_id"}));
        let late = trigger(&slack);
        slack.age_trigger_ids(Duration::from_millis(3100));
        let expired = api(
            &slack,
            "views.open",
            &json!({"trigger_id": late, "view": modal()}),
        );
        assert_eq!(expired, json!({"ok": false, "error": "expired_trigger_id"}));
        let unknown = api(
            &slack,
            "views.open",
            &json!({"trigger_id": "12345.98765.abcd2358fdea", "view": modal()}),
        );
        assert_eq!(unknown, json!({"ok": false, "error": "invalid_trigger_id"}));
        let missing = api(&slack, "views.open", &json!({"view": modal()}));
        assert_eq!(messages(&missing), ["invalid `trigger_id`"]);
        assert_eq!(slack.open_views().len(), 1);

        // A form body, the view as a JSON string.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("trigger_id", &trigger(&slack))
            .append_pair("view", &modal().to_string())
            .finish();
        let (status, opened) = post(
            &slack,
            "/api/views.open",
            "application/x-www-form-urlencoded",
            &form,
        );
        assert_eq!((status, &opened["ok"]), (200, &json!(true)), "{opened}");
        assert_eq!(slack.open_views().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_open_refuses_views_slack_refuses_without_spending_the_trigger() {
        let slack = slack().await;
        let t = trigger(&slack);
        let open = |view: &Value| {
            api(
                &slack,
                "views.open",
                &json!({"trigger_id": t, "view": view}),
            )
        };
        let mut long_title = modal();
        long_title["title"]["text"] = json!("x".repeat(25));
        assert_eq!(
            messages(&open(&long_title)),
            ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]
        );
        let mut long_metadata = modal();
        long_metadata["private_metadata"] = json!("m".repeat(3001));
        assert_eq!(
            messages(&open(&long_metadata)),
            ["[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"]
        );
        let mut no_submit = modal();
        no_submit.as_object_mut().unwrap().remove("submit");
        assert_eq!(
            messages(&open(&no_submit)),
            ["[ERROR] must define submit to use input block [json-pointer:/view/blocks/1/input]"]
        );
        let mut several = modal();
        several["type"] = json!("home");
        several.as_object_mut().unwrap().remove("title");
        several["blocks"][0]["text"]["text"] = json!("t".repeat(3001));
        several["blocks"][2]["block_id"] = json!("reason");
        several["blocks"][1]["element"]["min_length"] = json!(600);
        several["blocks"][1]["label"]["text"] = json!("l".repeat(2001));
        several["callback_id"] = json!("c".repeat(256));
        assert_eq!(
            messages(&open(&several)),
            [
                "[ERROR] must be `modal` [json-pointer:/view/type]",
                "[ERROR] missing required field: title [json-pointer:/view]",
                "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]",
                "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]",
                "[ERROR] must be less than 2001 characters [json-pointer:/view/blocks/1/label/text]",
                "[ERROR] min_length must not exceed max_length [json-pointer:/view/blocks/1/element/min_length]",
                "[ERROR] duplicate block_id [json-pointer:/view/blocks/2/block_id]",
            ]
        );
        let mut too_many = modal();
        too_many["blocks"] = json!(vec![json!({"type": "divider"}); 101]);
        assert_eq!(
            messages(&open(&too_many)),
            ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
        );
        assert!(slack.open_views().is_empty());
        assert_eq!(
            open(&modal())["ok"],
            true,
            "refusals do not spend the trigger"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_open_can_be_rate_limited_failed_and_answered_late() {
        let slack = slack().await;
        let t = trigger(&slack);
        slack.rate_limit_next("views.open", 7);
        slack.fail_next("views.open", 503);
        let args = json!({"trigger_id": t, "view": modal()}).to_string();
        let (status, answer) = post(&slack, "/api/views.open", JSON, &args);
        assert_eq!(
            (status, answer["error"].as_str()),
            (429, Some("ratelimited"))
        );
        assert_eq!(post(&slack, "/api/views.open", JSON, &args).0, 503);
        slack.answer_late("views.open", Duration::from_millis(200));
        let started = Instant::now();
        let (status, answer) = post(&slack, "/api/views.open", JSON, &args);
        assert_eq!((status, &answer["ok"]), (200, &json!(true)));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(slack.count_calls("views.open"), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn submitting_a_modal_sends_a_signed_view_submission() {
        let slack = slack().await;
        let id = open_modal(&slack);
        assert!(
            slack
                .submit_view(&id, &bob(), &[])
                .unwrap_err()
                .contains("not for U0BOB")
        );
        assert!(slack.submit_view("V0NONE", &alice(), &[]).is_err());
        let err = slack
            .submit_view(&id, &alice(), &[("ticket", "id", "T-1")])
            .unwrap_err();
        assert!(err.contains("required"), "{err}");
        let err = slack
            .submit_view(&id, &alice(), &[("reason", "nope", "x")])
            .unwrap_err();
        assert!(err.contains("no input"), "{err}");
        let err = slack
            .submit_view(&id, &alice(), &[("reason", "text", &"x".repeat(501))])
            .unwrap_err();
        assert!(err.contains("not 0 to 500"), "{err}");

        let submitted = slack
            .submit_view(&id, &alice(), &[("reason", "text", "too risky")])
            .unwrap();
        assert_signed(&submitted);
        assert!(submitted.body.starts_with("payload="));
        let p = payload(&submitted);
        assert_eq!(p["type"], "view_submission");
        assert_eq!(p["team"], json!({"id": TEAM_ID, "domain": "local"}));
        assert_eq!(
            p["user"],
            json!({"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": TEAM_ID})
        );
        assert_eq!(
            (p["api_app_id"].as_str(), p["token"].as_str()),
            (Some("A0LOCAL"), Some(VERIFICATION_TOKEN))
        );
        assert!(!p["trigger_id"].as_str().unwrap().is_empty());
        assert_eq!(p["response_urls"], json!([]));
        assert_eq!(
            (&p["is_enterprise_install"], &p["enterprise"]),
            (&json!(false), &Value::Null)
        );
        let view = &p["view"];
        assert_eq!(view["id"], id.as_str());
        assert_eq!(view["root_view_id"], id.as_str());
        assert_eq!(view["previous_view_id"], Value::Null);
        assert_eq!(view["private_metadata"], "exec-1/step-1");
        assert_eq!(view["callback_id"], "reject_reason");
        assert_eq!(
            (&view["clear_on_close"], &view["notify_on_close"]),
            (&json!(false), &json!(false))
        );
        assert_eq!(view["external_id"], "");
        assert_eq!(
            view["state"]["values"],
            json!({"reason": {"text": {"type": "plain_text_input", "value": "too risky"}},
                   "ticket": {"id": {"type": "plain_text_input", "value": null}}})
        );
        assert_eq!(view["hash"], slack.open_views()[0].view["hash"]);
        let err = slack
            .submit_view(&id, &alice(), &[("reason", "text", "again")])
            .unwrap_err();
        assert!(err.contains("waits for the app's answer"), "{err}");
        assert_eq!(
            slack.open_views().len(),
            1,
            "open until the answer is applied"
        );

        // Its trigger_id opens another modal.
        let next = api(
            &slack,
            "views.open",
            &json!({"trigger_id": p["trigger_id"], "view": modal()}),
        );
        assert_eq!(next["ok"], true);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_apps_answer_closes_the_modal_shows_errors_or_updates_it() {
        let slack = slack().await;
        let id = open_modal(&slack);
        let submit =
            |values: &[(&str, &str, &str)]| slack.submit_view(&id, &alice(), values).unwrap();
        assert!(
            slack
                .view_answer(&id, 200, "")
                .unwrap_err()
                .contains("no submission")
        );

        submit(&[("reason", "text", "risky")]);
        let err = slack.view_answer(&id, 500, "").unwrap_err();
        assert!(err.contains("We had some trouble connecting"), "{err}");
        assert_eq!(slack.open_views().len(), 1);

        submit(&[]);
        let errors = r#"{"response_action":"errors","errors":{"reason":"Say more"}}"#;
        let shown = BTreeMap::from([("reason".to_owned(), "Say more".to_owned())]);
        assert_eq!(
            slack.view_answer(&id, 200, errors),
            Ok(ViewAnswer::Errors(shown))
        );
        assert_eq!(slack.open_views().len(), 1);

        // What was typed stays in the modal.
        let p = payload(&submit(&[("ticket", "id", "T-7")]));
        assert_eq!(
            p["view"]["state"]["values"]["reason"]["text"]["value"],
            "risky"
        );
        let not_input = r#"{"response_action":"errors","errors":{"block_0":"no"}}"#;
        assert!(slack.view_answer(&id, 200, not_input).is_err());
        submit(&[]);
        assert!(
            slack
                .view_answer(&id, 200, r#"{"response_action":"push","view":{}}"#)
                .is_err()
        );
        submit(&[]);
        assert!(slack.view_answer(&id, 200, "OK").is_err());

        submit(&[]);
        let mut long_title = modal();
        long_title["title"]["text"] = json!("x".repeat(25));
        let update = |view: &Value| json!({"response_action": "update", "view": view}).to_string();
        let err = slack
            .view_answer(&id, 200, &update(&long_title))
            .unwrap_err();
        assert!(err.contains("must be less than 25 characters"), "{err}");
        submit(&[]);
        let mut next = modal();
        next["title"]["text"] = json!("Really reject?");
        let Ok(ViewAnswer::Updated(updated)) = slack.view_answer(&id, 200, &update(&next)) else {
            panic!("not updated");
        };
        assert_eq!(
            (updated["id"].as_str(), updated["root_view_id"].as_str()),
            (Some(id.as_str()), Some(id.as_str()))
        );
        assert_eq!(updated["title"]["text"], "Really reject?");
        assert_eq!(slack.open_views()[0].view, updated);

        submit(&[]);
        assert_eq!(slack.view_answer(&id, 200, ""), Ok(ViewAnswer::Closed));
        assert!(slack.open_views().is_empty());
        assert!(slack.submit_view(&id, &alice(), &[]).is_err());

        for answer in ["{}", r#"{"response_action":"clear"}"#] {
            let id = open_modal(&slack);
            slack
                .submit_view(&id, &alice(), &[("reason", "text", "r")])
                .unwrap();
            assert_eq!(slack.view_answer(&id, 200, answer), Ok(ViewAnswer::Closed));
        }
        assert!(slack.open_views().is_empty());
    }
}
