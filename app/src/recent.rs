//! A short-lived, in-process memory of answers that rarely change and are
//! asked for on every request of a hot path (what a movement needs to know
//! about its pantry and product, say; who a session token belongs to, in
//! [`crate::auth::callers`]).
//!
//! Staleness is bounded and mostly zero: a change made in this process
//! forgets everything at once (the generation moves on, so a load that
//! raced with the change is not kept); a change made by another process is
//! seen within the TTL.
//!
//! The storage is a `moka` cache: it bounds the number of entries, expires
//! them after the TTL, and never locks the whole map, so the hot path does
//! not queue behind one mutex. What moka does not give is the generation
//! check, so each entry carries the generation it was loaded at: an entry
//! loaded before the last [`Recent::forget_all`] is never returned, whatever
//! the order in which moka sees the insert and the invalidation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

/// More entries than this and moka evicts the least useful ones.
const MAX_ENTRIES: u64 = 10_000;

#[derive(Clone)]
struct Entry<V> {
    value: V,
    /// The generation at which the value started loading.
    generation: u64,
}

pub struct Recent<V> {
    ttl: Duration,
    entries: Cache<String, Entry<V>>,
    /// Moves on at every change; a load hands back the value it read
    /// before loading, and is not kept if it moved since.
    generation: AtomicU64,
    /// The generation the last [`Recent::forget_all`] moved to: entries
    /// loaded before it are stale.
    cleared: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V: Clone + Send + Sync + 'static> Recent<V> {
    /// A memory whose answers live `ttl` (none at all if zero).
    pub fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, MAX_ENTRIES)
    }

    fn with_capacity(ttl: Duration, capacity: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(if ttl.is_zero() { 0 } else { capacity })
            // moka panics on a TTL over 1000 years; a century is forever here.
            .time_to_live(ttl.min(Duration::from_secs(100 * 365 * 24 * 3600)))
            .build();
        Self {
            ttl,
            entries,
            generation: AtomicU64::new(0),
            cleared: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The generation to hand back to [`Recent::keep`] after loading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The answer for `key`, if known and fresh.
    pub fn get(&self, key: &str) -> Option<V> {
        self.get_where(key, |_| true)
    }

    /// The answer for `key`, if known, fresh and `usable` (counted as a
    /// miss otherwise).
    pub(crate) fn get_where(&self, key: &str, usable: impl FnOnce(&V) -> bool) -> Option<V> {
        let found = if self.ttl.is_zero() {
            None
        } else {
            let cleared = self.cleared.load(Ordering::Acquire);
            self.entries
                .get(key)
                .filter(|e| e.generation >= cleared && usable(&e.value))
                .map(|e| e.value)
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps an answer loaded while the memory was at `generation`;
    /// nothing is kept if something changed since.
    pub fn keep(&self, key: &str, value: &V, generation: u64) {
        if self.ttl.is_zero() || self.generation() != generation {
            return;
        }
        self.entries.insert(
            key.to_string(),
            Entry {
                value: value.clone(),
                generation,
            },
        );
        // A `forget` of this key that ran between the check above and the
        // insert would otherwise leave the stale answer in place.
        if self.generation() != generation {
            self.entries.invalidate(key);
        }
    }

    /// Forgets one answer: what it depends on changed.
    pub fn forget(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(key);
    }

    /// Forgets everything: something the answers depend on changed.
    pub fn forget_all(&self) {
        let now = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.cleared.fetch_max(now, Ordering::AcqRel);
        // Frees the memory; correctness rests on `cleared`.
        self.entries.invalidate_all();
    }

    /// (hits, misses) since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_until_everything_is_forgotten() {
        let recent = Recent::new(Duration::from_secs(60));
        recent.keep("a", &1, recent.generation());
        recent.keep("b", &2, recent.generation());
        assert_eq!(recent.get("a"), Some(1));
        recent.forget_all();
        assert_eq!(recent.get("a"), None);
        assert_eq!(recent.get("b"), None);
        assert_eq!(recent.counts(), (1, 2));
    }

    #[test]
    fn forgetting_one_answer_keeps_the_others() {
        let recent = Recent::new(Duration::from_secs(60));
        recent.keep("a", &1, recent.generation());
        recent.keep("b", &2, recent.generation());
        recent.forget("a");
        assert_eq!(recent.get("a"), None);
        assert_eq!(recent.get("b"), Some(2));
    }

    #[test]
    fn a_load_that_raced_with_a_change_is_not_kept() {
        let recent = Recent::new(Duration::from_secs(60));
        let g = recent.generation();
        recent.forget_all();
        recent.keep("a", &1, g);
        assert_eq!(recent.get("a"), None);
        let g = recent.generation();
        recent.forget("b");
        recent.keep("b", &2, g);
        assert_eq!(recent.get("b"), None);
    }

    #[test]
    fn an_entry_loaded_before_a_change_is_never_returned_after_it() {
        // moka may see the insert after the invalidation; the generation
        // the entry carries still marks it stale.
        let recent = Recent::new(Duration::from_secs(60));
        let g = recent.generation();
        recent.forget_all();
        recent.entries.insert(
            "a".into(),
            Entry {
                value: 1,
                generation: g,
            },
        );
        assert_eq!(recent.get("a"), None);
    }

    #[test]
    fn never_outlives_the_ttl() {
        let short = Recent::new(Duration::from_millis(5));
        short.keep("a", &1, short.generation());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(short.get("a"), None);
        let off = Recent::new(Duration::ZERO);
        off.keep("a", &1, off.generation());
        assert_eq!(off.get("a"), None);
    }

    #[test]
    fn stays_within_its_capacity() {
        let small = Recent::with_capacity(Duration::from_secs(60), 10);
        for i in 0..100 {
            small.keep(&i.to_string(), &i, small.generation());
        }
        small.entries.run_pending_tasks();
        assert!(small.entries.entry_count() <= 10);
    }
}
