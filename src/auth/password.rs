//! Password hashing with argon2id (the crate's defaults: m = 19 MiB, t = 2, p = 1, as OWASP
//! recommends) and the rules a new password must meet.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;

use crate::error::{AppError, AppResult};

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

/// Checks a new password; `field` names it in the problem.
pub fn check_new(field: &str, password: &str, email: &str) -> AppResult<()> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(AppError::invalid(
            field,
            format!("密码至少 {MIN_LEN} 个字符 (a password has at least {MIN_LEN} characters)"),
        ));
    }
    if len > MAX_LEN {
        return Err(AppError::invalid(
            field,
            format!("密码最多 {MAX_LEN} 个字符"),
        ));
    }
    if password.eq_ignore_ascii_case(email) {
        return Err(AppError::invalid(field, "密码不能与邮箱相同"));
    }
    Ok(())
}

pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time a real check would when the account does not exist, so the answer's
/// timing does not tell whether an e-mail is registered.
pub fn verify_nobody(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not-a-real-password").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_salted() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn new_passwords_have_rules() {
        assert!(check_new("password", "short", "a@b.cn").is_err());
        assert!(check_new("password", "a@b.cn.long-enough", "a@b.cn.long-enough").is_err());
        assert!(check_new("password", "长白山天池的水很清澈", "a@b.cn").is_ok());
    }
}
