//! The one cache type, for figures that are dear to compute and may be a little old: the
//! catalogue's counts, the totals of filtered lists, instruments' booking rules, the platform
//! statistics.
//!
//! A value is *fresh* for `ttl` after it was computed, unless the service that changes its data
//! called [`Cache::invalidate`] (or [`Cache::forget`]) since, or the caller's `version` of the
//! underlying data moved on. Other instances' changes reach it through [`Watch`], within one
//! poll of the counters (or when the ttl runs out, if the watch is off). A value that
//! is no longer fresh is still served while one caller recomputes it, so a burst of requests
//! never piles onto the database at once: [`Cache::get_or_compute`].

mod store;
pub mod watch;

pub use watch::{changed, Topic, Watch};

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use crate::error::AppResult;

struct Entry<V> {
    at: DateTime<Utc>,
    /// The cache's generation and the caller's version when the value was computed.
    generation: u64,
    version: u64,
    value: V,
}

struct Inner<K, V> {
    ttl: chrono::Duration,
    /// The service's clock, so that tests choose when a value ages.
    clock: SharedClock,
    max_entries: usize,
    entries: Mutex<HashMap<K, Entry<V>>>,
    generation: AtomicU64,
    /// Held by the one caller (or task) recomputing a value.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

/// See the module. Cloning shares the cache.
pub struct Cache<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

/// What the cache holds for a key.
enum Lookup<V> {
    Fresh(V),
    /// Older than the ttl, nothing known to have changed.
    Aged(V),
    /// Computed before a change; None if never computed.
    Stale(Option<V>),
}

impl<K, V> Cache<K, V>
where
    K: Eq + Hash + Clone + 'static,
    V: Clone + 'static,
{
    /// Past `max_entries` keys the map starts afresh (hot keys return at once).
    pub fn new(ttl: Duration, max_entries: usize, clock: SharedClock) -> Cache<K, V> {
        Cache {
            inner: Arc::new(Inner {
                ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::zero()),
                clock,
                max_entries,
                entries: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
                refresh: Arc::new(tokio::sync::Mutex::new(())),
            }),
        }
    }

    fn lookup(&self, key: &K, version: u64) -> Lookup<V> {
        let Ok(entries) = self.inner.entries.lock() else {
            return Lookup::Stale(None);
        };
        let generation = self.inner.generation.load(Ordering::SeqCst);
        match entries.get(key) {
            None => Lookup::Stale(None),
            Some(e) if e.generation != generation || e.version != version => {
                Lookup::Stale(Some(e.value.clone()))
            }
            // Aged past the ttl, or the clock went back since: recompute.
            Some(e)
                if !(chrono::Duration::zero()..self.inner.ttl)
                    .contains(&(self.inner.clock.now() - e.at)) =>
            {
                Lookup::Aged(e.value.clone())
            }
            Some(e) => Lookup::Fresh(e.value.clone()),
        }
    }

    /// The value for `key` if it is fresh.
    pub fn fresh(&self, key: &K) -> Option<V> {
        match self.lookup(key, 0) {
            Lookup::Fresh(v) => Some(v),
            _ => None,
        }
    }

    /// The cache's generation now: read it before computing a value for [`Cache::put_computed`].
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Keeps `value`, computed when the cache was at `generation` (read before computing, so
    /// that a change made meanwhile leaves it stale).
    fn store(&self, key: K, value: V, generation: u64, version: u64) {
        if let Ok(mut entries) = self.inner.entries.lock() {
            if entries.len() >= self.inner.max_entries {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    at: self.inner.clock.now(),
                    generation,
                    version,
                    value,
                },
            );
        }
    }

    /// Keeps `value`, computed after [`Cache::generation`] returned `generation`: a change
    /// made while it was computed leaves it stale.
    pub fn put_computed(&self, key: K, value: V, generation: u64) {
        self.store(key, value, generation, 0);
    }

    /// Forgets one key (its data changed here). The generation moves on too, so that a value
    /// for it computed before the change and kept after it is not taken as fresh.
    pub fn forget(&self, key: &K) {
        if let Ok(mut entries) = self.inner.entries.lock() {
            entries.remove(key);
        }
        self.invalidate();
    }

    /// Makes every value stale (the data changed here); they are still served while recomputed.
    pub fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The value for `key` at the caller's `version` of the data (0 when it has none).
    /// Fresh: returned. Aged: returned, while one background task recomputes it. Stale: this
    /// caller recomputes it, unless another already does, in which case the previous value is
    /// returned. Never computed: computed by one caller while the others wait for it.
    pub async fn get_or_compute<F, Fut>(&self, key: K, version: u64, compute: F) -> AppResult<V>
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = AppResult<V>> + 'static,
    {
        // A ttl of zero turns caching off.
        if self.inner.ttl <= chrono::Duration::zero() {
            return compute().await;
        }
        let previous = match self.lookup(&key, version) {
            Lookup::Fresh(hit) => return Ok(hit),
            Lookup::Aged(hit) => {
                if let Ok(guard) = self.inner.refresh.clone().try_lock_owned() {
                    let cache = self.clone();
                    actix_web::rt::spawn(async move {
                        let generation = cache.inner.generation.load(Ordering::SeqCst);
                        match compute().await {
                            Ok(value) => cache.store(key, value, generation, version),
                            Err(e) => {
                                tracing::warn!(error = %e, "refreshing a cached value failed")
                            }
                        }
                        drop(guard);
                    });
                }
                return Ok(hit);
            }
            Lookup::Stale(previous) => previous,
        };
        let _guard = match (self.inner.refresh.try_lock(), previous) {
            (Ok(guard), _) => guard,
            (Err(_), Some(previous)) => return Ok(previous),
            (Err(_), None) => self.inner.refresh.lock().await,
        };
        // Computed meanwhile by the caller this one waited for.
        if let Lookup::Fresh(hit) = self.lookup(&key, version) {
            return Ok(hit);
        }
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let value = compute().await?;
        self.store(key, value.clone(), generation, version);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counting() -> (
        Arc<AtomicUsize>,
        impl Fn() -> std::future::Ready<AppResult<usize>>,
    ) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        (calls, move || {
            std::future::ready(Ok(c.fetch_add(1, Ordering::SeqCst) + 1))
        })
    }

    #[actix_web::test]
    async fn a_fresh_value_is_served_until_its_data_changes() {
        let cache: Cache<&str, usize> =
            Cache::new(Duration::from_secs(60), 10, crate::clock::system());
        let (calls, compute) = counting();
        let compute = Arc::new(compute);
        let f = || {
            let c = compute.clone();
            move || c()
        };
        assert_eq!(cache.get_or_compute("k", 0, f()).await.unwrap(), 1);
        assert_eq!(cache.get_or_compute("k", 0, f()).await.unwrap(), 1);
        cache.invalidate();
        assert_eq!(cache.get_or_compute("k", 0, f()).await.unwrap(), 2);
        // The caller's version of the data moved on.
        assert_eq!(cache.get_or_compute("k", 7, f()).await.unwrap(), 3);
        assert_eq!(cache.get_or_compute("k", 7, f()).await.unwrap(), 3);
        cache.forget(&"k");
        assert_eq!(cache.fresh(&"k"), None);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[actix_web::test]
    async fn a_stale_value_is_served_while_another_caller_recomputes() {
        let cache: Cache<&str, usize> =
            Cache::new(Duration::from_secs(60), 10, crate::clock::system());
        cache.put_computed("k", 1, cache.generation());
        cache.invalidate();
        let busy = cache.inner.refresh.clone().try_lock_owned().unwrap();
        let served = cache
            .get_or_compute("k", 0, || std::future::ready(Ok(2)))
            .await
            .unwrap();
        assert_eq!(served, 1, "the previous value, not a wait");
        drop(busy);
        let served = cache
            .get_or_compute("k", 0, || std::future::ready(Ok(2)))
            .await
            .unwrap();
        assert_eq!(served, 2);
    }

    #[actix_web::test]
    async fn a_zero_ttl_caches_nothing_and_a_clock_gone_back_ages_a_value() {
        use chrono::TimeZone;
        let t0 = Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).unwrap();
        let clock = crate::clock::ManualClock::at(t0);
        let off: Cache<&str, usize> = Cache::new(Duration::ZERO, 10, clock.clone());
        let (calls, compute) = counting();
        let compute = Arc::new(compute);
        for _ in 0..2 {
            let c = compute.clone();
            off.get_or_compute("k", 0, move || c()).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let cache: Cache<&str, usize> = Cache::new(Duration::from_secs(60), 10, clock.clone());
        cache.put_computed("k", 1, cache.generation());
        assert_eq!(cache.fresh(&"k"), Some(1));
        clock.set(t0 - chrono::Duration::seconds(5));
        assert_eq!(
            cache.fresh(&"k"),
            None,
            "computed in what is now the future"
        );
    }

    #[test]
    fn the_map_starts_afresh_past_its_size() {
        let cache: Cache<u32, u32> = Cache::new(Duration::from_secs(60), 2, crate::clock::system());
        for k in 1..=3 {
            cache.put_computed(k, k, cache.generation());
        }
        assert_eq!(cache.fresh(&1), None);
        assert_eq!(cache.fresh(&3), Some(3));
    }
}
