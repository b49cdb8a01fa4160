//! When each of many keys was last stamped, for the view counter's "seen lately" questions (has
//! this visitor been counted for this article within the window; was this article found visible
//! a moment ago).
//!
//! A general cache answered them before, at several hundred bytes an entry in bookkeeping
//! (access order, write order, expiry timers), and did housekeeping work on every view. Here an
//! entry is its key and one timestamp in a hash map: a stamp older than the time to live is
//! treated as absent and swept out when a shard fills up. The map is split into shards, each
//! behind its own lock, so concurrent views seldom wait for each other.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hash, RandomState},
    sync::{Mutex, MutexGuard, PoisonError},
};

/// How many locks the keys are spread over.
const SHARDS: usize = 16;

/// A bounded map from key to the time (in milliseconds, on any clock the caller keeps to) it was
/// last stamped.
pub(super) struct Recent<K> {
    shards: Box<[Mutex<Shard<K>>]>,
    hasher: RandomState,
    per_shard: usize,
    ttl: i64,
}

struct Shard<K> {
    stamps: HashMap<K, i64>,
    swept_at: Option<i64>,
}

impl<K: Hash + Eq> Recent<K> {
    /// A map of at most about `capacity` keys, each forgotten `ttl` milliseconds after its stamp.
    pub(super) fn new(capacity: usize, ttl: i64) -> Self {
        Recent {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        stamps: HashMap::new(),
                        swept_at: None,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            ttl: ttl.max(1),
        }
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// When `key` was last stamped, unless that was `ttl` or more before `now`.
    pub(super) fn get(&self, key: &K, now: i64) -> Option<i64> {
        let stamp = self.shard(key).stamps.get(key).copied()?;
        (now - stamp < self.ttl).then_some(stamp)
    }

    /// Stamps `key` with `now`.
    pub(super) fn stamp(&self, key: K, now: i64) {
        let (per_shard, ttl) = (self.per_shard, self.ttl);
        self.shard(&key).put(key, now, per_shard, ttl);
    }

    /// Stamps `key` with `now` unless it was stamped less than `within` before `now`, as one
    /// step (two callers with the same key cannot both stamp it); whether it stamped.
    pub(super) fn stamp_unless_within(&self, key: K, now: i64, within: i64) -> bool {
        let mut shard = self.shard(&key);
        if shard
            .stamps
            .get(&key)
            .is_some_and(|stamp| now - stamp < within.min(self.ttl))
        {
            return false;
        }
        shard.put(key, now, self.per_shard, self.ttl);
        true
    }

    /// Forgets `key`.
    pub(super) fn forget(&self, key: &K) {
        self.shard(key).stamps.remove(key);
    }

    /// How many keys are held, expired ones not yet swept out included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .stamps
                    .len()
            })
            .sum()
    }
}

impl<K: Hash + Eq> Shard<K> {
    /// Stamps `key`. A full shard first sweeps out what expired (at most once every 1/64 of the
    /// time to live, so a shard full of live keys is not swept on every call); if it is still
    /// full, a new key is not remembered, which only means its next view is not taken for a
    /// repeat.
    fn put(&mut self, key: K, now: i64, per_shard: usize, ttl: i64) {
        if let Some(stamp) = self.stamps.get_mut(&key) {
            *stamp = now;
            return;
        }
        if self.stamps.len() >= per_shard {
            if self
                .swept_at
                .is_some_and(|at| (0..(ttl / 64).max(1)).contains(&(now - at)))
            {
                return;
            }
            self.swept_at = Some(now);
            self.stamps.retain(|_, stamp| now - *stamp < ttl);
            if self.stamps.len() < per_shard / 4 {
                self.stamps.shrink_to(per_shard / 2);
            }
            if self.stamps.len() >= per_shard {
                return;
            }
        }
        self.stamps.insert(key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_read_back_until_they_expire() {
        let recent = Recent::new(100, 1_000);
        assert_eq!(recent.get(&7, 0), None);
        recent.stamp(7, 10);
        assert_eq!(recent.get(&7, 10), Some(10));
        assert_eq!(recent.get(&7, 1_009), Some(10));
        assert_eq!(recent.get(&7, 1_010), None);
        recent.stamp(7, 1_010);
        assert_eq!(recent.get(&7, 1_500), Some(1_010));
        recent.forget(&7);
        assert_eq!(recent.get(&7, 1_500), None);
    }

    #[test]
    fn a_key_is_stamped_again_only_after_the_window() {
        let recent = Recent::new(100, 10_000);
        assert!(recent.stamp_unless_within((1, 2), 0, 100));
        assert!(!recent.stamp_unless_within((1, 2), 99, 100));
        // Refused stamps do not move the window on.
        assert!(recent.stamp_unless_within((1, 2), 100, 100));
        assert!(!recent.stamp_unless_within((1, 2), 150, 100));
        assert!(recent.stamp_unless_within((1, 3), 150, 100));
        assert!(recent.stamp_unless_within((2, 2), 150, 100));
        // A clock moved back is still within the window.
        assert!(!recent.stamp_unless_within((1, 2), 50, 100));
    }

    #[test]
    fn a_full_map_sweeps_out_what_expired_and_stays_bounded() {
        let recent = Recent::new(SHARDS * 4, 6_400);
        for key in 0..10_000 {
            recent.stamp(key, 0);
        }
        let full = recent.len();
        assert!(full <= SHARDS * 4, "{full} keys held");
        assert!(full >= SHARDS * 3, "only {full} keys held");
        // Still full of live keys: new ones are not remembered, old ones still are.
        let kept = (0..10_000).find(|k| recent.get(k, 50).is_some()).unwrap();
        recent.stamp(20_000, 50);
        assert_eq!(recent.get(&kept, 50), Some(0));
        // Once the old ones expired, new keys take their places.
        for key in 20_000..20_100 {
            recent.stamp(key, 6_400);
        }
        assert!(recent.len() <= SHARDS * 4);
        assert_eq!(recent.get(&kept, 6_400), None);
        assert!((20_000..20_100).any(|k| recent.get(&k, 6_400) == Some(6_400)));
    }

    #[test]
    fn concurrent_stamps_of_one_key_let_exactly_one_through() {
        let recent = std::sync::Arc::new(Recent::new(1_000, 60_000));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let recent = recent.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|k| recent.stamp_unless_within(*k, 1, 30_000))
                        .count()
                })
            })
            .collect();
        let stamped: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(stamped, 100);
    }
}
