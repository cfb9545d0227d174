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
//!
//! The memory itself is a [`Recent`] (a `moka` cache with a generation);
//! what this adds is the session's expiry, read against Larder's
//! [`crate::clock::Clock`] so tests can move it.

use std::time::Duration;

use super::service::Caller;
use crate::recent::Recent;

#[derive(Clone)]
struct Session {
    caller: Caller,
    /// The session's expiry, in ms since the epoch.
    expires_at: i64,
}

pub struct CallerCache {
    sessions: Recent<Session>,
    /// The other replicas, told through Redis when one is configured.
    peers: std::sync::OnceLock<std::sync::Weak<crate::cluster::Cluster>>,
}

impl CallerCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            sessions: Recent::new(ttl),
            peers: Default::default(),
        }
    }

    /// The generation to hand back to [`CallerCache::keep`] after loading.
    pub fn generation(&self) -> u64 {
        self.sessions.generation()
    }

    /// The caller for a token hash, if known, fresh and unexpired at
    /// `now_ms`.
    pub fn get(&self, token_hash: &str, now_ms: i64) -> Option<Caller> {
        self.sessions
            .get_where(token_hash, |s| s.expires_at > now_ms)
            .map(|s| s.caller)
    }

    /// Keeps a caller loaded while the cache was at `generation`; nothing
    /// is kept if something changed since.
    pub fn keep(&self, token_hash: &str, caller: &Caller, expires_at: i64, generation: u64) {
        let session = Session {
            caller: caller.clone(),
            expires_at,
        };
        self.sessions.keep(token_hash, &session, generation);
    }

    /// Tells the other replicas whenever this one forgets.
    pub fn share_with(&self, cluster: &std::sync::Arc<crate::cluster::Cluster>) {
        let _ = self.peers.set(std::sync::Arc::downgrade(cluster));
    }

    fn tell_peers(&self, what: crate::cluster::Forget) {
        if let Some(cluster) = self.peers.get().and_then(std::sync::Weak::upgrade) {
            cluster.forget(what);
        }
    }

    /// Forgets one session (signed out or expired), here and on every
    /// replica.
    pub fn forget(&self, token_hash: &str) {
        self.forget_here(token_hash);
        self.tell_peers(crate::cluster::Forget::Session(token_hash.to_string()));
    }

    /// Forgets everyone (memberships or organizations changed), here and
    /// on every replica.
    pub fn forget_all(&self) {
        self.forget_all_here();
        self.tell_peers(crate::cluster::Forget::Everyone);
    }

    /// Forgets one session in this replica only.
    pub fn forget_here(&self, token_hash: &str) {
        self.sessions.forget(token_hash);
    }

    /// Forgets everyone in this replica only.
    pub fn forget_all_here(&self) {
        self.sessions.forget_all();
    }

    /// (hits, misses) since start.
    pub fn counts(&self) -> (u64, u64) {
        self.sessions.counts()
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
                id: UserId::from_stored(name.into()),
                email: format!("{name}@example.org"),
                display_name: name.into(),
                is_site_admin: false,
            },
            grants: Vec::new(),
            key: None,
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
        let g = cache.generation();
        cache.forget("t1");
        cache.keep("t1", &caller("ann"), i64::MAX, g);
        assert!(cache.get("t1", 0).is_none());
    }

    #[test]
    fn signing_out_forgets_only_that_session() {
        let cache = CallerCache::new(Duration::from_secs(60));
        cache.keep("t1", &caller("ann"), i64::MAX, cache.generation());
        cache.keep("t2", &caller("bob"), i64::MAX, cache.generation());
        cache.forget("t1");
        assert!(cache.get("t1", 0).is_none());
        assert_eq!(cache.get("t2", 0).unwrap().me.display_name, "bob");
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
        let short = CallerCache::new(Duration::from_millis(5));
        short.keep("t1", &caller("ann"), i64::MAX, short.generation());
        std::thread::sleep(Duration::from_millis(20));
        assert!(short.get("t1", 0).is_none());
    }
}
