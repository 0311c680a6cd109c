//! Attempts counted per key in fixed windows; past a limit, 429 with Retry-After. The windows
//! live in the database (`rate_limits`, keyed by a SHA-256 of what is counted, so an address of
//! any length fits), so every instance on one database counts against the same limit; the job
//! `sweep_rate_limits` deletes the windows that ran out.
//! - Sign-in failures, per account and per client address.
//! - Requests that send an e-mail to an address typed by the caller (registration, password
//!   reset, a new verification link), per target address and per client address, so nobody
//!   can use the platform to bomb a mailbox. The count and the answer are the same whether or
//!   not the address has an account.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::store;
use crate::clock::naive;
use crate::db::{self, DbConnection};
use crate::error::{AppError, AppResult};

/// Keys and their limits, counted in windows of one length.
struct Windows {
    length: Duration,
}

impl Windows {
    fn new(window_secs: i64) -> Windows {
        Windows {
            length: Duration::seconds(window_secs.max(1)),
        }
    }

    /// The 429 for the first key at or past its limit, if any, among the open windows.
    fn over(
        conn: &mut DbConnection,
        keys: &[(String, u32)],
        now: DateTime<Utc>,
        over: impl Fn(i32, u32) -> bool,
    ) -> AppResult<()> {
        let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        let open = store::open_windows(conn, &names, naive(now))?;
        for (key, limit) in keys {
            if let Some((_, attempts, ends)) = open.iter().find(|(k, _, _)| k == key) {
                if over(*attempts, *limit) {
                    return Err(too_many(*ends, now));
                }
            }
        }
        Ok(())
    }

    /// Counts one attempt against every key, inside the caller's transaction (always the
    /// account's key first, so two transactions lock them in one order).
    fn count(
        &self,
        conn: &mut DbConnection,
        keys: &[(String, u32)],
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        for (key, _) in keys {
            store::count_attempt(conn, key, naive(now), naive(now + self.length))?;
        }
        Ok(())
    }
}

fn too_many(ends: NaiveDateTime, now: DateTime<Utc>) -> AppError {
    AppError::TooManyRequests {
        retry_after_secs: (ends.and_utc() - now).num_seconds().max(1) as u64,
    }
}

fn account_key(kind: &str, email: &str) -> String {
    super::tokens::hash(&format!("{kind}:a:{}", email.trim().to_lowercase()))
}

fn address_key(kind: &str, address: &str) -> String {
    super::tokens::hash(&format!("{kind}:ip:{address}"))
}

/// Windows deleted per statement by [`sweep`].
const SWEEP_BATCH: i64 = 1_000;

/// Deletes the windows that ran out by `now`, a batch per transaction (the job
/// `sweep_rate_limits`); returns how many.
pub fn sweep(conn: &mut DbConnection, now: DateTime<Utc>) -> AppResult<usize> {
    let mut swept = 0;
    // Bounded: a flood that outruns the sweep is finished at the next run.
    for _ in 0..100 {
        let n = db::write_tx(conn, |c| store::sweep_windows(c, naive(now), SWEEP_BATCH))?;
        swept += n;
        if (n as i64) < SWEEP_BATCH {
            break;
        }
    }
    Ok(swept)
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
            (account_key("signin", email), self.per_account),
            (address_key("signin", address), self.per_address),
        ]
    }

    /// Refuses an attempt while the account or the address is at its limit of failures.
    pub fn check(
        &self,
        conn: &mut DbConnection,
        email: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        Windows::over(conn, &self.keys(email, address), now, |n, limit| {
            n >= limit as i32
        })
    }

    pub fn failed(
        &self,
        conn: &mut DbConnection,
        email: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let keys = self.keys(email, address);
        db::write_tx(conn, |conn| self.windows.count(conn, &keys, now))
    }

    /// A correct password clears the account's count (not the address's).
    pub fn succeeded(&self, conn: &mut DbConnection, email: &str) -> AppResult<()> {
        store::forget_window(conn, &account_key("signin", email))?;
        Ok(())
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
    /// limit. The count comes first and a refusal rolls it back, so two instances counting
    /// the same key at once are ordered by its row lock and a refused request is not counted.
    pub fn hit(
        &self,
        conn: &mut DbConnection,
        email: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        let keys = [
            (account_key("mail", email), self.per_email),
            (address_key("mail", address), self.per_address),
        ];
        db::write_tx(conn, |conn| {
            self.windows.count(conn, &keys, now)?;
            Windows::over(conn, &keys, now, |n, limit| n > limit as i32)
        })
    }
}
