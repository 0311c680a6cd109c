//! Sign-in failures counted per account and per client address in a fixed window; past the
//! limit, 429 with Retry-After. Kept in memory: each instance counts its own, which bounds a
//! guesser to (limit × instances) tries per window.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::error::{AppError, AppResult};

pub struct LoginLimiter {
    windows: Mutex<HashMap<String, Window>>,
    per_account: u32,
    per_address: u32,
    window: Duration,
}

#[derive(Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    failures: u32,
}

/// Beyond this many tracked keys, expired windows are swept.
const SWEEP_AT: usize = 10_000;

impl LoginLimiter {
    pub fn new(per_account: u32, per_address: u32, window_secs: i64) -> LoginLimiter {
        LoginLimiter {
            windows: Mutex::new(HashMap::new()),
            per_account,
            per_address,
            window: Duration::seconds(window_secs.max(1)),
        }
    }

    fn keys(email: &str, address: &str) -> [(String, bool); 2] {
        [
            (format!("a:{}", email.trim().to_lowercase()), true),
            (format!("ip:{address}"), false),
        ]
    }

    /// Refuses an attempt while the account or the address is over its limit.
    pub fn check(&self, email: &str, address: &str, now: DateTime<Utc>) -> AppResult<()> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (key, is_account) in Self::keys(email, address) {
            let limit = if is_account {
                self.per_account
            } else {
                self.per_address
            };
            if let Some(w) = windows.get(&key) {
                let ends = w.started + self.window;
                if ends > now && w.failures >= limit {
                    return Err(AppError::TooManyRequests {
                        retry_after_secs: (ends - now).num_seconds().max(1) as u64,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn failed(&self, email: &str, address: &str, now: DateTime<Utc>) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > SWEEP_AT {
            let window = self.window;
            windows.retain(|_, w| w.started + window > now);
        }
        for (key, _) in Self::keys(email, address) {
            let w = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if w.started + self.window <= now {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        }
    }

    /// A correct password clears the account's count (not the address's).
    pub fn succeeded(&self, email: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.remove(&format!("a:{}", email.trim().to_lowercase()));
    }
}
