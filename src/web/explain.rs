//! The one mapping from a refused request to what a person reads on a page: a sentence in
//! Chinese with the rule in it (the services write it, times in Beijing time) and the form
//! field it belongs beside. The API's problem documents carry the same sentence followed by
//! an English gloss in brackets; a page shows the Chinese only.

use crate::error::{AppError, ErrorCode};

pub struct Explained {
    /// The form field the problem is about (the page's name for it), if any.
    pub field: Option<String>,
    pub text: String,
}

/// What a page says about `err`.
pub fn explain(err: &AppError) -> Explained {
    let (field, text) = match err {
        AppError::Invalid { field, message }
        | AppError::BadRequest { field, message }
        | AppError::Rule { field, message, .. } => {
            (form_field(field, err.code()), chinese(message))
        }
        // A clash is about the time asked for.
        AppError::Conflict {
            code: ErrorCode::ReservationConflict | ErrorCode::Blackout,
            message,
        } => (Some("start".to_owned()), chinese(message)),
        AppError::NotFound { what } => (
            None,
            format!("找不到{}，它可能已被删除，或您无权查看。", thing(what)),
        ),
        AppError::Conflict { message, .. }
        | AppError::Unauthorized { message, .. }
        | AppError::Forbidden { message, .. } => (None, chinese(message)),
        AppError::MethodNotAllowed { .. } => (None, "不支持这种操作方式。".to_owned()),
        AppError::PayloadTooLarge { limit } => (
            None,
            format!("提交的内容过大（最多 {} KB）。", limit / 1024),
        ),
        AppError::TooManyRequests { retry_after_secs } => (
            None,
            format!("操作过于频繁，请 {} 后再试。", wait_zh(*retry_after_secs)),
        ),
        AppError::Unavailable { .. } => (None, "服务繁忙，请稍后再试。".to_owned()),
        AppError::Internal(_) => (None, "服务器内部错误，请稍后再试。".to_owned()),
    };
    Explained { field, text }
}

/// The page's name for a field the API names: the booking form asks for a date and two
/// times where the API takes two instants; a field no form shows has no place but the top.
fn form_field(api: &str, err_code: ErrorCode) -> Option<String> {
    let key = api.rsplit('.').next().unwrap_or(api);
    let key = match key {
        "starts_at" if matches!(err_code, ErrorCode::ClosedDay) => "date",
        "starts_at" => "start",
        "original_value_yuan" => "original_value_wan",
        "ends_at" => "end",
        "instrument_id" | "kind" | "Idempotency-Key" | "form" | "Content-Type" | "record" => {
            return None
        }
        other => other,
    };
    Some(key.to_owned())
}

/// The Chinese sentence of a "中文 (English)" message; a message without a gloss as it is.
pub fn chinese(message: &str) -> String {
    if let Some(body) = message.strip_suffix(')') {
        if let Some(i) = body.rfind(" (") {
            let gloss = &body[i + 2..];
            if !gloss.chars().any(is_cjk) && body[..i].chars().any(is_cjk) {
                return body[..i].trim_end().to_owned();
            }
        }
    }
    message.to_owned()
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3000}'..='\u{303f}').contains(&c)
}

fn thing(what: &str) -> &'static str {
    match what {
        "instrument" => "该仪器",
        "reservation" => "该预约",
        "qualification" => "该上机资格申请",
        "service record" | "service_record" => "该服务记录",
        "reduction" => "该核减申请",
        "organisation" => "该单位",
        "sub-platform" | "sub_platform" => "该子平台",
        "unit" => "该单位",
        "user" => "该用户",
        "ban" => "该禁约记录",
        "invitation" => "该邀请",
        "message" => "该邮件",
        "record" => "该记录",
        "file" => "该文件",
        "calendar" => "该日历",
        _ => "该页面",
    }
}

fn wait_zh(secs: u64) -> String {
    if secs >= 60 {
        format!("{} 分钟", secs.div_ceil(60))
    } else {
        format!("{secs} 秒")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_shows_the_chinese_sentence_beside_its_field() {
        let e = AppError::rule(
            ErrorCode::TooShort,
            "ends_at",
            "每次至少预约 30 分钟 (at least 30 minutes)",
        );
        let x = explain(&e);
        assert_eq!(x.field.as_deref(), Some("end"));
        assert_eq!(x.text, "每次至少预约 30 分钟");
        // A bracket inside the Chinese stays; only the trailing English gloss goes.
        assert_eq!(
            chinese("开放时间为 08:00–22:00（周三） (outside hours)"),
            "开放时间为 08:00–22:00（周三）"
        );
        assert_eq!(
            chinese("plain English (no Chinese)"),
            "plain English (no Chinese)"
        );
        assert_eq!(
            explain(&AppError::NotFound { what: "instrument" }).text,
            "找不到该仪器，它可能已被删除，或您无权查看。"
        );
        assert_eq!(
            explain(&AppError::invalid("instrument_id", "x")).field,
            None
        );
    }
}
