//! The one error type of the HTTP layer, rendered as RFC 9457 `application/problem+json`
//! with a stable `code`. Stores return `diesel::result::Error`; services and handlers turn it
//! into `AppError` through `From`, which decides what a client may see: never SQL or internals.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

macro_rules! error_codes {
    ($($variant:ident = $code:literal / [$($status:literal),+] / $doc:literal,)+) => {
        /// The stable codes a client switches on (`code` in every problem document), each with
        /// the statuses it comes with. The one list: the API document shows it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum ErrorCode {
            $(#[serde(rename = $code)] $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            pub fn statuses(self) -> &'static [u16] {
                match self { $(ErrorCode::$variant => &[$($status),+],)+ }
            }

            fn doc(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)+ }
            }
        }
    };
}

error_codes! {
    NotFound = "not_found" / [404] / "the resource does not exist (or is not yours to see)",
    BadRequest = "bad_request" / [400] / "a parameter or field cannot be read; `field` names it",
    ValidationFailed = "validation_failed" / [422] / "a field breaks a rule of its own (length, range, choice); `field` names it",
    MethodNotAllowed = "method_not_allowed" / [405] / "the path does not take this method; `Allow` lists those it takes",
    PayloadTooLarge = "payload_too_large" / [413] / "the body is larger than the route takes",
    RateLimited = "rate_limited" / [429] / "too many attempts; `Retry-After` says when to try again",
    Unavailable = "unavailable" / [503] / "the database is busy or unreachable; retry after `Retry-After`",
    InternalError = "internal_error" / [500] / "a fault of the service, logged with the request id",
    Unauthorized = "unauthorized" / [401] / "no or bad credentials: sign in",
    InvalidCredentials = "invalid_credentials" / [401] / "wrong e-mail address or password",
    InvalidRefreshToken = "invalid_refresh_token" / [401] / "the refresh token is unknown or expired",
    RefreshTokenReused = "refresh_token_reused" / [401] / "a rotated refresh token came back: the family is revoked",
    TokenExpired = "token_expired" / [401] / "the access token has expired: refresh it",
    TokenRevoked = "token_revoked" / [401] / "signed out since the token was issued",
    AccountDisabled = "account_disabled" / [401, 403] / "the account is disabled",
    Forbidden = "forbidden" / [403] / "signed in, but the action is not the caller's to take",
    Csrf = "csrf" / [403] / "a form came without this session's token",
    EmailUnverified = "email_unverified" / [403] / "verify the e-mail address first",
    Banned = "banned" / [403] / "booking is suspended for the caller until the ban ends",
    QualificationRequired = "qualification_required" / [403] / "operating this instrument needs a qualification",
    InternalOnly = "internal_only" / [403] / "the instrument is shared within its own legal entity only",
    AlreadyExists = "already_exists" / [409] / "a record with the same unique value exists",
    ReferenceConflict = "reference_conflict" / [409] / "the record refers to, or is referred to by, another",
    AlreadyApplied = "already_applied" / [409] / "an application for this is already open",
    AlreadyRated = "already_rated" / [409] / "the service is rated already: change the rating instead",
    AlreadyReplied = "already_replied" / [409] / "the unit has answered this rating already",
    AlreadySignedUp = "already_signed_up" / [409] / "the caller is signed up for this training already",
    AlreadyVerified = "already_verified" / [409] / "the e-mail address is already verified",
    BanNotActive = "ban_not_active" / [409] / "the ban has ended or was lifted",
    Blackout = "blackout" / [409] / "the instrument is closed for maintenance then",
    ComplaintClosed = "complaint_closed" / [409] / "the complaint is closed, withdrawn or sent back: nothing more can be done to it",
    ComplaintOpen = "complaint_open" / [409] / "the caller has an open complaint about the same thing",
    CannotDisableSelf = "cannot_disable_self" / [409] / "an administrator cannot disable their own account",
    InstrumentRetired = "instrument_retired" / [409] / "the instrument has left the catalogue",
    InvalidTransition = "invalid_transition" / [409] / "the step does not apply to the current state",
    InvitationAnswered = "invitation_answered" / [409] / "the invitation was already accepted or declined",
    NotDead = "not_dead" / [409] / "only messages that gave up can be retried",
    NotNow = "not_now" / [409] / "not at this time (check-in window)",
    PlatformAdmin = "platform_admin" / [409] / "a platform administrator cannot join a unit's staff",
    NoticeClosed = "notice_closed" / [409] / "the rectification notice is closed",
    ReductionDecided = "reduction_decided" / [409] / "the reduction request was already decided",
    ReductionPending = "reduction_pending" / [409] / "a reduction request for this record is open",
    ReductionWindowClosed = "reduction_window_closed" / [409] / "the time to ask for a reduction has passed",
    RatingLocked = "rating_locked" / [409] / "a rating can be changed only for a few days after it is given",
    RatingWindowClosed = "rating_window_closed" / [409] / "the time to rate this service has passed",
    ReservationConflict = "reservation_conflict" / [409] / "the slot clashes with another booking",
    StaffOfOtherUnit = "staff_of_other_unit" / [409] / "the person is staff of another unit",
    SignupClosed = "signup_closed" / [409] / "the training has begun: sign-ups are closed",
    TooLateToCancel = "too_late_to_cancel" / [409] / "past the cancellation deadline: ask the manager",
    TrainingFull = "training_full" / [409] / "every place of the training is taken",
    EditConflict = "edit_conflict" / [409] / "the record changed since the caller read it (another tab or person): reload, then redo the change",
    AttachmentType = "attachment_type" / [422] / "the file is not a kind an article may carry, or its name does not match its bytes",
    VoucherBudgetExhausted = "voucher_budget_exhausted" / [409] / "what is left of the programme's budget is less than the amount; the message says what is left",
    VoucherBalance = "voucher_balance" / [409] / "the voucher has less left than the amount asked (other uses hold the rest)",
    VoucherNoticeRunning = "voucher_notice_running" / [409] / "the redemption is still on public notice (公示): it can be paid when the notice ends",
    VoucherNoService = "voucher_no_service" / [409] / "the booking has no service record yet: redemption comes after the service",
    VoucherCapExceeded = "voucher_cap_exceeded" / [422] / "above the programme's cap per application or the company's cap for the year",
    VoucherNotEligible = "voucher_not_eligible" / [422] / "the company (an enterprise with a unified social credit code, an SME where required) or the provider is outside the programme",
    VoucherRelatedParty = "voucher_related_party" / [422] / "the company and the provider are one legal entity (the same credit code)",
    VoucherOutsideDates = "voucher_outside_dates" / [422] / "outside the programme's dates to apply, use or redeem",
    VoucherFilesMissing = "voucher_files_missing" / [422] / "a redemption needs the contract, the invoice and (when the company pays a part) the proof it paid",
    TooManyActive = "too_many_active" / [409] / "too many open bookings on this instrument",
    ClosedDay = "closed_day" / [422] / "the instrument is closed that day",
    IdempotencyKeyReused = "idempotency_key_reused" / [422] / "the Idempotency-Key was used for a different request",
    InvalidInterval = "invalid_interval" / [422] / "the end is not after the start, or the date is past",
    ModeNotOffered = "mode_not_offered" / [422] / "the instrument does not offer this way of use",
    NotBookable = "not_bookable" / [422] / "the instrument is not open for booking",
    OutOfService = "out_of_service" / [422] / "the instrument is out of service: awaiting repair or scrapping, or failing often",
    OffGrid = "off_grid" / [422] / "times must fall on the booking grid",
    OutsideOpeningHours = "outside_opening_hours" / [422] / "outside the instrument's opening hours",
    TooFarAhead = "too_far_ahead" / [422] / "beyond the booking horizon",
    TooLittleNotice = "too_little_notice" / [422] / "too close to now",
    TooLong = "too_long" / [422] / "longer than a booking may be",
    TooManySamples = "too_many_samples" / [422] / "more samples than one order takes",
    TooShort = "too_short" / [422] / "shorter than a booking must be",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let listed: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| {
                let statuses: Vec<String> = c.statuses().iter().map(u16::to_string).collect();
                format!("`{}` ({}): {}", c.as_str(), statuses.join("/"), c.doc())
            })
            .collect();
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(listed.join("; ")))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

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
    Conflict { code: ErrorCode, message: String },
    /// Well-formed input that breaks a named business rule (a booking rule, say): 422 with the
    /// rule's own code.
    #[error("{field}: {message}")]
    Rule {
        code: ErrorCode,
        field: String,
        message: String,
    },
    /// No valid credentials: sign in (again).
    #[error("{message}")]
    Unauthorized { code: ErrorCode, message: String },
    /// Signed in, but this action is not the caller's to take.
    #[error("{message}")]
    Forbidden { code: ErrorCode, message: String },
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

    pub fn rule(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Rule {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        AppError::Unauthorized {
            code: ErrorCode::Unauthorized,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden {
            code: ErrorCode::Forbidden,
            message: message.into(),
        }
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::NotFound { .. } => ErrorCode::NotFound,
            AppError::BadRequest { .. } => ErrorCode::BadRequest,
            AppError::Invalid { .. } => ErrorCode::ValidationFailed,
            AppError::Conflict { code, .. }
            | AppError::Rule { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Forbidden { code, .. } => *code,
            AppError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            AppError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            AppError::TooManyRequests { .. } => ErrorCode::RateLimited,
            AppError::Unavailable { .. } => ErrorCode::Unavailable,
            AppError::Internal(_) => ErrorCode::InternalError,
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
    pub code: ErrorCode,
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
        // The list of codes says which statuses each comes with; the suite runs in debug.
        debug_assert!(
            self.code()
                .statuses()
                .contains(&self.status_code().as_u16()),
            "{} answered with {}",
            self.code(),
            self.status_code()
        );
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
                    code: ErrorCode::AlreadyExists,
                    message: "a record with the same unique value already exists".to_owned(),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::Conflict {
                    code: ErrorCode::ReferenceConflict,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_code_is_listed_once_with_a_status() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(!code.statuses().is_empty());
        }
    }
}
