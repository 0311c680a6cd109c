//! Query-string parsing shared by the JSON API and the web pages, so that both accept the same
//! filters and both answer a bad one with a 400 problem that names the parameter.

use std::collections::HashMap;

use crate::error::{AppError, AppResult};
use crate::types::PageRequest;

/// A parameter WeChat adds to the links it passes on.
fn wechat(key: &str, value: &str) -> bool {
    key == "isappinstalled"
        || (key == "from" && ["singlemessage", "groupmessage", "timeline"].contains(&value))
}

pub struct QueryParams {
    values: HashMap<String, String>,
}

impl QueryParams {
    /// Parses `query`, refusing parameters outside `allowed` (a misspelt filter would
    /// otherwise be ignored silently) and repeated ones. Empty values count as absent, as
    /// an HTML form sends them.
    pub fn parse(query: &str, allowed: &[&str]) -> AppResult<QueryParams> {
        Self::read(query, allowed, true)
    }

    /// For the web pages: parameters outside `allowed` are left out, so that a shared link
    /// keeps working, and so are WeChat's, which it adds to every link it passes on
    /// (`from=singlemessage`, `isappinstalled=0`), even where the page has a `from` of its own.
    /// A value the page does know is still checked.
    pub fn parse_known(query: &str, allowed: &[&str]) -> AppResult<QueryParams> {
        Self::read(query, allowed, false)
    }

    fn read(query: &str, allowed: &[&str], strict: bool) -> AppResult<QueryParams> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
            AppError::bad_request(
                "query",
                "网址中的查询参数无法解析 (the query string is not valid)",
            )
        })?;
        let mut values = HashMap::new();
        for (key, value) in pairs {
            if !strict && (!allowed.contains(&key.as_str()) || wechat(&key, &value)) {
                continue;
            }
            if !allowed.contains(&key.as_str()) {
                return Err(AppError::bad_request(
                    key.clone(),
                    format!(
                        "不认识的参数 {key}，可用：{} (unknown parameter {key})",
                        allowed.join("、")
                    ),
                ));
            }
            if values.contains_key(&key) {
                return Err(AppError::bad_request(
                    key.clone(),
                    format!("参数 {key} 出现了两次 ({key} is given twice)"),
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
                format!(
                    "{key} 不能超过 {max_chars} 个字 ({key} is longer than {max_chars} characters)"
                ),
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
                format!("{key} 应为 {min} 到 {max} 之间的整数 ({key} must be a whole number from {min} to {max})"),
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
            .map_err(|_| {
                AppError::bad_request(
                    key,
                    format!("{key} 应为日期，如 2026-03-05 ({key} must be a date, YYYY-MM-DD)"),
                )
            })
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
            AppError::bad_request(
                key,
                format!("{key} 不能是 {raw}，可用：{accepted} ({key}={raw} is not one of them)"),
            )
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
    /// `true` or `false` (absent is false).
    pub fn flag(&self, key: &str) -> AppResult<bool> {
        match self.values.get(key).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(AppError::bad_request(
                key,
                "应为 true 或 false (true or false)",
            )),
        }
    }

    /// An instant in RFC 3339 with its offset.
    pub fn instant(&self, key: &str) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
        self.text(key, 40)?
            .map(|v| crate::validate::instant(key, &v))
            .transpose()
    }
}

/// How a declared parameter is read, and documented: the reader of [`QueryParams`] and the
/// schema the API document shows for it.
#[doc(hidden)]
pub mod kinds {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
    use utoipa::openapi::RefOr;

    pub fn id() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .into()
    }
    pub fn int(min: i64, max: i64) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
            .into()
    }
    pub fn text(max: usize) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(max))
            .into()
    }
    pub fn date() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .into()
    }
    pub fn instant() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
    pub fn flag() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}

/// Declares a request's query parameters once: the struct a handler gets, its parser (unknown
/// and repeated parameters are a 400 naming them, as [`QueryParams::parse`] says), and its
/// entry in the API document (`params(TheStruct)` in `#[utoipa::path]`). Each field says how
/// it is read: `id(IdType)`, `text(max)`, `int(min, max)`, `required_int(min, max)`, `date`, `instant`,
/// `flag`, `code(Enum)`;
/// `page` adds `page` and `per_page` and reads a [`PageRequest`].
macro_rules! query_params {
    (@ty id($id:ty)) => { Option<$id> };
    (@ty text($max:expr)) => { Option<String> };
    (@ty int($min:expr, $max:expr)) => { Option<i64> };
    (@ty required_int($min:expr, $max:expr)) => { i64 };
    (@ty date) => { Option<chrono::NaiveDate> };
    (@ty instant) => { Option<chrono::DateTime<chrono::Utc>> };
    (@ty flag) => { bool };
    (@ty code($enum:ty)) => { Option<$enum> };
    (@ty page) => { $crate::types::PageRequest };

    (@read $p:ident, $name:ident, id($id:ty)) => { $p.id(stringify!($name))?.map(<$id>::from) };
    (@read $p:ident, $name:ident, text($max:expr)) => { $p.text(stringify!($name), $max)? };
    (@read $p:ident, $name:ident, int($min:expr, $max:expr)) => { $p.int(stringify!($name), $min, $max)? };
    (@read $p:ident, $name:ident, required_int($min:expr, $max:expr)) => {
        $p.int(stringify!($name), $min, $max)?.ok_or_else(|| {
            $crate::error::AppError::bad_request(
                stringify!($name),
                format!("{} is required ({} to {})", stringify!($name), $min, $max),
            )
        })?
    };
    (@read $p:ident, $name:ident, date) => { $p.date(stringify!($name))? };
    (@read $p:ident, $name:ident, instant) => { $p.instant(stringify!($name))? };
    (@read $p:ident, $name:ident, flag) => { $p.flag(stringify!($name))? };
    (@read $p:ident, $name:ident, code($enum:ty)) => {
        $p.code(stringify!($name), <$enum>::from_code, &<$enum>::codes())?
    };
    (@read $p:ident, $name:ident, page) => { $p.page()? };

    (@schema id($id:ty)) => { $crate::params::kinds::id() };
    (@schema text($max:expr)) => { $crate::params::kinds::text($max) };
    (@schema int($min:expr, $max:expr)) => { $crate::params::kinds::int($min, $max) };
    (@schema required_int($min:expr, $max:expr)) => { $crate::params::kinds::int($min, $max) };
    (@schema date) => { $crate::params::kinds::date() };
    (@schema instant) => { $crate::params::kinds::instant() };
    (@schema flag) => { $crate::params::kinds::flag() };
    (@schema code($enum:ty)) => { <$enum as ::utoipa::PartialSchema>::schema() };

    (@names $name:ident, page) => { ["page", "per_page"] };
    (@names $name:ident, $($kind:tt)+) => { [stringify!($name)] };

    (@doc $params:ident, $name:ident, $doc:literal, page) => {
        $params.push($crate::params::param("page", "from 1", $crate::params::kinds::int(1, 1_000_000)));
        $params.push($crate::params::param(
            "per_page",
            "1 to 100, default 20",
            $crate::params::kinds::int(1, $crate::types::PageRequest::MAX_PER_PAGE),
        ));
    };
    (@doc $params:ident, $name:ident, $doc:literal, required_int($min:expr, $max:expr)) => {
        let mut param = $crate::params::param(
            stringify!($name),
            $doc,
            $crate::params::kinds::int($min, $max),
        );
        param.required = ::utoipa::openapi::Required::True;
        $params.push(param);
    };
    (@doc $params:ident, $name:ident, $doc:literal, $($kind:tt)+) => {
        $params.push($crate::params::param(
            stringify!($name),
            $doc,
            $crate::params::query_params!(@schema $($kind)+),
        ));
    };

    ($(#[$meta:meta])* pub struct $struct:ident {
        $(#[doc = $doc:literal] $name:ident: $kind:ident $(($($arg:tt)*))?),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $struct {
            $(#[doc = $doc] pub $name: $crate::params::query_params!(@ty $kind $(($($arg)*))?),)*
        }

        impl $struct {
            /// Every parameter the request takes.
            #[allow(unused_mut)]
            pub fn names() -> Vec<&'static str> {
                let mut names = Vec::new();
                $(names.extend($crate::params::query_params!(@names $name, $kind $(($($arg)*))?));)*
                names
            }

            /// For the API: an unknown or repeated parameter is a 400 naming it.
            #[allow(dead_code)] // a page's own parameters are read only by `parse_known`
            pub fn parse(query: &str) -> $crate::error::AppResult<$struct> {
                Self::read(&$crate::params::QueryParams::parse(query, &Self::names())?)
            }

            /// For the web pages: parameters the page does not know are left out.
            #[allow(dead_code)]
            pub fn parse_known(query: &str) -> $crate::error::AppResult<$struct> {
                Self::read(&$crate::params::QueryParams::parse_known(query, &Self::names())?)
            }

            #[allow(unused_variables)]
            fn read(p: &$crate::params::QueryParams) -> $crate::error::AppResult<$struct> {
                Ok($struct {
                    $($name: $crate::params::query_params!(@read p, $name, $kind $(($($arg)*))?),)*
                })
            }
        }

        impl ::utoipa::IntoParams for $struct {
            #[allow(unused_mut, clippy::vec_init_then_push)]
            fn into_params(
                _: impl Fn() -> Option<::utoipa::openapi::path::ParameterIn>,
            ) -> Vec<::utoipa::openapi::path::Parameter> {
                let mut params = Vec::new();
                $($crate::params::query_params!(@doc params, $name, $doc, $kind $(($($arg)*))?);)*
                params
            }
        }
    };
}
pub(crate) use query_params;

query_params! {
    /// A page of a list, and nothing else.
    pub struct PageParams {
        /// paging
        page: page,
    }
}

query_params! {
    /// No parameter at all (any is refused, as a misspelt filter would be).
    pub struct NoParams {}
}

/// One optional query parameter of the document.
pub fn param(
    name: &str,
    description: &str,
    schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
) -> utoipa::openapi::path::Parameter {
    utoipa::openapi::path::ParameterBuilder::new()
        .name(name)
        .parameter_in(utoipa::openapi::path::ParameterIn::Query)
        .required(utoipa::openapi::Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// An `{id}` path segment: a positive integer, or a 400 naming `id`.
pub fn path_id<Id: From<i64>>(raw: &str) -> AppResult<Id> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Id::from(id)),
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
