//! The in-process cache for hot stock queries.
//!
//! Each entry records the organization and the pantries its answer covers.
//! Events invalidate by pantry (a movement) or by organization (a catalog
//! change). A per-pantry and per-organization epoch closes the race where a
//! query reads the database, an event lands and invalidates, and only then
//! the stale answer is stored: an answer is kept only if none of the epochs
//! it depends on moved while it was being computed.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    value: Value,
    organization: String,
    pantries: Vec<String>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    by_pantry: HashMap<String, HashSet<String>>,
    by_organization: HashMap<String, HashSet<String>>,
    epochs: HashMap<String, u64>,
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
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

pub struct StockCache {
    inner: Mutex<Inner>,
    capacity: usize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub invalidations: AtomicU64,
}

impl Default for StockCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl StockCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
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
        key: String,
        organization: &str,
        pantries: &[String],
        load: F,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
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
        let mut inner = self.lock();
        if epochs(&inner, organization, pantries) == snapshot {
            if inner.entries.len() >= self.capacity {
                // Full: start over rather than track recency; the hot
                // entries come straight back.
                *inner = Inner {
                    epochs: std::mem::take(&mut inner.epochs),
                    ..Inner::default()
                };
            }
            inner.remove(&key);
            for p in pantries {
                inner
                    .by_pantry
                    .entry(p.clone())
                    .or_default()
                    .insert(key.clone());
            }
            inner
                .by_organization
                .entry(organization.to_string())
                .or_default()
                .insert(key.clone());
            inner.entries.insert(
                key,
                Entry {
                    value: Arc::new(value.clone()),
                    organization: organization.to_string(),
                    pantries: pantries.to_vec(),
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
        let keys: Vec<String> = inner
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
        let keys: Vec<String> = inner
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
            block(cache.get_or_load("k".into(), "o", &pantries, load(1))),
            Ok(1)
        );
        assert_eq!(
            block(cache.get_or_load("k".into(), "o", &pantries, load(2))),
            Ok(1)
        );
        cache.invalidate_pantry("p3");
        assert_eq!(
            block(cache.get_or_load("k".into(), "o", &pantries, load(3))),
            Ok(1)
        );
        cache.invalidate_pantry("p2");
        assert_eq!(
            block(cache.get_or_load("k".into(), "o", &pantries, load(4))),
            Ok(4)
        );
        cache.invalidate_organization("o");
        assert_eq!(
            block(cache.get_or_load("k".into(), "o", &pantries, load(5))),
            Ok(5)
        );
        assert_eq!(cache.hits.load(Ordering::Relaxed), 2);
        assert_eq!(cache.misses.load(Ordering::Relaxed), 3);
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
            block(cache.get_or_load("k".into(), "o", &pantries, stale)),
            Ok(1)
        );
        assert!(cache.is_empty());
        let fresh = async { Ok::<_, ()>(2) };
        assert_eq!(
            block(cache.get_or_load("k".into(), "o", &pantries, fresh)),
            Ok(2)
        );
        assert_eq!(cache.len(), 1);
    }
}
