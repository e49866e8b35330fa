//! Forced races: requests for one operation are held until a given number of them
//! have arrived, then all go on at once. A racing test so knows its racers were all in
//! flight together (see [`Race::overlapped`]) instead of hoping a delay made them so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// How long held requests wait for the others before they go on without them (the
/// race was then smaller than asked, and [`Race::together`] says how small).
pub const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Clone, Default)]
pub(super) struct Holds(Arc<Mutex<Vec<Hold>>>);

struct Hold {
    operation: String,
    needed: usize,
    arrived: Arc<std::sync::atomic::AtomicUsize>,
    patience: Duration,
    released: watch::Sender<bool>,
}

/// A hold set with [`super::AwsEndpoint::hold_until`].
pub struct Race {
    needed: usize,
    arrived: Arc<std::sync::atomic::AtomicUsize>,
}

impl Race {
    /// Whether every request the hold waited for arrived before any was answered.
    pub fn overlapped(&self) -> bool {
        self.together() >= self.needed
    }

    /// How many requests were in flight together before any was answered.
    pub fn together(&self) -> usize {
        self.arrived.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Holds {
    pub(super) fn add(&self, operation: &str, needed: usize, patience: Duration) -> Race {
        let (released, _) = watch::channel(false);
        let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Hold {
            operation: operation.to_owned(),
            needed,
            arrived: arrived.clone(),
            patience,
            released,
        });
        Race { needed, arrived }
    }

    /// Waits, if a hold is set for `operation`, until it is released (or for
    /// [`PATIENCE`] at most).
    pub(super) async fn wait(&self, operation: &str) {
        let (mut waiting, patience) = {
            let mut holds = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let Some(at) = holds.iter().position(|h| h.operation == operation) else {
                return;
            };
            let hold = &mut holds[at];
            let arrived = hold
                .arrived
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if arrived >= hold.needed {
                let _ = hold.released.send(true);
                holds.remove(at);
                return;
            }
            (hold.released.subscribe(), hold.patience)
        };
        if tokio::time::timeout(patience, waiting.wait_for(|released| *released))
            .await
            .is_err()
        {
            // Out of patience: the requests held so far go on, and the hold ends.
            let mut holds = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = holds.iter().position(|h| h.operation == operation) {
                let _ = holds[at].released.send(true);
                holds.remove(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn held_requests_go_on_together_once_all_have_arrived() {
        let holds = Holds::default();
        let race = holds.add("UpdateItem", 3, PATIENCE);
        // Another operation is not held.
        holds.wait("PutItem").await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for n in 0..2 {
            let (holds, tx) = (holds.clone(), tx.clone());
            tokio::spawn(async move {
                holds.wait("UpdateItem").await;
                tx.send(n).unwrap();
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(rx.try_recv().is_err(), "two of three wait");
        assert!(!race.overlapped());
        holds.wait("UpdateItem").await;
        assert!(race.overlapped());
        let mut released = vec![rx.recv().await.unwrap(), rx.recv().await.unwrap()];
        released.sort();
        assert_eq!(released, [0, 1]);
        // Released once: later requests are not held.
        holds.wait("UpdateItem").await;
    }
}
