//! One deadline per piece of work: every outbound call (SSM, Slack, group look-ups)
//! gets only the time that remains, and a call that cannot finish in time is not
//! started.
//!
//! A click has Slack's 3 seconds, counted from when the request reached the
//! function; an EventBridge delivery has the Lambda invocation's own deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Slack shows an error after 3 s; keep a margin for the network and API Gateway.
pub const CLICK_BUDGET: Duration = Duration::from_millis(2600);
/// An EventBridge delivery: nobody is waiting, but the invocation has a timeout.
pub const EVENT_BUDGET: Duration = Duration::from_secs(50);
/// Start-up (reading secrets from Parameter Store).
pub const STARTUP_BUDGET: Duration = Duration::from_secs(10);
/// A TCP/TLS connection (to SSM or Slack) that is not up by then will not be in time
/// for anything; every call is bounded by its deadline besides.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
/// Kept back from the Lambda deadline for the runtime to send the response.
const LAMBDA_MARGIN: Duration = Duration::from_millis(100);
/// Lambda's documented maximum timeout (15 minutes).
const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Any `Lambda-Runtime-Deadline-Ms` before this (2001-09-09) is not a Unix time in
/// milliseconds: `cargo lambda watch` sends a relative value such as 600000.
const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;

static LOCAL_DEADLINE_LOGGED: AtomicBool = AtomicBool::new(false);

/// The minimum time worth starting a call with; below it, the call is not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallFloor(pub Duration);

impl CallFloor {
    /// An AWS call (SSM, DynamoDB): SigV4, TLS to a regional endpoint, a JSON answer.
    pub const AWS: Self = Self(Duration::from_millis(150));
    /// A Slack Web API call or `response_url` POST.
    pub const SLACK: Self = Self(Duration::from_millis(80));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no time left for the call ({left:?} left, {needed:?} needed)")]
pub struct OutOfTime {
    pub left: Duration,
    pub needed: Duration,
}

/// When the current piece of work must be done, and how long one attempt of a call
/// may take within it (so a hung attempt leaves time to try again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    started: Instant,
    at: Instant,
    attempt: Duration,
}

/// One attempt of an SSM call on a click: a second one must still fit.
const CLICK_ATTEMPT: Duration = Duration::from_millis(900);
/// One attempt of a call in the background.
const BACKGROUND_ATTEMPT: Duration = Duration::from_secs(5);

impl Deadline {
    /// `budget` from `started`, but never past the Lambda invocation's own deadline
    /// (`Lambda-Runtime-Deadline-Ms`, an absolute Unix time in milliseconds).
    ///
    /// A value that cannot be a real deadline (decades in the past: a local emulator
    /// sending a relative value) is treated as Lambda's maximum timeout, and said
    /// once in the log, so a local run never silently skips its calls.
    pub fn within_invocation(
        started: Instant,
        budget: Duration,
        lambda_deadline_ms: Option<u64>,
        now_unix_ms: u64,
    ) -> Self {
        let own = started + budget;
        let lambda = match lambda_deadline_ms {
            Some(ms) if ms < PLAUSIBLE_EPOCH_MS => {
                if !LOCAL_DEADLINE_LOGGED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        lambda_deadline_ms = ms,
                        "the runtime's deadline is not a Unix time (a local emulator?); \
                         using Lambda's maximum timeout instead"
                    );
                }
                started + LAMBDA_MAX_TIMEOUT
            }
            Some(ms) => {
                let left = Duration::from_millis(ms.saturating_sub(now_unix_ms));
                started + left.saturating_sub(LAMBDA_MARGIN)
            }
            None => own,
        };
        Self {
            started,
            at: own.min(lambda),
            attempt: if budget <= CLICK_BUDGET {
                CLICK_ATTEMPT
            } else {
                BACKGROUND_ATTEMPT
            },
        }
    }

    /// A click: Slack's budget from when the request reached the function, or from
    /// when API Gateway received it (`gateway_received_ms`, Unix milliseconds) if that
    /// was sooner, as after a cold start: Slack's 3 s run from then.
    pub fn for_click(
        arrived: Instant,
        gateway_received_ms: Option<u64>,
        lambda_deadline_ms: Option<u64>,
    ) -> Self {
        let now_ms = unix_now_ms();
        // Only a plausible time counts: a replayed test event carries an old one.
        let waited = gateway_received_ms
            .filter(|&at| at <= now_ms + 1_000 && now_ms.saturating_sub(at) < 30_000)
            .map_or(Duration::ZERO, |at| {
                Duration::from_millis(now_ms.saturating_sub(at))
            });
        let budget = CLICK_BUDGET.saturating_sub(waited);
        let mut deadline = Self::within_invocation(arrived, budget, lambda_deadline_ms, now_ms);
        deadline.attempt = CLICK_ATTEMPT;
        deadline
    }

    /// An EventBridge delivery, within its invocation.
    pub fn for_event(lambda_deadline_ms: Option<u64>) -> Self {
        Self::within_invocation(
            Instant::now(),
            EVENT_BUDGET,
            lambda_deadline_ms,
            unix_now_ms(),
        )
    }

    /// `budget` from now, with no invocation deadline to respect.
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            at: now + budget,
            attempt: budget.min(BACKGROUND_ATTEMPT),
        }
    }

    /// The same deadline, `reserve` sooner: for calls that must leave that much for
    /// what follows them (answering the clicker, recording a post).
    pub fn keeping(&self, reserve: Duration) -> Self {
        Self {
            at: self
                .at
                .checked_sub(reserve)
                .unwrap_or(self.started)
                .max(self.started),
            ..*self
        }
    }

    /// The longest one attempt of a call may take.
    pub fn attempt_limit(&self) -> Duration {
        self.attempt
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The time a call may take if it must leave `reserve` for what follows it,
    /// or why it must not start.
    pub fn allow(&self, floor: CallFloor, reserve: Duration) -> Result<Duration, OutOfTime> {
        let left = self.remaining().saturating_sub(reserve);
        if left < floor.0 {
            return Err(OutOfTime {
                left,
                needed: floor.0,
            });
        }
        Ok(left)
    }

    /// Whether a wait of `pause` still leaves room for a call after it.
    pub fn fits(&self, pause: Duration, then: CallFloor, reserve: Duration) -> bool {
        self.remaining() >= pause + then.0 + reserve
    }
}

/// The SDK timeouts for a call that must leave `reserve` of `deadline` for what
/// follows: the whole operation gets what remains, one attempt at most
/// [`Deadline::attempt_limit`]. A call that cannot finish in time is not started.
pub fn sdk_timeouts(
    deadline: &Deadline,
    reserve: Duration,
) -> Result<aws_config::timeout::TimeoutConfig, OutOfTime> {
    let left = deadline.allow(CallFloor::AWS, reserve)?;
    Ok(aws_config::timeout::TimeoutConfig::builder()
        .operation_timeout(left)
        .operation_attempt_timeout(left.min(deadline.attempt_limit()))
        .build())
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    (unix_now_ms() / 1000) as i64
}

/// 64 bits that differ from call to call (the standard library's per-instance
/// random hash keys, over the time): for jitter and claim tokens, not for secrets.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_795_267_186_000;

    #[tokio::test(start_paused = true)]
    async fn the_sooner_of_the_budget_and_the_lambda_deadline() {
        let t0 = Instant::now();
        let roomy = Deadline::within_invocation(t0, CLICK_BUDGET, Some(NOW_MS + 5_000), NOW_MS);
        assert_eq!(roomy.instant(), t0 + CLICK_BUDGET);
        let tight = Deadline::within_invocation(t0, CLICK_BUDGET, Some(NOW_MS + 1_000), NOW_MS);
        assert_eq!(tight.instant(), t0 + Duration::from_millis(900));
        let expired = Deadline::within_invocation(t0, CLICK_BUDGET, Some(NOW_MS - 10), NOW_MS);
        assert_eq!(expired.remaining(), Duration::ZERO);
        let none = Deadline::within_invocation(t0, CLICK_BUDGET, None, NOW_MS);
        assert_eq!(none.instant(), t0 + CLICK_BUDGET);
    }

    #[tokio::test(start_paused = true)]
    async fn a_relative_deadline_from_a_local_emulator_is_not_taken_for_1970() {
        let t0 = Instant::now();
        // `cargo lambda watch` sends 600000 (ten minutes, relative).
        let local = Deadline::within_invocation(t0, CLICK_BUDGET, Some(600_000), NOW_MS);
        assert_eq!(local.instant(), t0 + CLICK_BUDGET);
        let events = Deadline::within_invocation(t0, EVENT_BUDGET, Some(600_000), NOW_MS);
        assert_eq!(events.instant(), t0 + EVENT_BUDGET);
    }

    #[tokio::test(start_paused = true)]
    async fn a_click_counts_the_time_it_waited_at_the_gateway() {
        let t0 = Instant::now();
        let now = unix_now_ms();
        let fresh = Deadline::for_click(t0, Some(now), None);
        assert!(fresh.instant() >= t0 + CLICK_BUDGET - Duration::from_millis(50));
        let after_cold_start = Deadline::for_click(t0, Some(now - 1_500), None);
        assert!(after_cold_start.instant() <= t0 + Duration::from_millis(1_150));
        // A recorded event's old time is not taken for a wait.
        let replayed = Deadline::for_click(t0, Some(now - 3_600_000), None);
        assert!(replayed.instant() >= t0 + CLICK_BUDGET - Duration::from_millis(50));
        assert_eq!(replayed.attempt_limit(), CLICK_ATTEMPT);
        let kept = fresh.keeping(Duration::from_millis(600));
        assert_eq!(kept.instant(), fresh.instant() - Duration::from_millis(600));
        assert_eq!(
            fresh.keeping(Duration::from_secs(60)).remaining(),
            Duration::ZERO
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_starts_only_when_it_can_finish() {
        let d = Deadline::after(Duration::from_millis(500));
        let reserve = Duration::from_millis(300);
        assert_eq!(
            d.allow(CallFloor::AWS, reserve),
            Ok(Duration::from_millis(200))
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(
            d.allow(CallFloor::AWS, reserve),
            Err(OutOfTime {
                left: Duration::from_millis(100),
                needed: CallFloor::AWS.0
            })
        );
        assert!(d.allow(CallFloor::SLACK, reserve).is_ok());
        assert!(d.fits(Duration::from_millis(10), CallFloor::SLACK, reserve));
        assert!(!d.fits(Duration::from_millis(50), CallFloor::SLACK, reserve));
        assert_eq!(d.elapsed(), Duration::from_millis(100));
    }
}
