//! Forced races: requests for one operation are held until a given number of them
//! have arrived, then all go on at once. A racing test so knows its racers were all in
//! flight together (see [`Race::overlapped`]) instead of hoping a delay made them so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// How long a held request waits for the others before it goes on alone (the race
/// then did not happen, and [`Race::overlapped`] says so).
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Clone, Default)]
pub(super) struct Holds(Arc<Mutex<Vec<Hold>>>);

struct Hold {
    operation: String,
    needed: usize,
    arrived: usize,
    released: watch::Sender<bool>,
}

/// A hold set with [`super::AwsEndpoint::hold_until`].
pub struct Race {
    released: watch::Receiver<bool>,
}

impl Race {
    /// Whether every request the hold waited for arrived before any was answered.
    pub fn overlapped(&self) -> bool {
        *self.released.borrow()
    }
}

impl Holds {
    pub(super) fn add(&self, operation: &str, needed: usize) -> Race {
        let (released, receiver) = watch::channel(false);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(Hold {
            operation: operation.to_owned(),
            needed,
            arrived: 0,
            released,
        });
        Race { released: receiver }
    }

    /// Waits, if a hold is set for `operation`, until it is released (or for
    /// [`PATIENCE`] at most).
    pub(super) async fn wait(&self, operation: &str) {
        let mut waiting = {
            let mut holds = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let Some(at) = holds.iter().position(|h| h.operation == operation) else {
                return;
            };
            let hold = &mut holds[at];
            hold.arrived += 1;
            if hold.arrived >= hold.needed {
                let _ = hold.released.send(true);
                holds.remove(at);
                return;
            }
            hold.released.subscribe()
        };
        let _ = tokio::time::timeout(PATIENCE, waiting.wait_for(|released| *released)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn held_requests_go_on_together_once_all_have_arrived() {
        let holds = Holds::default();
        let race = holds.add("UpdateItem", 3);
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
