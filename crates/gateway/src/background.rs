//! The stop handle of a background task that works in rounds (webhook delivery, feed ingest,
//! the subscription publications): the task asks whether to go on and pauses between rounds; a
//! graceful stop wakes it from its pause and waits for the round in hand to end.

use std::sync::{
    Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use tokio::{sync::Notify, task::JoinHandle};

/// A background task's stop handle.
#[derive(Debug, Default)]
pub struct Background {
    stopping: AtomicBool,
    stop: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Background {
    /// Whether a stop was asked for: the task ends its round early where it can.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Waits `pause`, or less if a stop is asked for; `false` when the task should end.
    pub async fn pause(&self, pause: std::time::Duration) -> bool {
        if self.stopping() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => !self.stopping(),
            () = self.stop.notified() => false,
        }
    }

    /// Keeps the task, to wait for it on [`Background::stop`].
    pub fn started(&self, task: JoinHandle<()>) {
        *self.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// Asks the task to stop and waits until it has.
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Stored as a permit if the task is not pausing now, so its next pause ends at once.
        self.stop.notify_one();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
