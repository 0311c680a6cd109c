//! "Now", injectable: the service reads time through a `Clock`, so rules about retries,
//! leases, notice and expiry are tested at chosen instants instead of by sleeping.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Now as stored in TIMESTAMP columns: UTC, whole microseconds (what both backends keep).
    fn now_naive(&self) -> NaiveDateTime {
        naive(self.now())
    }
}

/// An instant as stored in TIMESTAMP columns: UTC, whole microseconds, the one precision both
/// backends keep (SQLite compares the text, so every row must be written alike).
pub fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

pub type SharedClock = Arc<dyn Clock>;

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until a test moves it.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(now)))
    }

    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = to;
        }
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|e| *e.into_inner())
    }
}
