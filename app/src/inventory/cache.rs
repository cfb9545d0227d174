//! The in-process cache for hot stock queries.
//!
//! Each entry records the organization and the pantries its answer covers.
//! Events invalidate by pantry (a movement) or by organization (a catalog
//! change). A per-pantry and per-organization epoch closes the race where a
//! query reads the database, an event lands and invalidates, and only then
//! the stale answer is stored: an answer is kept only if none of the epochs
//! it depends on moved while it was being computed.
//!
//! Clients choose part of every key (search text, filters), so keys are
//! fixed-size digests of what the answer depends on, and the cache is
//! bounded by the bytes of its answers as well as by their number.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

type Value = Arc<dyn Any + Send + Sync>;

/// A cache key: the SHA-256 of a description of the query, so a key costs
/// 32 bytes however long the query's text was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    pub fn of(description: &str) -> Self {
        Self(Sha256::digest(description.as_bytes()).into())
    }
}

struct Entry {
    value: Value,
    organization: String,
    pantries: Vec<String>,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<CacheKey, Entry>,
    by_pantry: HashMap<String, HashSet<CacheKey>>,
    by_organization: HashMap<String, HashSet<CacheKey>>,
    epochs: HashMap<String, u64>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, key: &CacheKey) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.bytes;
            for p in &e.pantries {
                if let Some(keys) = self.by_pantry.get_mut(p) {
                    keys.remove(key);
                }
            }
            if let Some(keys) = self.by_organization.get_mut(&e.organization) {
                keys.remove(key);
            }
        }
    }

    fn epoch(&self, scope: &str) -> u64 {
        self.epochs.get(scope).copied().unwrap_or(0)
    }

    fn bump(&mut self, scope: &str) {
        *self.epochs.entry(scope.to_string()).or_default() += 1;
    }
}

/// The bytes an answer takes, counted as its JSON length (what it holds in
/// strings and numbers) without building the JSON.
fn weigh<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // Not measurable: too big to keep.
        Err(_) => usize::MAX,
    }
}

/// Fixed cost of an entry beyond its answer: key, index sets, scope ids.
const ENTRY_OVERHEAD: usize = 256;

pub struct StockCache {
    inner: Mutex<Inner>,
    capacity: usize,
    max_bytes: usize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub invalidations: AtomicU64,
}

impl Default for StockCache {
    /// 4,096 answers, 64 MiB.
    fn default() -> Self {
        Self::new(4096, 64 << 20)
    }
}

impl StockCache {
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `key`, or the loaded one (kept if no event
    /// touched its pantries meanwhile).
    pub async fn get_or_load<T, E, F>(
        &self,
        key: CacheKey,
        organization: &str,
        pantries: &[String],
        load: F,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + serde::Serialize + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let snapshot = {
            let inner = self.lock();
            if let Some(v) = inner
                .entries
                .get(&key)
                .and_then(|e| e.value.downcast_ref::<T>())
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(v.clone());
            }
            self.misses.fetch_add(1, Ordering::Relaxed);
            epochs(&inner, organization, pantries)
        };
        let value = load.await?;
        let bytes = weigh(&value)
            .saturating_add(ENTRY_OVERHEAD)
            .saturating_add(pantries.iter().map(String::len).sum::<usize>());
        // One answer may take at most an eighth of the budget.
        if bytes > self.max_bytes / 8 {
            return Ok(value);
        }
        let mut inner = self.lock();
        if epochs(&inner, organization, pantries) == snapshot {
            inner.remove(&key);
            if inner.entries.len() >= self.capacity || inner.bytes + bytes > self.max_bytes {
                // Full: start over rather than track recency; the hot
                // entries come straight back.
                *inner = Inner {
                    epochs: std::mem::take(&mut inner.epochs),
                    ..Inner::default()
                };
            }
            for p in pantries {
                inner.by_pantry.entry(p.clone()).or_default().insert(key);
            }
            inner
                .by_organization
                .entry(organization.to_string())
                .or_default()
                .insert(key);
            inner.bytes += bytes;
            inner.entries.insert(
                key,
                Entry {
                    value: Arc::new(value.clone()),
                    organization: organization.to_string(),
                    pantries: pantries.to_vec(),
                    bytes,
                },
            );
        }
        Ok(value)
    }

    /// Forgets every answer that covers the pantry.
    pub fn invalidate_pantry(&self, pantry: &str) {
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.bump(pantry);
        let keys: Vec<CacheKey> = inner
            .by_pantry
            .remove(pantry)
            .map(|k| k.into_iter().collect())
            .unwrap_or_default();
        for k in keys {
            inner.remove(&k);
        }
    }

    /// Forgets every answer about the organization (a catalog change).
    pub fn invalidate_organization(&self, organization: &str) {
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.bump(organization);
        let keys: Vec<CacheKey> = inner
            .by_organization
            .remove(organization)
            .map(|k| k.into_iter().collect())
            .unwrap_or_default();
        for k in keys {
            inner.remove(&k);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The bytes the cached answers take, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn epochs(inner: &Inner, organization: &str, pantries: &[String]) -> Vec<u64> {
    std::iter::once(inner.epoch(organization))
        .chain(pantries.iter().map(|p| inner.epoch(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn hits_until_a_covered_pantry_changes() {
        let cache = StockCache::default();
        let pantries = vec!["p1".to_string(), "p2".to_string()];
        let load = |v: i64| async move { Ok::<_, ()>(v) };
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, load(1))),
            Ok(1)
        );
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, load(2))),
            Ok(1)
        );
        cache.invalidate_pantry("p3");
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, load(3))),
            Ok(1)
        );
        cache.invalidate_pantry("p2");
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, load(4))),
            Ok(4)
        );
        cache.invalidate_organization("o");
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, load(5))),
            Ok(5)
        );
        assert_eq!(cache.hits.load(Ordering::Relaxed), 2);
        assert_eq!(cache.misses.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn answers_are_bounded_in_bytes_and_keys_are_digests() {
        let cache = StockCache::new(1000, 64 * 1024);
        let pantries = vec!["p1".to_string()];
        // Each answer about 2 KB: the 64 KiB budget holds some, never all.
        let mut most = 0;
        for i in 0..200 {
            let long = format!("{i}:{}", "x".repeat(1 << 20));
            let answer = "y".repeat(2000);
            let got = block(
                cache.get_or_load(CacheKey::of(&long), "o", &pantries, async {
                    Ok::<_, ()>(answer.clone())
                }),
            );
            assert_eq!(got, Ok(answer));
            assert!(cache.bytes() <= 64 * 1024, "{} bytes held", cache.bytes());
            most = most.max(cache.len());
        }
        assert!(most > 10 && most < 200, "{most}");
        // An answer over an eighth of the budget is served, never kept.
        let huge = "z".repeat(9 * 1024);
        let before = cache.len();
        let got = block(
            cache.get_or_load(CacheKey::of("huge"), "o", &pantries, async {
                Ok::<_, ()>(huge.clone())
            }),
        );
        assert_eq!(got, Ok(huge));
        assert_eq!(cache.len(), before);
        cache.invalidate_pantry("p1");
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }

    #[test]
    fn an_answer_computed_across_an_invalidation_is_not_kept() {
        let cache = StockCache::default();
        let pantries = vec!["p1".to_string()];
        let stale = async {
            // The event lands while the query is running.
            cache.invalidate_pantry("p1");
            Ok::<_, ()>(1)
        };
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, stale)),
            Ok(1)
        );
        assert!(cache.is_empty());
        let fresh = async { Ok::<_, ()>(2) };
        assert_eq!(
            block(cache.get_or_load(CacheKey::of("k"), "o", &pantries, fresh)),
            Ok(2)
        );
        assert_eq!(cache.len(), 1);
    }
}
