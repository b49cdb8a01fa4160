//! Dataloaders: every relation field of a list resolves through one of these, so a page of
//! articles with their channel, source and tags costs one query per relation, whatever its size.
//! `article` and `articles` read the channels and sources with the articles themselves and hand
//! them to the loaders ([`RequestContext::remember_catalog`]), so there those cost no query.
//! Loaders live for one request, so their caches never serve another request's data.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::{
    Lookahead,
    dataloader::{DataLoader, HashMapCache, Loader},
};
use chrono::{DateTime, Utc};
use newsroom_domain::{
    Error,
    articles::{Audience, WithCatalog},
    catalog,
    entities::{article, channel, source, tag},
    site::SiteSettings,
};
use sea_orm::DatabaseConnection;

use crate::auth::Caller;

/// What every resolver of one request shares: the database, the request's single "now" (so one
/// response never mixes two views of visibility), and the request's loaders.
pub struct RequestContext {
    /// The pool.
    pub db: DatabaseConnection,
    /// Who is asking.
    pub caller: Caller,
    /// The client's address, for throttling logins and telling visitors apart.
    pub client_addr: Option<String>,
    /// The client's `User-Agent`, for telling readers from bots.
    pub user_agent: Option<String>,
    /// The instant visibility is judged at, fixed for the whole request.
    pub now: DateTime<Utc>,
    /// Channels by id.
    pub channels: Cached<ChannelLoader>,
    /// A channel's children, by parent id.
    pub children: Cached<ChildrenLoader>,
    /// Sources by id.
    pub sources: Cached<SourceLoader>,
    /// An article's tags, by article id.
    pub tags: Cached<TagsLoader>,
    /// The site settings (one key).
    pub site: Cached<SiteLoader>,
}

/// A dataloader that remembers what it loaded for the rest of the request. Its keys are our own
/// ids, hashed with foldhash: std's SipHash, the default, resists keys chosen to collide, which
/// these are not, and cost a home page 60 lookups' worth of it.
pub type Cached<L> = DataLoader<L, HashMapCache<foldhash::fast::RandomState>>;

/// A list of rows a dataloader loaded. A dataloader copies each value into its cache and again
/// for every field that asks for it, so its values are reference-counted: a copy costs a count,
/// not every string of every row (700 of a home page's 4,900 allocations were such copies).
pub type Rows<M> = Arc<[Arc<M>]>;

fn shared<M>(rows: Vec<M>) -> Rows<M> {
    rows.into_iter().map(Arc::new).collect()
}

/// A request's loader batches what its resolvers ask for in one turn of the runtime, without
/// async-graphql's default 1 ms timer (the patched `delay(ZERO)`, vendor/README.md). The
/// fields of one level of a response are polled together on the actix worker's current-thread
/// runtime, so they share a batch either way. The timer also merged keys asked for within a
/// millisecond of each other from later turns (lists nested in a list, each after its own
/// query), but it made every level of every uncached page wait a millisecond or two (the timer
/// wheel's tick), most of an idle server's 3.6 ms home page, and arming it woke the runtime's
/// driver, a system call for each batch.
fn cached<L>(loader: L) -> Cached<L> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::new()).delay(Duration::ZERO)
}

impl RequestContext {
    /// Keeps the channels and sources read with articles for the fields that ask for them, so
    /// they cost no statement of their own; gives back the articles.
    pub async fn remember_catalog(
        &self,
        found: impl IntoIterator<Item = WithCatalog>,
    ) -> Vec<article::Model> {
        let mut channels = Vec::new();
        let mut sources = Vec::new();
        let articles = found
            .into_iter()
            .map(|found| {
                channels.extend(found.channel.map(|c| (c.id, Arc::new(c))));
                sources.extend(found.source.map(|s| (s.id, Arc::new(s))));
                found.article
            })
            .collect();
        self.channels.feed_many(channels).await;
        self.sources.feed_many(sources).await;
        articles
    }

    /// Fresh loaders for one request.
    pub fn new(
        db: DatabaseConnection,
        now: DateTime<Utc>,
        caller: Caller,
        client_addr: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        RequestContext {
            caller,
            client_addr,
            user_agent,
            channels: cached(ChannelLoader(db.clone())),
            children: cached(ChildrenLoader(db.clone())),
            sources: cached(SourceLoader(db.clone())),
            tags: cached(TagsLoader(db.clone())),
            site: cached(SiteLoader(db.clone())),
            db,
            now,
        }
    }

    /// What the caller may see of articles.
    pub fn audience(&self) -> Audience {
        self.caller.audience()
    }

    /// Loads, in one batch per relation, what the selected fields of a list of articles will ask
    /// for, before the list is resolved. A dataloader alone batches what is asked for in one
    /// turn of the runtime ([`cached`]); priming makes a page cost the same few statements
    /// whatever its size or the machine's speed. `nodes` are the selections that stand for one
    /// article.
    ///
    /// Through `load_many`, so keys a loader already holds cost nothing. The primes of lists
    /// nested in a list (each article's `related`, primed as its own query returns) merge
    /// when they come in one turn; otherwise each goes out as it comes, and a key another one
    /// is loading waits for that batch (the patched DataLoader), so no key is read twice.
    pub async fn prime(
        &self,
        rows: &[article::Model],
        nodes: &[Lookahead<'_>],
    ) -> Result<(), Arc<Error>> {
        if rows.is_empty() {
            return Ok(());
        }
        let selected = |name: &str| nodes.iter().any(|n| n.field(name).exists());
        let disclaimer = selected("disclaimer");
        let channels = async {
            if selected("channel") {
                fill(&self.channels, rows.iter().map(|a| a.channel_id), None).await?;
            }
            Ok::<_, Arc<Error>>(())
        };
        let sources = async {
            if selected("source") || disclaimer {
                fill(&self.sources, rows.iter().filter_map(|a| a.source_id), None).await?;
            }
            Ok(())
        };
        let tags = async {
            if selected("tags") {
                // An article without tags is remembered as having none, so its `tags` field
                // does not ask the database again.
                fill(&self.tags, rows.iter().map(|a| a.id), Some(Rows::default())).await?;
            }
            Ok(())
        };
        let site = async {
            if disclaimer {
                fill(&self.site, [SiteKey], None).await?;
            }
            Ok(())
        };
        futures::try_join!(channels, sources, tags, site).map(|_| ())
    }
}

/// Loads `keys` through `loader`, and caches each key it did not find as `missing` when given
/// (an empty list, say); without one, such a key is looked up again if a field asks for it.
async fn fill<K, L>(
    loader: &Cached<L>,
    keys: impl IntoIterator<Item = K>,
    missing: Option<L::Value>,
) -> Result<(), Arc<Error>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Arc<Error>>,
{
    let keys: Vec<K> = keys.into_iter().collect();
    let found = loader.load_many(keys.iter().cloned()).await?;
    if let Some(missing) = missing {
        let absent: Vec<(K, L::Value)> = keys
            .into_iter()
            .filter(|key| !found.contains_key(key))
            .map(|key| (key, missing.clone()))
            .collect();
        if !absent.is_empty() {
            loader.feed_many(absent).await;
        }
    }
    Ok(())
}

type Shared<T> = Result<T, Arc<Error>>;

/// Loads channels by id.
pub struct ChannelLoader(DatabaseConnection);

impl Loader<i64> for ChannelLoader {
    type Value = Arc<channel::Model>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Shared<HashMap<i64, Self::Value>> {
        let rows = catalog::channels_by_ids(&self.0, keys).await?;
        Ok(rows.into_iter().map(|c| (c.id, Arc::new(c))).collect())
    }
}

/// Loads the children of channels, by parent id.
pub struct ChildrenLoader(DatabaseConnection);

impl Loader<i64> for ChildrenLoader {
    type Value = Rows<channel::Model>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Shared<HashMap<i64, Self::Value>> {
        let children = catalog::channel_children(&self.0, keys).await?;
        Ok(children.into_iter().map(|(k, v)| (k, shared(v))).collect())
    }
}

/// Loads sources by id.
pub struct SourceLoader(DatabaseConnection);

impl Loader<i64> for SourceLoader {
    type Value = Arc<source::Model>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Shared<HashMap<i64, Self::Value>> {
        let rows = catalog::sources_by_ids(&self.0, keys).await?;
        Ok(rows.into_iter().map(|s| (s.id, Arc::new(s))).collect())
    }
}

/// Loads the ordered tags of articles, by article id.
pub struct TagsLoader(DatabaseConnection);

impl Loader<i64> for TagsLoader {
    type Value = Rows<tag::Model>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[i64]) -> Shared<HashMap<i64, Self::Value>> {
        let tags = catalog::tags_of_articles(&self.0, keys).await?;
        Ok(tags.into_iter().map(|(k, v)| (k, shared(v))).collect())
    }
}

/// The key of the one site-settings value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SiteKey;

/// Loads the site settings once per request, however many disclaimers need them.
pub struct SiteLoader(DatabaseConnection);

impl Loader<SiteKey> for SiteLoader {
    type Value = SiteSettings;
    type Error = Arc<Error>;

    async fn load(&self, _: &[SiteKey]) -> Shared<HashMap<SiteKey, Self::Value>> {
        Ok(HashMap::from([(
            SiteKey,
            SiteSettings::load(&self.0).await?,
        )]))
    }
}

#[cfg(test)]
mod tests {
    //! The patched DataLoader (`vendor/README.md`): a request's loader batches without a timer;
    //! a key asked for while its batch is loading takes its answer from that batch, and a batch
    //! that fails or panics sends its waiters to load their keys themselves.

    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
        time::Duration,
    };

    use async_graphql::dataloader::Loader;
    use tokio::sync::Notify;

    use super::cached;

    #[derive(Clone, Copy, PartialEq)]
    enum First {
        Answers,
        Fails,
        Panics,
    }

    /// Answers `key * 10` for every key but 4, which does not exist. Its first batch waits
    /// until released, then answers, fails or panics.
    struct Held {
        first: First,
        calls: Mutex<Vec<Vec<i64>>>,
        started: Notify,
        release: Notify,
    }

    impl Loader<i64> for Held {
        type Value = i64;
        type Error = Arc<String>;

        async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Arc<String>> {
            let call = {
                let mut calls = self.calls.lock().unwrap();
                let mut keys = keys.to_vec();
                keys.sort_unstable();
                calls.push(keys);
                calls.len()
            };
            if call == 1 {
                self.started.notify_one();
                self.release.notified().await;
                match self.first {
                    First::Answers => {}
                    First::Fails => return Err(Arc::new("the database is down".into())),
                    First::Panics => panic!("the first batch panics"),
                }
            }
            Ok(keys
                .iter()
                .filter(|&&key| key != 4)
                .map(|&key| (key, key * 10))
                .collect())
        }
    }

    /// Asks for 1, 2 and 4, then, while that batch is held, for 2, 3 and 4; then releases it.
    /// Returns both answers and the batches the loader was asked for.
    async fn overlap(
        first: First,
    ) -> (
        Result<Result<HashMap<i64, i64>, Arc<String>>, tokio::task::JoinError>,
        Result<HashMap<i64, i64>, Arc<String>>,
        Vec<Vec<i64>>,
    ) {
        let loader = Arc::new(cached(Held {
            first,
            calls: Mutex::new(Vec::new()),
            started: Notify::new(),
            release: Notify::new(),
        }));
        let early = tokio::spawn({
            let loader = loader.clone();
            async move { loader.load_many([1, 2, 4]).await }
        });
        loader.loader().started.notified().await;
        let late = tokio::spawn({
            let loader = loader.clone();
            async move { loader.load_many([2, 3, 4]).await }
        });
        // The late request's own batch (3 alone) shows it has found 2 and 4 in flight.
        while loader.loader().calls.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        loader.loader().release.notify_one();
        let early = early.await;
        let late = late.await.expect("the late request");
        let calls = loader.loader().calls.lock().unwrap().clone();
        (early, late, calls)
    }

    /// Answers `key * 10` at once, and notes each batch it was asked for.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<Vec<i64>>>);

    impl Loader<i64> for Recorded {
        type Value = i64;
        type Error = Arc<String>;

        async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Arc<String>> {
            let mut batch = keys.to_vec();
            batch.sort_unstable();
            self.0.lock().unwrap().push(batch);
            Ok(keys.iter().map(|&key| (key, key * 10)).collect())
        }
    }

    /// A request's loader batches what is asked for in one turn of the runtime (an actix
    /// worker's, a current-thread one like this test's) with no timer. The clock is paused: it
    /// jumps to the next timer whenever the runtime has nothing else to do, so a batch that
    /// waited for one would find it moved. It is first put off a timer tick, where a sleep of
    /// zero (async-graphql's own for a delay of zero) rounds up to the next millisecond. Key 5
    /// is asked for a turn later, after its future has yielded: only a batch that yields to
    /// the runtime before it takes its keys holds it.
    #[tokio::test(start_paused = true)]
    async fn keys_asked_for_together_load_as_one_batch_without_a_timer() {
        tokio::time::advance(Duration::from_micros(500)).await;
        let loader = cached(Recorded::default());
        let started = tokio::time::Instant::now();
        let a_turn_later = async {
            tokio::task::yield_now().await;
            loader.load_one(5).await
        };
        let (one, two, more, five) = tokio::join!(
            loader.load_one(1),
            loader.load_one(2),
            loader.load_many([3, 4]),
            a_turn_later
        );
        assert_eq!((one, two, five), (Ok(Some(10)), Ok(Some(20)), Ok(Some(50))));
        assert_eq!(more, Ok(HashMap::from([(3, 30), (4, 40)])));
        assert_eq!(*loader.loader().0.lock().unwrap(), [vec![1, 2, 3, 4, 5]]);
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the batch waited for a timer"
        );
    }

    #[tokio::test]
    async fn a_key_in_flight_takes_the_answer_of_its_batch() {
        let (early, late, calls) = overlap(First::Answers).await;
        assert_eq!(
            early.expect("no panic"),
            Ok(HashMap::from([(1, 10), (2, 20)]))
        );
        assert_eq!(late, Ok(HashMap::from([(2, 20), (3, 30)])));
        // Neither 2 nor the missing 4 was asked for again.
        assert_eq!(calls, [vec![1, 2, 4], vec![3]]);
    }

    #[tokio::test]
    async fn a_failed_batch_sends_its_waiters_to_load_their_keys() {
        let (early, late, calls) = overlap(First::Fails).await;
        assert_eq!(
            early.expect("no panic"),
            Err(Arc::new("the database is down".to_string()))
        );
        assert_eq!(late, Ok(HashMap::from([(2, 20), (3, 30)])));
        assert_eq!(calls, [vec![1, 2, 4], vec![3], vec![2, 4]]);
    }

    #[tokio::test]
    async fn a_panicked_batch_sends_its_waiters_to_load_their_keys() {
        let (early, late, calls) = overlap(First::Panics).await;
        assert!(early.is_err(), "the request whose batch panicked fails");
        assert_eq!(late, Ok(HashMap::from([(2, 20), (3, 30)])));
        assert_eq!(calls, [vec![1, 2, 4], vec![3], vec![2, 4]]);
    }
}
