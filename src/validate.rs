//! Field checks shared by every module's write paths. Each failure is a 422 naming the field.

use chrono::{DateTime, Utc};

use crate::error::{AppError, AppResult};

/// Trimmed text of `min..=max` characters (characters, not bytes: 100 汉字 are 100).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> AppResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min {
        return Err(AppError::invalid(
            field,
            if min == 1 {
                "不能为空 (required)".to_owned()
            } else {
                format!("至少 {min} 个字符 (at least {min} characters)")
            },
        ));
    }
    if n > max {
        return Err(AppError::invalid(
            field,
            format!("最多 {max} 个字符，现为 {n} 个 (at most {max} characters, got {n})"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(AppError::invalid(
            field,
            "含有控制字符 (control characters)",
        ));
    }
    Ok(v.to_owned())
}

/// One line of text: as `text`, without line breaks.
pub fn line(field: &str, value: &str, min: usize, max: usize) -> AppResult<String> {
    let v = text(field, value, min, max)?;
    if v.contains(['\n', '\r', '\t']) {
        return Err(AppError::invalid(field, "不能换行 (one line)"));
    }
    Ok(v)
}

/// An e-mail address, lower-cased: one `@`, a dot in the domain, no spaces, ≤ 254.
pub fn email(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim().to_lowercase();
    let ok = v.len() <= 254
        && !v.contains(char::is_whitespace)
        && v.split('@').count() == 2
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
        && !v.contains(['<', '>', '"', ',', ';']);
    if !ok {
        return Err(AppError::invalid(
            field,
            "不是有效的邮箱地址 (not an e-mail address)",
        ));
    }
    Ok(v)
}

/// An optional e-mail: empty stays empty.
pub fn optional_email(field: &str, value: &str) -> AppResult<String> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        email(field, value)
    }
}

/// A coded value (an enum's `from_code`); the error lists the accepted `codes`.
pub fn code<T>(
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    codes: String,
) -> AppResult<T> {
    parse(value).ok_or_else(|| AppError::invalid(field, format!("one of {codes}")))
}

/// A phone number: digits with `+ - ( )` and spaces, ≤ 30.
pub fn phone(field: &str, value: &str) -> AppResult<String> {
    let v = line(field, value, 0, 30)?;
    if !v.chars().all(|c| c.is_ascii_digit() || "+-() ".contains(c)) {
        return Err(AppError::invalid(
            field,
            "电话号码只能包含数字和 + - ( ) (digits only)",
        ));
    }
    Ok(v)
}

/// 统一社会信用代码 (GB 32100-2015): 18 characters from 31 symbols, the last a check
/// character over the first 17.
pub fn credit_code(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim().to_uppercase();
    let values: Option<Vec<u32>> = v
        .chars()
        .map(|c| CREDIT_SYMBOLS.find(c).map(|i| i as u32))
        .collect();
    let Some(values) = values.filter(|vals| vals.len() == 18) else {
        return Err(AppError::invalid(
            field,
            "统一社会信用代码应为 18 位数字或大写字母 (18 characters, no I, O, S, V, Z)",
        ));
    };
    if Some(values[17]) != credit_check(&values[..17]) {
        return Err(AppError::invalid(
            field,
            "统一社会信用代码校验位不正确 (check character does not match)",
        ));
    }
    Ok(v)
}

const CREDIT_SYMBOLS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The check value of a credit code's first 17 symbols (as indices into the 31 symbols).
fn credit_check(values: &[u32]) -> Option<u32> {
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    (values.len() == 17).then(|| {
        let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
        (31 - sum % 31) % 31
    })
}

/// A whole credit code from its first 17 characters (the demo's organisations).
pub fn complete_credit_code(first17: &str) -> Option<String> {
    let values: Option<Vec<u32>> = first17
        .chars()
        .map(|c| CREDIT_SYMBOLS.find(c).map(|i| i as u32))
        .collect();
    let check = credit_check(&values?)?;
    let last = CREDIT_SYMBOLS.chars().nth(check as usize)?;
    Some(format!("{first17}{last}"))
}

/// An RFC 3339 instant with its offset; a naive time is ambiguous and refused (400).
pub fn instant(field: &str, value: &str) -> AppResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            AppError::bad_request(
                field,
                format!("{value:?} 不是带时区的 RFC 3339 时间 (an RFC 3339 time with an offset, e.g. 2026-12-01T09:00:00+08:00)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes_are_checked() {
        // The standard's worked example, and one whose check character was computed.
        assert!(credit_code("c", "91350100M000100Y43").is_ok());
        assert!(credit_code("c", "12220000412755848H").is_ok());
        assert!(credit_code("c", "12220000412755848h").is_ok());
        assert!(credit_code("c", "91350100M000100Y44").is_err());
        assert!(credit_code("c", "91350100M000100Y4").is_err());
        assert!(credit_code("c", "91350100I000100Y43").is_err());
        assert_eq!(
            complete_credit_code("91350100M000100Y4").as_deref(),
            Some("91350100M000100Y43")
        );
        assert_eq!(complete_credit_code("9135"), None);
    }

    #[test]
    fn texts_count_characters() {
        assert!(text("n", &"仪".repeat(100), 1, 100).is_ok());
        assert!(text("n", &"仪".repeat(101), 1, 100).is_err());
        assert!(text("n", "   ", 1, 100).is_err());
        assert_eq!(email("e", " Wang@JLU.edu.cn ").unwrap(), "wang@jlu.edu.cn");
        assert!(email("e", "a@b").is_err());
        assert!(email("e", "a b@c.cn").is_err());
        assert!(phone("p", "0431-85166666").is_ok());
        assert!(phone("p", "call me").is_err());
    }
}
