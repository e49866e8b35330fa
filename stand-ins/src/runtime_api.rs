//! A Lambda Runtime API emulator: runs a real function binary the way Lambda does
//! (`AWS_LAMBDA_RUNTIME_API`, long-polled `/invocation/next`, deadline and request-id
//! headers) so tests can drive the built binaries, start-up included.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};

use crate::{HttpServer, Incoming, Outgoing};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Response(Value),
    Error(Value),
}

struct Pending {
    request_id: String,
    event: Value,
    done: oneshot::Sender<Invocation>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<HashMap<String, oneshot::Sender<Invocation>>>,
    init_errors: Mutex<Vec<String>>,
    /// The function asked for its first invocation: its init is done.
    polled: tokio::sync::Notify,
    polled_once: std::sync::atomic::AtomicBool,
}

pub struct RuntimeApi {
    queue: mpsc::UnboundedSender<Pending>,
    shared: Arc<Shared>,
    server: HttpServer,
    next_id: Mutex<u64>,
}

impl RuntimeApi {
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let (queue, receiver) = mpsc::unbounded_channel::<Pending>();
        let receiver = Arc::new(AsyncMutex::new(receiver));
        let shared = Arc::new(Shared::default());
        let handler_shared = shared.clone();
        let server = HttpServer::start_async(
            addr,
            Arc::new(move |req: Incoming| {
                let (receiver, shared) = (receiver.clone(), handler_shared.clone());
                Box::pin(async move { serve(req, &receiver, &shared).await })
            }),
        )
        .await?;
        Ok(Self {
            queue,
            shared,
            server,
            next_id: Mutex::new(0),
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server.addr.to_string()
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Option<Invocation> {
        let request_id = {
            let mut n = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            format!("00000000-0000-4000-8000-{:012}", *n)
        };
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                request_id,
                event,
                done,
            })
            .ok()?;
        tokio::time::timeout(timeout, answer).await.ok()?.ok()
    }

    /// Waits until the function asks for its first invocation (`/invocation/next`),
    /// the runtime's own sign that its init is done; `false` if it did not within
    /// `timeout`.
    pub async fn ready(&self, timeout: Duration) -> bool {
        let polled = self.shared.polled.notified();
        if self
            .shared
            .polled_once
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return true;
        }
        tokio::time::timeout(timeout, polled).await.is_ok()
    }

    pub fn init_errors(&self) -> Vec<String> {
        self.shared
            .init_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn serve(
    req: Incoming,
    receiver: &AsyncMutex<mpsc::UnboundedReceiver<Pending>>,
    shared: &Shared,
) -> Outgoing {
    let path = req.path.strip_prefix(PREFIX).unwrap_or("");
    let json = |status, body: &Value| Outgoing::json(status, body, "application/json");
    match (req.method.as_str(), path) {
        ("GET", "/invocation/next") => {
            shared
                .polled_once
                .store(true, std::sync::atomic::Ordering::SeqCst);
            shared.polled.notify_waiters();
            let Some(next) = receiver.lock().await.recv().await else {
                return json(500, &serde_json::json!({"errorType": "Shutdown"}));
            };
            let deadline_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64 + 10_000);
            shared
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(next.request_id.clone(), next.done);
            json(200, &next.event)
                .with_header("Lambda-Runtime-Aws-Request-Id", &next.request_id)
                .with_header("Lambda-Runtime-Deadline-Ms", &deadline_ms.to_string())
                .with_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:local",
                )
                .with_header(
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0",
                )
        }
        ("POST", "/init/error") => {
            shared
                .init_errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(String::from_utf8_lossy(&req.body).into_owned());
            json(202, &serde_json::json!({"status": "OK"}))
        }
        ("POST", rest) => {
            let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
            let [_, request_id, kind] = parts.as_slice() else {
                return json(404, &serde_json::json!({"errorType": "NotFound"}));
            };
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let result = if *kind == "response" {
                Invocation::Response(body)
            } else {
                Invocation::Error(body)
            };
            match shared
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(*request_id)
            {
                Some(done) => {
                    let _ = done.send(result);
                    json(202, &serde_json::json!({"status": "OK"}))
                }
                None => json(400, &serde_json::json!({"errorType": "InvalidRequestID"})),
            }
        }
        _ => json(404, &serde_json::json!({"errorType": "NotFound"})),
    }
}
