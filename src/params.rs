//! Query-string parsing shared by the JSON API and the web pages, so that both accept the same
//! filters and both answer a bad one with a 400 problem that names the parameter.

use std::collections::HashMap;

use crate::error::{AppError, AppResult};
use crate::types::PageRequest;

pub struct QueryParams {
    values: HashMap<String, String>,
}

impl QueryParams {
    /// Parses `query`, refusing parameters outside `allowed` (a misspelt filter would
    /// otherwise be ignored silently) and repeated ones. Empty values count as absent, as
    /// an HTML form sends them.
    pub fn parse(query: &str, allowed: &[&str]) -> AppResult<QueryParams> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| AppError::bad_request("query", "the query string is not valid"))?;
        let mut values = HashMap::new();
        for (key, value) in pairs {
            if !allowed.contains(&key.as_str()) {
                return Err(AppError::bad_request(
                    key.clone(),
                    format!("unknown parameter {key}; accepted: {}", allowed.join(", ")),
                ));
            }
            if values.contains_key(&key) {
                return Err(AppError::bad_request(
                    key.clone(),
                    format!("{key} is given twice"),
                ));
            }
            let value = value.trim().to_owned();
            if !value.is_empty() {
                values.insert(key, value);
            }
        }
        Ok(QueryParams { values })
    }

    pub fn text(&self, key: &str, max_chars: usize) -> AppResult<Option<String>> {
        match self.values.get(key) {
            Some(v) if v.chars().count() > max_chars => Err(AppError::bad_request(
                key,
                format!("{key} is longer than {max_chars} characters"),
            )),
            other => Ok(other.cloned()),
        }
    }

    pub fn int(&self, key: &str, min: i64, max: i64) -> AppResult<Option<i64>> {
        let Some(raw) = self.values.get(key) else {
            return Ok(None);
        };
        match raw.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(AppError::bad_request(
                key,
                format!("{key} must be a whole number from {min} to {max}"),
            )),
        }
    }

    /// A calendar date, `YYYY-MM-DD`.
    pub fn date(&self, key: &str) -> AppResult<Option<chrono::NaiveDate>> {
        let Some(raw) = self.values.get(key) else {
            return Ok(None);
        };
        chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::bad_request(key, format!("{key} must be a date, YYYY-MM-DD")))
    }

    /// An id parameter: a positive integer.
    pub fn id(&self, key: &str) -> AppResult<Option<i64>> {
        self.int(key, 1, i64::MAX)
    }

    /// A coded value, parsed by `parse` (e.g. an enum's `from_code`); `accepted` lists the codes.
    pub fn code<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Option<T>,
        accepted: &str,
    ) -> AppResult<Option<T>> {
        let Some(raw) = self.values.get(key) else {
            return Ok(None);
        };
        parse(raw).map(Some).ok_or_else(|| {
            AppError::bad_request(key, format!("{key}={raw} is not one of: {accepted}"))
        })
    }

    /// `page` (from 1) and `per_page` (1..=100, default 20). Pages are capped so that an
    /// offset never overflows.
    pub fn page(&self) -> AppResult<PageRequest> {
        Ok(PageRequest {
            page: self.int("page", 1, 1_000_000)?.unwrap_or(1),
            per_page: self
                .int("per_page", 1, PageRequest::MAX_PER_PAGE)?
                .unwrap_or(PageRequest::DEFAULT_PER_PAGE),
        })
    }
}

/// An `{id}` path segment: a positive integer, or a 400 naming `id`.
pub fn path_id(raw: &str) -> AppResult<i64> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(AppError::bad_request(
            "id",
            format!("id {raw} is not a positive whole number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_named() {
        let err = QueryParams::parse("sortt=name", &["sort"]).err().unwrap();
        assert!(matches!(err, AppError::BadRequest { ref field, .. } if field == "sortt"));
        let p = QueryParams::parse("per_page=500", &["page", "per_page"]).unwrap();
        let err = p.page().err().unwrap();
        assert!(matches!(err, AppError::BadRequest { ref field, .. } if field == "per_page"));
        let p = QueryParams::parse("page=&city=%E9%95%BF%E6%98%A5", &["page", "city"]).unwrap();
        assert_eq!(p.page().unwrap().page, 1);
        assert_eq!(p.text("city", 20).unwrap().as_deref(), Some("长春"));
    }
}
