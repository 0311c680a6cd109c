//! Access tokens: HS256 JWTs whose algorithm is pinned (a token naming another algorithm,
//! `none` included, is refused) and whose expiry is checked against the service's clock.

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, ErrorCode};
use crate::types::UserId;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The refresh-token family of the sign-in this token belongs to.
    pub sid: String,
}

impl Claims {
    pub fn user(&self) -> AppResult<UserId> {
        self.sub
            .parse()
            .map(UserId)
            .map_err(|_| AppError::unauthorized("访问令牌无效 (invalid access token)"))
    }
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl_secs: i64,
}

impl Keys {
    pub fn new(secret: &str, ttl_secs: i64) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the injectable clock, not the system time.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_secs,
        }
    }

    pub fn issue(&self, user: UserId, family: &str, now: DateTime<Utc>) -> AppResult<String> {
        let claims = Claims {
            sub: user.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl_secs,
            sid: family.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(AppError::internal)
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> AppResult<Claims> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::unauthorized("访问令牌无效 (invalid access token)"))?
            .claims;
        if claims.exp <= now.timestamp() {
            return Err(AppError::Unauthorized {
                code: ErrorCode::TokenExpired,
                message: "访问令牌已过期，请刷新或重新登录 (access token expired)".to_owned(),
            });
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expiry_and_algorithm_are_enforced() {
        let keys = Keys::new("k".repeat(40).as_str(), 900);
        let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 8, 0, 0).unwrap();
        let token = keys.issue(UserId(7), "fam", t0).unwrap();
        assert_eq!(keys.verify(&token, t0).unwrap().user().unwrap(), UserId(7));
        let late = t0 + chrono::Duration::seconds(900);
        assert!(keys.verify(&token, late).is_err());
        // Same claims, signed with HS512: refused although the key is right.
        let other = encode(
            &Header::new(Algorithm::HS512),
            &Claims {
                sub: "7".into(),
                iat: t0.timestamp(),
                exp: t0.timestamp() + 900,
                sid: "fam".into(),
            },
            &EncodingKey::from_secret("k".repeat(40).as_bytes()),
        )
        .unwrap();
        assert!(keys.verify(&other, t0).is_err());
        // An unsigned token.
        let parts: Vec<&str> = token.split('.').collect();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
        assert!(keys.verify(&none, t0).is_err());
        // Another key.
        assert!(Keys::new("x".repeat(40).as_str(), 900)
            .verify(&token, t0)
            .is_err());
    }
}
