//! A short-lived, in-process memory of who a session token belongs to.
//!
//! Every request needs its caller: the session, the person and their
//! memberships, two queries. A busy counter makes the same caller ask many
//! times a second, so the answer is kept for a few seconds (the TTL).
//!
//! Staleness is bounded and mostly zero:
//! - in this process, signing out forgets that token, and any change to
//!   memberships or organizations forgets everything (the generation
//!   moves on, so a load that raced with the change is not kept);
//! - another process (scale-out) sees such a change within the TTL;
//! - an entry never outlives its session's own expiry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::service::Caller;

/// More entries than this and the expired ones are swept out (and, if
/// that is not enough, everything).
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    caller: Caller,
    loaded: Instant,
    /// The session's expiry, in ms since the epoch.
    expires_at: i64,
}

pub struct CallerCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CallerCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The generation to hand back to [`CallerCache::keep`] after loading.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The caller for a token hash, if known, fresh and unexpired.
    pub fn get(&self, token_hash: &str, now_ms: i64) -> Option<Caller> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries
            .get(token_hash)
            .filter(|e| e.loaded.elapsed() < self.ttl && e.expires_at > now_ms)
            .map(|e| e.caller.clone());
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps a caller loaded while the cache was at `generation`; nothing
    /// is kept if something changed since.
    pub fn keep(&self, token_hash: &str, caller: &Caller, expires_at: i64, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, e| e.loaded.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            token_hash.to_string(),
            Entry {
                caller: caller.clone(),
                loaded: Instant::now(),
                expires_at,
            },
        );
    }

    /// Forgets one session (signed out or expired).
    pub fn forget(&self, token_hash: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(token_hash);
    }

    /// Forgets everyone: memberships or organizations changed.
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
    use crate::auth::model::Me;
    use crate::ids::UserId;

    fn caller(name: &str) -> Caller {
        Caller {
            me: Me {
                id: UserId(name.into()),
                email: format!("{name}@example.org"),
                display_name: name.into(),
                is_site_admin: false,
            },
            grants: Vec::new(),
        }
    }

    #[test]
    fn keeps_until_forgotten() {
        let cache = CallerCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.keep("t1", &caller("ann"), i64::MAX, g);
        assert_eq!(cache.get("t1", 0).unwrap().me.display_name, "ann");
        cache.forget("t1");
        assert!(cache.get("t1", 0).is_none());
        assert_eq!(cache.counts(), (1, 1));
    }

    #[test]
    fn a_load_that_raced_with_a_change_is_not_kept() {
        let cache = CallerCache::new(Duration::from_secs(60));
        let g = cache.generation();
        cache.forget_all();
        cache.keep("t1", &caller("ann"), i64::MAX, g);
        assert!(cache.get("t1", 0).is_none());
    }

    #[test]
    fn never_outlives_the_session_or_the_ttl() {
        let cache = CallerCache::new(Duration::from_secs(60));
        cache.keep("t1", &caller("ann"), 1_000, cache.generation());
        assert!(cache.get("t1", 999).is_some());
        assert!(cache.get("t1", 1_000).is_none());
        let none = CallerCache::new(Duration::ZERO);
        none.keep("t1", &caller("ann"), i64::MAX, none.generation());
        assert!(none.get("t1", 0).is_none());
        let short = CallerCache::new(Duration::from_millis(1));
        short.keep("t1", &caller("ann"), i64::MAX, short.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get("t1", 0).is_none());
    }
}
