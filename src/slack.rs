//! Outbound adapter: the Slack Web API (`chat.postMessage`, `chat.update`,
//! `chat.getPermalink`, `usergroups.users.list`, `users.lookupByEmail`, …) and `response_url`s.
//!
//! Every call has a deadline. HTTP 429 is retried after `Retry-After` only when the
//! wait fits before the deadline; 5xx and connection failures are retried with a
//! short back-off on the same terms. Errors carry no URL (a `response_url` is a
//! capability) and no token.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{Secret, authority, is_local};
use crate::deadline::{CONNECT_TIMEOUT, CallFloor, Deadline};
use crate::domain::messages::blocks::SlackMessage;

mod answers;
mod history;

pub use answers::{Effect, MAYBE_DONE_ERRORS, SlackError, effect_of_answer};

pub use history::{HistoryError, HistoryPage};

const USER_AGENT: &str = concat!("ssm-slack-approvals/", env!("CARGO_PKG_VERSION"));
const MAX_ATTEMPTS: u32 = 4;

/// Who the bot token belongs to (`auth.test`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    pub team_id: String,
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// The app's bot (`bot_id`), which its messages carry.
    #[serde(default)]
    pub bot_id: Option<String>,
}

/// Whether a call may be sent again after an answer that leaves open whether it was
/// carried out (a 5xx, a timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Doing it twice is harmless (reads, updates, deletes, `response_url`s).
    Always,
    /// Doing it twice does it twice (`chat.postMessage`).
    OnlyIfNotDone,
}

/// Where `chat.postMessage` put a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    api_url: String,
    token: Secret,
}

impl SlackClient {
    pub fn new(api_url: &str, token: Secret) -> Result<Self, reqwest::Error> {
        let builder = || {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(CONNECT_TIMEOUT)
                .pool_idle_timeout(Duration::from_secs(50))
        };
        // The bundle's roots, read once (see `ca_bundle`); a root the TLS stack
        // cannot use fails the whole build, and then it loads the system's roots.
        let http = match crate::ca_bundle::bundle_roots() {
            Some(roots) => roots
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .and_then(|roots| builder().tls_certs_only(roots).build())
                .or_else(|e| {
                    tracing::warn!(error = %e, "CA bundle not usable as read; loading the system's roots");
                    builder().build()
                })?,
            None => builder().build()?,
        };
        Ok(Self {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    pub async fn post_message(
        &self,
        channel: &str,
        message: &SlackMessage,
        deadline: &Deadline,
    ) -> Result<Posted, SlackError> {
        self.post_with_metadata(channel, message, None, deadline)
            .await
    }

    /// Posts `message` with Slack message `metadata` (`{"event_type", "event_payload"}`),
    /// which `conversations.history` returns with the message when asked.
    pub async fn post_with_metadata(
        &self,
        channel: &str,
        message: &SlackMessage,
        metadata: Option<&Value>,
        deadline: &Deadline,
    ) -> Result<Posted, SlackError> {
        #[derive(Deserialize)]
        struct Out {
            channel: String,
            ts: String,
        }
        let mut body = json!({"channel": channel, "text": message.text, "blocks": message.blocks, "unfurl_links": false});
        if let Some(metadata) = metadata {
            body["metadata"] = metadata.clone();
        }
        // Posting twice makes two messages: sent again only after answers that say it
        // was not posted.
        let out: Out = self
            .web_api_with("chat.postMessage", &body, deadline, Resend::OnlyIfNotDone)
            .await?;
        Ok(Posted {
            channel: out.channel,
            ts: out.ts,
        })
    }

    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        message: &SlackMessage,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        let body =
            json!({"channel": channel, "ts": ts, "text": message.text, "blocks": message.blocks});
        let _: Value = self.web_api("chat.update", &body, deadline).await?;
        Ok(())
    }

    /// Deletes one of the bot's own messages.
    pub async fn delete_message(
        &self,
        channel: &str,
        ts: &str,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        let body = json!({"channel": channel, "ts": ts});
        let _: Value = self.web_api("chat.delete", &body, deadline).await?;
        Ok(())
    }

    pub async fn usergroup_members(
        &self,
        usergroup: &str,
        deadline: &Deadline,
    ) -> Result<Vec<String>, SlackError> {
        #[derive(Deserialize)]
        struct Out {
            #[serde(default)]
            users: Vec<String>,
        }
        let out: Out = self
            .web_api_get(
                "usergroups.users.list",
                &[("usergroup", usergroup)],
                deadline,
            )
            .await?;
        Ok(out.users)
    }

    /// The Slack person with this e-mail address (`users.lookupByEmail`, scope
    /// `users:read.email`): `Ok(None)` when Slack knows nobody by it (`users_not_found`).
    pub async fn user_by_email(
        &self,
        email: &str,
        deadline: &Deadline,
    ) -> Result<Option<String>, SlackError> {
        #[derive(Deserialize)]
        struct User {
            id: String,
        }
        #[derive(Deserialize)]
        struct Out {
            user: User,
        }
        match self
            .web_api_get::<Out>("users.lookupByEmail", &[("email", email)], deadline)
            .await
        {
            Ok(out) => Ok(Some(out.user.id)),
            Err(e) if e.api_error() == Some("users_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens a modal with the `trigger_id` of a click (valid 3 seconds, once). Never
    /// sent again after an answer that leaves it open: the trigger is spent by then.
    pub async fn open_view(
        &self,
        trigger_id: &str,
        view: &Value,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        let body = json!({"trigger_id": trigger_id, "view": view});
        let _: Value = self
            .web_api_with("views.open", &body, deadline, Resend::OnlyIfNotDone)
            .await?;
        Ok(())
    }

    /// Replies in the thread of the message `thread_ts` (a reminder under its prompt),
    /// with `text` only. Sent again only after answers that say it was not posted.
    pub async fn post_reply(
        &self,
        channel: &str,
        thread_ts: &str,
        text: &str,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        let body = json!({"channel": channel, "thread_ts": thread_ts, "text": text,
                          "unfurl_links": false});
        let _: Value = self
            .web_api_with("chat.postMessage", &body, deadline, Resend::OnlyIfNotDone)
            .await?;
        Ok(())
    }

    /// Sets what `user_id` sees in the app's Home tab (`views.publish`, a `home` view).
    /// Publishing the same view again changes nothing: safe to send again.
    pub async fn publish_home(
        &self,
        user_id: &str,
        view: &Value,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        let body = json!({"user_id": user_id, "view": view});
        let _: Value = self.web_api("views.publish", &body, deadline).await?;
        Ok(())
    }

    /// A link that opens one of the channel's messages (`chat.getPermalink`).
    pub async fn permalink(
        &self,
        channel: &str,
        ts: &str,
        deadline: &Deadline,
    ) -> Result<String, SlackError> {
        #[derive(Deserialize)]
        struct Out {
            permalink: String,
        }
        let out: Out = self
            .web_api_get(
                "chat.getPermalink",
                &[("channel", channel), ("message_ts", ts)],
                deadline,
            )
            .await?;
        Ok(out.permalink)
    }

    /// The workspace (and organization) the bot token belongs to.
    pub async fn auth_test(&self, deadline: &Deadline) -> Result<Identity, SlackError> {
        self.web_api("auth.test", &json!({}), deadline).await
    }

    /// Posts to an interaction's `response_url` (`replace_original` or ephemeral).
    pub async fn respond(
        &self,
        response_url: &str,
        body: &Value,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        const METHOD: &str = "response_url";
        let safe = match response_url.strip_prefix("https://") {
            Some(rest) => authority(rest).is_some_and(|a| !a.is_empty()),
            None => response_url
                .strip_prefix("http://")
                .and_then(authority)
                .is_some_and(is_local),
        };
        if !safe {
            return Err(SlackError::UnsafeUrl { method: METHOD });
        }
        let body = body.to_string();
        let response = self
            .send(METHOD, deadline, || {
                json_post(self.http.post(response_url), &body)
            })
            .await?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transport(METHOD, e))?;
        // Slack answers `ok` or {"ok":true}; failures are 4xx with {"ok":false,"error":…}.
        let refused = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
            (v.get("ok") == Some(&Value::Bool(false)))
                .then(|| v["error"].as_str().unwrap_or("unknown").to_owned())
        });
        let answer = match (status.is_success(), refused) {
            (true, None) => Ok(()),
            (_, Some(error)) => Err(SlackError::Api {
                method: METHOD,
                error,
                status: status.as_u16(),
            }),
            (false, None) => Err(SlackError::Status {
                method: METHOD,
                status: status.as_u16(),
                detail: short(&text),
            }),
        };
        answer.inspect_err(SlackError::count)
    }

    /// A read-only Web API method, called with GET and its arguments in the query.
    async fn web_api_get<T: for<'de> Deserialize<'de>>(
        &self,
        method: &'static str,
        arguments: &[(&str, &str)],
        deadline: &Deadline,
    ) -> Result<T, SlackError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(arguments)
            .finish();
        let url = format!("{}/{method}?{query}", self.api_url);
        let response = self
            .send(method, deadline, || {
                self.http.get(&url).bearer_auth(self.token.expose())
            })
            .await?;
        read_web_api(method, response).await
    }

    async fn web_api<T: for<'de> Deserialize<'de>>(
        &self,
        method: &'static str,
        body: &Value,
        deadline: &Deadline,
    ) -> Result<T, SlackError> {
        self.web_api_with(method, body, deadline, Resend::Always)
            .await
    }

    async fn web_api_with<T: for<'de> Deserialize<'de>>(
        &self,
        method: &'static str,
        body: &Value,
        deadline: &Deadline,
        resend: Resend,
    ) -> Result<T, SlackError> {
        let url = format!("{}/{method}", self.api_url);
        let body = body.to_string();
        let response = self
            .send_with(method, deadline, resend, || {
                json_post(self.http.post(&url).bearer_auth(self.token.expose()), &body)
            })
            .await?;
        read_web_api(method, response).await
    }

    async fn send(
        &self,
        method: &'static str,
        deadline: &Deadline,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SlackError> {
        self.send_with(method, deadline, Resend::Always, request)
            .await
    }

    /// Sends with retries inside the deadline; returns the first response that is
    /// neither 429 nor 5xx (or the last one when time runs out). With
    /// [`Resend::OnlyIfNotDone`], a 5xx or a timeout is returned at once: the call
    /// may have been carried out.
    async fn send_with(
        &self,
        method: &'static str,
        deadline: &Deadline,
        resend: Resend,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SlackError> {
        self.send_retrying(method, deadline, resend, request)
            .await
            .inspect_err(SlackError::count)
    }

    async fn send_retrying(
        &self,
        method: &'static str,
        deadline: &Deadline,
        resend: Resend,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SlackError> {
        let uncertain_resend = resend == Resend::Always;
        let mut backoff = Duration::from_millis(100);
        for attempt in 1..=MAX_ATTEMPTS {
            let Ok(left) = deadline.allow(CallFloor::SLACK, Duration::ZERO) else {
                return Err(SlackError::OutOfTime { method });
            };
            let last = attempt == MAX_ATTEMPTS;
            let wait = match request().timeout(left).send().await {
                Ok(r) if r.status().as_u16() == 429 => {
                    let retry_after = r
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(Duration::from_secs(1), Duration::from_secs);
                    if last || !deadline.fits(retry_after, CallFloor::SLACK, Duration::ZERO) {
                        return Err(SlackError::RateLimited {
                            method,
                            retry_after,
                        });
                    }
                    tracing::warn!(
                        method,
                        retry_after_s = retry_after.as_secs(),
                        "Slack rate limit; waiting as asked"
                    );
                    retry_after
                }
                Ok(r) if r.status().is_server_error() && !last && uncertain_resend => {
                    tracing::warn!(
                        method,
                        status = r.status().as_u16(),
                        "Slack server error; retrying"
                    );
                    backoff
                }
                Ok(r) => return Ok(r),
                Err(e) if (e.is_connect() || e.is_timeout() && uncertain_resend) && !last => {
                    tracing::warn!(method, error = %e.without_url(), "Slack unreachable; retrying");
                    backoff
                }
                Err(e) => return Err(transport(method, e)),
            };
            if !deadline.fits(wait, CallFloor::SLACK, Duration::ZERO) {
                return Err(SlackError::OutOfTime { method });
            }
            tokio::time::sleep(wait).await;
            backoff *= 2;
        }
        Err(SlackError::OutOfTime { method })
    }
}

async fn read_web_api<T: for<'de> Deserialize<'de>>(
    method: &'static str,
    response: reqwest::Response,
) -> Result<T, SlackError> {
    read_answer(method, response)
        .await
        .inspect_err(SlackError::count)
}

async fn read_answer<T: for<'de> Deserialize<'de>>(
    method: &'static str,
    response: reqwest::Response,
) -> Result<T, SlackError> {
    let status = response.status();
    let text = response.text().await.map_err(|e| transport(method, e))?;
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => {
            return Err(SlackError::Status {
                method,
                status: status.as_u16(),
                detail: short(&text),
            });
        }
    };
    if value.get("ok") != Some(&Value::Bool(true)) {
        let error = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_owned();
        return Err(SlackError::Api {
            method,
            error,
            status: status.as_u16(),
        });
    }
    serde_json::from_value(value).map_err(|e| SlackError::Status {
        method,
        status: status.as_u16(),
        detail: e.to_string(),
    })
}

fn json_post(request: reqwest::RequestBuilder, body: &str) -> reqwest::RequestBuilder {
    request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .body(body.to_owned())
}

fn transport(method: &'static str, e: reqwest::Error) -> SlackError {
    SlackError::Transport {
        method,
        source: e.without_url(),
    }
}

fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}
