//! A short-lived, in-process memory of answers that rarely change and are
//! asked for on every request of a hot path (what a movement needs to know
//! about its pantry and product, say).
//!
//! Staleness is bounded and mostly zero, as for the caller cache: a change
//! made in this process forgets everything at once (the generation moves
//! on, so a load that raced with the change is not kept); a change made by
//! another process is seen within the TTL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// More entries than this and the expired ones are swept out (and, if
/// that is not enough, everything).
const MAX_ENTRIES: usize = 10_000;

pub struct Recent<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (V, Instant)>>,
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V: Clone> Recent<V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
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
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries
            .get(key)
            .filter(|(_, loaded)| loaded.elapsed() < self.ttl)
            .map(|(v, _)| v.clone());
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
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (_, loaded)| loaded.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_string(), (value.clone(), Instant::now()));
    }

    /// Forgets everything: something the answers depend on changed.
    pub fn forget_all(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
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
        assert_eq!(recent.get("a"), Some(1));
        recent.forget_all();
        assert_eq!(recent.get("a"), None);
        assert_eq!(recent.counts(), (1, 1));
    }

    #[test]
    fn a_load_that_raced_with_a_change_is_not_kept() {
        let recent = Recent::new(Duration::from_secs(60));
        let g = recent.generation();
        recent.forget_all();
        recent.keep("a", &1, g);
        assert_eq!(recent.get("a"), None);
    }

    #[test]
    fn never_outlives_the_ttl() {
        let short = Recent::new(Duration::from_millis(1));
        short.keep("a", &1, short.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.get("a"), None);
        let off = Recent::new(Duration::ZERO);
        off.keep("a", &1, off.generation());
        assert_eq!(off.get("a"), None);
    }
}
