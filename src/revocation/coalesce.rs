//! Coalesced checks: the `/access` checks of one worker thread share round
//! trips. At most one read per thread and store (per cluster primary) is in
//! flight; the checks that arrive meanwhile wait for it to come back and then
//! go out together — one `MGET ready l1 l2 …` on one server, one pipeline of
//! `MGET`s on a cluster primary. Idle, a check is sent at once (no added latency);
//! under load, the number of Redis commands per request falls (one per
//! round trip instead of one per request).
//!
//! **Each check is still issued after its request arrived.** A request puts
//! its line in the queue from within its own check, after its link was
//! verified. A read takes the queue *when it is sent*; a check that arrives
//! after that finds the queue empty and waits for the *next* read. It never
//! joins a read already sent, so a read answering a request was always sent
//! after that request arrived — and "the next request after a 201 is
//! refused" holds exactly as with one read per request.
//!
//! The queue and its flags change together, under one lock: a check either
//! joins a batch whose leader will still send it, or leads one.
//!
//! A leader dropped while it waits (its client went away) fails the checks
//! that joined it (503), as does one dropped while its read is in flight:
//! never served when in doubt. The next check leads a fresh batch.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, oneshot};

use crate::domain::LineId;

/// What one read says about one line (the store decides what `T` is). `Err`:
/// the exchange failed (or its leader was dropped); the caller fails closed.
pub(super) type Answer<T> = Result<T, Failed>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Failed(pub String);

struct State<T> {
    pending: Vec<(LineId, oneshot::Sender<Answer<T>>)>,
    /// A leader will send `pending`.
    led: bool,
    /// A read is out.
    in_flight: bool,
}

/// One thread's queue for one store. (Thread-safe only because the checks'
/// futures must be `Send`; a queue is used by the thread that made it, so
/// its lock is never contended.)
pub(super) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Signalled when the read in flight came back.
    returned: Notify,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                pending: Vec::new(),
                led: false,
                in_flight: false,
            }),
            returned: Notify::new(),
        }
    }
}

/// Undoes a leader's claims if it is dropped: the batch it leads (failing
/// its checks) and the read it has in flight.
struct Lead<'a, T> {
    queue: &'a Queue<T>,
    sent: bool,
    done: bool,
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let abandoned = {
            let mut state = self.queue.state();
            if self.sent {
                state.in_flight = false;
                Vec::new()
            } else {
                state.led = false;
                std::mem::take(&mut state.pending)
            }
        };
        if self.sent {
            self.queue.returned.notify_one();
        }
        // Dropping the senders answers every waiter `Failed`.
        drop(abandoned);
    }
}

impl<T> Queue<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // Nothing done under this lock can leave it inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Send> Queue<T> {
    /// Checks `line` in the next read; `read` sends one read (the lines in
    /// order) and returns one answer per line.
    pub(super) async fn check<F, Fut>(self: Arc<Self>, line: LineId, read: F) -> Answer<T>
    where
        F: FnOnce(Vec<LineId>) -> Fut,
        Fut: Future<Output = Result<Vec<T>, Failed>>,
    {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut state = self.state();
            state.pending.push((line, tx));
            !std::mem::replace(&mut state.led, true)
        };
        if !lead {
            return rx
                .await
                .unwrap_or_else(|_| Err(Failed("batch abandoned".into())));
        }
        let mut guard = Lead {
            queue: &self,
            sent: false,
            done: false,
        };
        // Wait until no read is out, then take everything queued by now.
        let batch = loop {
            let returned = self.returned.notified();
            {
                let mut state = self.state();
                if !state.in_flight {
                    state.in_flight = true;
                    state.led = false;
                    guard.sent = true;
                    break std::mem::take(&mut state.pending);
                }
            }
            returned.await;
        };
        let lines: Vec<LineId> = batch.iter().map(|(l, _)| *l).collect();
        let answer = read(lines).await;
        self.state().in_flight = false;
        guard.done = true;
        drop(guard);
        self.returned.notify_one();
        match answer {
            Ok(answers) if answers.len() == batch.len() => {
                for ((_, tx), answer) in batch.into_iter().zip(answers) {
                    let _ = tx.send(Ok(answer));
                }
            }
            Ok(_) => {
                for (_, tx) in batch {
                    let _ = tx.send(Err(Failed("short reply".into())));
                }
            }
            Err(e) => {
                for (_, tx) in batch {
                    let _ = tx.send(Err(e.clone()));
                }
            }
        }
        rx.await
            .unwrap_or_else(|_| Err(Failed("batch abandoned".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(n: i64) -> LineId {
        LineId::parse(n).unwrap()
    }

    type Reads = Arc<Mutex<Vec<Vec<i64>>>>;

    fn record(reads: &Reads, lines: &[LineId]) {
        reads
            .lock()
            .unwrap()
            .push(lines.iter().map(|l| l.get()).collect());
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    /// Spawns a check whose read records its lines, waits for `gate` (if
    /// any), and answers `entry` for every line with marker `marker`.
    type Tagged = (&'static str, bool);

    fn spawn_check(
        queue: &Arc<Queue<Tagged>>,
        reads: &Reads,
        n: i64,
        gate: Option<oneshot::Receiver<()>>,
        marker: &'static str,
    ) -> tokio::task::JoinHandle<Answer<Tagged>> {
        let (queue, reads) = (queue.clone(), reads.clone());
        tokio::spawn(async move {
            queue
                .check(line(n), |lines| async move {
                    record(&reads, &lines);
                    if let Some(gate) = gate {
                        gate.await.ok();
                    }
                    Ok(lines.iter().map(|l| (marker, l.get() % 2 == 1)).collect())
                })
                .await
        })
    }

    /// The rule the revocation guarantee rests on: a check that arrives while
    /// a read is in flight is answered by a read sent after it arrived.
    #[tokio::test(flavor = "current_thread")]
    async fn a_check_arriving_during_a_read_in_flight_is_answered_by_a_later_read() {
        let queue = Arc::new(Queue::<Tagged>::default());
        let reads: Reads = Arc::default();
        let (open, gate) = oneshot::channel();
        let first = spawn_check(&queue, &reads, 7, Some(gate), "read 1");
        settle().await;
        assert_eq!(*reads.lock().unwrap(), vec![vec![7]], "read 1 is out");
        // Read 1 is in flight (imagine the cancel answering 201 now); the next check:
        let second = spawn_check(&queue, &reads, 8, None, "read 2");
        settle().await;
        assert!(!second.is_finished(), "answered by the read in flight");
        open.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(("read 1", true)));
        let answer = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the later check was never sent")
            .unwrap();
        assert_eq!(answer, Ok(("read 2", false)));
        assert_eq!(*reads.lock().unwrap(), vec![vec![7], vec![8]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn checks_arriving_during_a_read_share_the_next_one_and_each_gets_its_own_answer() {
        let queue = Arc::new(Queue::<Tagged>::default());
        let reads: Reads = Arc::default();
        let (open, gate) = oneshot::channel();
        let first = spawn_check(&queue, &reads, 1, Some(gate), "r1");
        settle().await;
        let waiting: Vec<_> = (2..=5)
            .map(|n| spawn_check(&queue, &reads, n, None, "r2"))
            .collect();
        settle().await;
        open.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(("r1", true)));
        for (n, check) in (2..=5).zip(waiting) {
            assert_eq!(check.await.unwrap(), Ok(("r2", n % 2 == 1)));
        }
        assert_eq!(*reads.lock().unwrap(), vec![vec![1], vec![2, 3, 4, 5]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_idle_check_is_sent_at_once() {
        let queue = Arc::new(Queue::<Tagged>::default());
        let reads: Reads = Arc::default();
        for n in 1..=3 {
            let answer = spawn_check(&queue, &reads, n, None, "r").await.unwrap();
            assert_eq!(answer, Ok(("r", n % 2 == 1)));
        }
        assert_eq!(*reads.lock().unwrap(), vec![vec![1], vec![2], vec![3]]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn dropped_leaders_fail_their_checks_and_free_the_queue() {
        let queue = Arc::new(Queue::<Tagged>::default());
        let reads: Reads = Arc::default();
        // A read in flight whose leader goes away…
        let (_open, gate) = oneshot::channel();
        let first = spawn_check(&queue, &reads, 1, Some(gate), "r1");
        settle().await;
        // …a second leader waiting for it, with a check joined…
        let second = spawn_check(&queue, &reads, 2, None, "r2");
        let joined = spawn_check(&queue, &reads, 3, None, "r2");
        settle().await;
        // …goes away too.
        second.abort();
        settle().await;
        let answer = tokio::time::timeout(Duration::from_secs(5), joined)
            .await
            .expect("a check joined to a dropped leader hung")
            .unwrap();
        assert!(answer.is_err(), "{answer:?}");
        first.abort();
        settle().await;
        // The queue is free: the next check is sent at once.
        let next = spawn_check(&queue, &reads, 5, None, "r3").await.unwrap();
        assert_eq!(next, Ok(("r3", true)));
        assert_eq!(*reads.lock().unwrap(), vec![vec![1], vec![5]]);
    }
}
