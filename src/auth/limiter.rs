//! Attempts counted per key in fixed windows; past a limit, 429 with Retry-After. Kept in
//! memory: each instance counts its own, which bounds a client to (limit × instances) tries
//! per window.
//! - Sign-in failures, per account and per client address.
//! - Requests that send an e-mail to an address typed by the caller (registration, password
//!   reset, a new verification link), per target address and per client address, so nobody
//!   can use the platform to bomb a mailbox. The count and the answer are the same whether or
//!   not the address has an account.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::error::{AppError, AppResult};

#[derive(Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    count: u32,
}

/// Beyond this many tracked keys, expired windows are swept.
const SWEEP_AT: usize = 10_000;

/// Counts per key in fixed windows of one length.
struct Windows {
    map: Mutex<HashMap<String, Window>>,
    length: Duration,
}

impl Windows {
    fn new(window_secs: i64) -> Windows {
        Windows {
            map: Mutex::new(HashMap::new()),
            length: Duration::seconds(window_secs.max(1)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The 429 for the first key at its limit, if any.
    fn over(
        &self,
        map: &HashMap<String, Window>,
        keys: &[(String, u32)],
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        for (key, limit) in keys {
            if let Some(w) = map.get(key) {
                let ends = w.started + self.length;
                if ends > now && w.count >= *limit {
                    return Err(AppError::TooManyRequests {
                        retry_after_secs: (ends - now).num_seconds().max(1) as u64,
                    });
                }
            }
        }
        Ok(())
    }

    fn count(&self, map: &mut HashMap<String, Window>, keys: &[(String, u32)], now: DateTime<Utc>) {
        if map.len() > SWEEP_AT {
            let length = self.length;
            map.retain(|_, w| w.started + length > now);
        }
        for (key, _) in keys {
            let w = map.entry(key.clone()).or_insert(Window {
                started: now,
                count: 0,
            });
            if w.started + self.length <= now {
                *w = Window {
                    started: now,
                    count: 0,
                };
            }
            w.count += 1;
        }
    }
}

fn account_key(email: &str) -> String {
    format!("a:{}", email.trim().to_lowercase())
}

pub struct LoginLimiter {
    windows: Windows,
    per_account: u32,
    per_address: u32,
}

impl LoginLimiter {
    pub fn new(per_account: u32, per_address: u32, window_secs: i64) -> LoginLimiter {
        LoginLimiter {
            windows: Windows::new(window_secs),
            per_account,
            per_address,
        }
    }

    fn keys(&self, email: &str, address: &str) -> [(String, u32); 2] {
        [
            (account_key(email), self.per_account),
            (format!("ip:{address}"), self.per_address),
        ]
    }

    /// Refuses an attempt while the account or the address is over its limit.
    pub fn check(&self, email: &str, address: &str, now: DateTime<Utc>) -> AppResult<()> {
        let map = self.windows.lock();
        self.windows.over(&map, &self.keys(email, address), now)
    }

    pub fn failed(&self, email: &str, address: &str, now: DateTime<Utc>) {
        let mut map = self.windows.lock();
        self.windows
            .count(&mut map, &self.keys(email, address), now);
    }

    /// A correct password clears the account's count (not the address's).
    pub fn succeeded(&self, email: &str) {
        self.windows.lock().remove(&account_key(email));
    }
}

pub struct MailLimiter {
    windows: Windows,
    per_email: u32,
    per_address: u32,
}

impl MailLimiter {
    pub fn new(per_email: u32, per_address: u32, window_secs: i64) -> MailLimiter {
        MailLimiter {
            windows: Windows::new(window_secs),
            per_email,
            per_address,
        }
    }

    /// Counts a request that would e-mail `email`, from `address`; refuses it past either
    /// limit (the refused request is not counted, so a flood does not extend the wait).
    pub fn hit(&self, email: &str, address: &str, now: DateTime<Utc>) -> AppResult<()> {
        let keys = [
            (account_key(email), self.per_email),
            (format!("ip:{address}"), self.per_address),
        ];
        let mut map = self.windows.lock();
        self.windows.over(&map, &keys, now)?;
        self.windows.count(&mut map, &keys, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_is_limited_per_target_and_per_client() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let l = MailLimiter::new(2, 3, 600);
        assert!(l.hit("a@x.cn", "1.1.1.1", t0).is_ok());
        assert!(l.hit("A@x.cn ", "2.2.2.2", t0).is_ok());
        // The third message to one address, from anywhere, waits for the window.
        let err = l.hit("a@x.cn", "3.3.3.3", t0).unwrap_err();
        assert!(matches!(
            err,
            AppError::TooManyRequests {
                retry_after_secs: 600
            }
        ));
        // One client spreading over addresses is stopped too.
        assert!(l.hit("b@x.cn", "1.1.1.1", t0).is_ok());
        assert!(l.hit("c@x.cn", "1.1.1.1", t0).is_ok());
        assert!(l.hit("d@x.cn", "1.1.1.1", t0).is_err());
        // A new window starts afresh.
        assert!(l
            .hit("a@x.cn", "1.1.1.1", t0 + Duration::seconds(600))
            .is_ok());
    }
}
