//! Publications for subscribers: a background task in each server process follows the article
//! change log ([`newsroom_domain::changes::Publications`]) and hands each article that became
//! visible to the process's WebSocket connections over a broadcast channel.
//!
//! The change log is the event source, not an in-process signal from the publishing request:
//! it is written in the same transaction as every article write, in whichever process made it,
//! and holds a scheduled article's entry at its publish time. Reading it at the injected clock's
//! "now" is what tells subscribers on every process of every publication, scheduled ones when
//! their time comes, the same way on SQLite and PostgreSQL. The price is latency: an entry is
//! read once it has settled ([`newsroom_domain::changes::SETTLE`], 5 seconds) and at the next
//! poll.
//!
//! The hub also counts the process's connections against their limit, and tells them to close
//! when the server stops.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use newsroom_domain::{
    changes::{Publication, Publications},
    clock::Clock,
};
use sea_orm::DatabaseConnection;
use tokio::sync::{broadcast, watch};

use crate::background::Background;

/// Log entries read in one go.
const BATCH: u64 = 500;
/// Publications a connection may fall behind by before it misses some.
const BACKLOG: usize = 1024;

/// The process's publication feed and connection count.
pub struct PublicationHub {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    poll: Duration,
    max_connections: usize,
    connections: AtomicUsize,
    sender: broadcast::Sender<Arc<Publication>>,
    closing: watch::Sender<bool>,
    background: Background,
}

/// A connection's place under the limit; given back when dropped.
pub struct ConnectionSlot(Arc<PublicationHub>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PublicationHub {
    /// A hub reading `db` every `poll` and admitting at most `max_connections` connections.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        poll: Duration,
        max_connections: usize,
    ) -> Arc<Self> {
        Arc::new(PublicationHub {
            db,
            clock,
            poll,
            max_connections,
            connections: AtomicUsize::new(0),
            sender: broadcast::channel(BACKLOG).0,
            closing: watch::channel(false).0,
            background: Background::default(),
        })
    }

    /// Starts following the log from its newest settled entry: what became visible before the
    /// server started is not told. When the database does not answer, the task keeps trying.
    pub async fn start(self: &Arc<Self>) {
        let first = Publications::from_now(&self.db, self.clock.now()).await;
        let hub = self.clone();
        let task = tokio::spawn(async move {
            let mut feed = match first {
                Ok(feed) => feed,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change log for subscriptions failed; will retry");
                    loop {
                        if !hub.background.pause(hub.poll).await {
                            return;
                        }
                        match Publications::from_now(&hub.db, hub.clock.now()).await {
                            Ok(feed) => break feed,
                            Err(e) => {
                                tracing::warn!(error = %e, "reading the change log for subscriptions failed; will retry")
                            }
                        }
                    }
                }
            };
            loop {
                if !hub.background.pause(hub.poll).await {
                    return;
                }
                hub.round(&mut feed).await;
            }
        });
        self.background.started(task);
    }

    /// Reads every settled entry and broadcasts the publications among them.
    async fn round(&self, feed: &mut Publications) {
        loop {
            match feed.next(&self.db, self.clock.now(), BATCH).await {
                Ok((found, more)) => {
                    for publication in found {
                        // No receiver is no one listening, which is fine.
                        let _ = self.sender.send(Arc::new(publication));
                    }
                    if !more {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change log for subscriptions failed; will retry");
                    return;
                }
            }
        }
    }

    /// Stops following the log and tells every connection to close.
    pub async fn shutdown(&self) {
        self.close_all();
        self.background.stop().await;
    }

    /// Tells every connection to close (the server is stopping).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Whether the connections have been told to close, and a way to wait for it.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The publications from now on.
    pub fn listen(&self) -> broadcast::Receiver<Arc<Publication>> {
        self.sender.subscribe()
    }

    /// A place for one more connection, or `None` at the limit.
    pub fn admit(self: &Arc<Self>) -> Option<ConnectionSlot> {
        self.connections
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnectionSlot(self.clone()))
    }

    /// The most connections the process holds.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The connections open now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
