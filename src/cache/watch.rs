//! Several instances on one database: each change to cached data moves a counter in the same
//! transaction ([`changed`]), and every instance polls the counters ([`Watch::poll`], the job
//! `cache_watch` every `catalogue.changes_poll_ms`), making stale what it computed before.
//! So an edit made through one instance is served by the others within one poll interval
//! after it commits (the instance that made it drops its own copies at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::store;
use crate::db::DbConnection;
use crate::error::AppResult;

/// What a counter covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Sub-platforms, units and instruments: the catalogue's counts and list totals.
    Catalogue,
    /// Instruments' booking settings.
    BookingRules,
    /// Ratings: the instruments' rating summaries.
    Ratings,
    /// Service records, reductions, redeemed vouchers: the platform statistics.
    Usage,
}

impl Topic {
    fn name(self) -> &'static str {
        match self {
            Topic::Catalogue => "catalogue",
            Topic::BookingRules => "booking_rules",
            Topic::Ratings => "ratings",
            Topic::Usage => "usage",
        }
    }
}

/// Records, inside the transaction that changed `topic`'s data, that it changed.
pub fn changed(conn: &mut DbConnection, topic: Topic) -> AppResult<()> {
    Ok(store::bump(conn, topic.name())?)
}

type Invalidate = Box<dyn Fn() + Send + Sync>;

/// This instance's caches by topic, and the counters as last read. Cloning shares it.
#[derive(Clone, Default)]
pub struct Watch {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    caches: Vec<(Topic, Invalidate)>,
    seen: HashMap<String, i64>,
    polled: bool,
}

impl Watch {
    /// Runs `invalidate` whenever `topic`'s counter moves.
    pub fn on(&self, topic: Topic, invalidate: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.caches.push((topic, Box::new(invalidate)));
        }
    }

    /// Reads the counters and makes stale the caches of each topic whose counter moved since
    /// the last poll (at the first, all of them: a change may have come before it). Returns
    /// how many topics moved.
    pub fn poll(&self, conn: &mut DbConnection) -> AppResult<usize> {
        let now = store::versions(conn)?;
        let Ok(mut inner) = self.inner.lock() else {
            return Ok(0);
        };
        let first = !std::mem::replace(&mut inner.polled, true);
        let mut moved = 0;
        for (name, version) in now {
            if inner.seen.insert(name.clone(), version) == Some(version) || first {
                continue;
            }
            moved += 1;
            for (topic, invalidate) in &inner.caches {
                if topic.name() == name {
                    invalidate();
                }
            }
        }
        if first {
            for (_, invalidate) in &inner.caches {
                invalidate();
            }
        }
        Ok(moved)
    }
}
