//! The one error type of the HTTP layer, rendered as RFC 9457 `application/problem+json`
//! with a stable `code`. Stores return `diesel::result::Error`; services and handlers turn it
//! into `AppError` through `From`, which decides what a client may see: never SQL or internals.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A query parameter or field that cannot be understood.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// Well-formed input that breaks a rule.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Well-formed input that breaks a named business rule (a booking rule, say): 422 with the
    /// rule's own code.
    #[error("{field}: {message}")]
    Rule {
        code: &'static str,
        field: String,
        message: String,
    },
    /// No valid credentials: sign in (again).
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Signed in, but this action is not the caller's to take.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The path exists, but not for this method; `allow` lists the ones it takes.
    #[error("this address takes {allow} only")]
    MethodNotAllowed { allow: String },
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// The database is busy or unreachable; the client may retry.
    #[error("service temporarily unavailable")]
    Unavailable { retry_after_secs: u32 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn rule(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Rule {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        AppError::Unauthorized {
            code: "unauthorized",
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound { .. } => "not_found",
            AppError::BadRequest { .. } => "bad_request",
            AppError::Invalid { .. } => "validation_failed",
            AppError::Conflict { code, .. }
            | AppError::Rule { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Forbidden { code, .. } => code,
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::NotFound { .. } => "未找到 Not found",
            AppError::BadRequest { .. } => "请求参数有误 Bad request",
            AppError::Invalid { .. } => "输入不符合要求 Validation failed",
            AppError::Rule { .. } => "不符合预约规则 Against the rules",
            AppError::Conflict { .. } => "与现有数据冲突 Conflict",
            AppError::Unauthorized { .. } => "请先登录 Sign-in required",
            AppError::Forbidden { .. } => "无权执行此操作 Forbidden",
            AppError::MethodNotAllowed { .. } => "不支持此请求方法 Method not allowed",
            AppError::PayloadTooLarge { .. } => "请求内容过大 Payload too large",
            AppError::TooManyRequests { .. } => "尝试次数过多 Too many attempts",
            AppError::Unavailable { .. } => "服务暂时不可用 Service unavailable",
            AppError::Internal(_) => "服务器内部错误 Internal error",
        }
    }

    /// Problem details as sent to the client.
    pub fn problem(&self) -> Problem {
        let field = match self {
            AppError::BadRequest { field, .. }
            | AppError::Invalid { field, .. }
            | AppError::Rule { field, .. } => Some(field.clone()),
            _ => None,
        };
        Problem {
            kind: "about:blank",
            title: self.title(),
            status: self.status_code().as_u16(),
            code: self.code(),
            detail: self.to_string(),
            field,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } | AppError::Rule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(err) = self {
            // The cause goes to the log (with the request id of the current span), not to the client.
            tracing::error!(error = ?err, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let AppError::Unavailable { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let AppError::TooManyRequests { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let AppError::MethodNotAllowed { allow } = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if let AppError::Unauthorized { .. } = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(self.problem())
    }
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::NotFound => AppError::NotFound { what: "record" },
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::Conflict {
                    code: "already_exists",
                    message: "a record with the same unique value already exists".to_owned(),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::Conflict {
                    code: "reference_conflict",
                    message: "the record refers to, or is referred to by, another record"
                        .to_owned(),
                }
            }
            // Services validate before writing; a CHECK or NOT NULL that still fires is bad
            // input all the same, and must not become a 500.
            DieselError::DatabaseError(
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation,
                info,
            ) => AppError::Invalid {
                field: info
                    .column_name()
                    .or(info.constraint_name())
                    .unwrap_or("record")
                    .to_owned(),
                message: "a value is missing, too long or out of range".to_owned(),
            },
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                AppError::Unavailable {
                    retry_after_secs: 1,
                }
            }
            // Text is checked for NUL at the door (`http::input`); should one still reach
            // PostgreSQL, which cannot store it, it is bad input, not a server error.
            DieselError::DatabaseError(_, info)
                if info
                    .message()
                    .contains("invalid byte sequence for encoding") =>
            {
                AppError::bad_request("text", "文本含有 NUL 字符 (text contains a NUL character)")
            }
            // SQLite reports lock contention past busy_timeout as an unknown error.
            DieselError::DatabaseError(_, info)
                if info.message().contains("database is locked") =>
            {
                AppError::Unavailable {
                    retry_after_secs: 1,
                }
            }
            _ => AppError::Internal(err.into()),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> Self {
        tracing::warn!(error = %err, "no database connection available");
        AppError::Unavailable {
            retry_after_secs: 2,
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        AppError::internal(anyhow::anyhow!("blocking task failed: {err}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::internal(err)
    }
}

pub type AppResult<T> = Result<T, AppError>;
