//! Types shared by every module: ids, money, coded enumerations with their Chinese labels,
//! and paging.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares an id newtype: a database key that cannot be mixed up with another table's.
macro_rules! id_type {
    ($($name:ident),+ $(,)?) => {$(
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize,
            Deserialize, utoipa::ToSchema, ::diesel::AsExpression, ::diesel::FromSqlRow,
        )]
        #[diesel(sql_type = ::diesel::sql_types::BigInt)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        // Stored as the BIGINT key it wraps, on every backend.
        impl<DB> ::diesel::deserialize::FromSql<::diesel::sql_types::BigInt, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            i64: ::diesel::deserialize::FromSql<::diesel::sql_types::BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> ::diesel::deserialize::Result<Self> {
                <i64 as ::diesel::deserialize::FromSql<::diesel::sql_types::BigInt, DB>>::from_sql(
                    bytes,
                )
                .map($name)
            }
        }

        impl<DB> ::diesel::serialize::ToSql<::diesel::sql_types::BigInt, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            i64: ::diesel::serialize::ToSql<::diesel::sql_types::BigInt, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, DB>,
            ) -> ::diesel::serialize::Result {
                <i64 as ::diesel::serialize::ToSql<::diesel::sql_types::BigInt, DB>>::to_sql(
                    &self.0, out,
                )
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> $name {
                $name(id)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::num::ParseIntError;
            fn from_str(s: &str) -> Result<$name, Self::Err> {
                s.parse().map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id_type!(
    SubPlatformId,
    UnitId,
    InstrumentId,
    OrganisationId,
    UserId,
    QualificationId,
    ViolationId,
    BanId,
    ReservationId,
    ServiceRecordId,
    ReductionId,
    RatingId,
    ComplaintId,
    RectificationId,
    ArticleId,
    AttachmentId,
    SubscriptionId,
    InvitationId,
    MessageId,
    ProgrammeId,
    VoucherId,
    VoucherUseId,
    VoucherFileId,
);

/// Declares an enumeration stored as a short English code (with a CHECK constraint in the
/// migrations) and shown with a Chinese label. The labels live here and nowhere else.
macro_rules! code_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident = $code:literal / $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize,
            ::diesel::AsExpression, ::diesel::FromSqlRow,
        )]
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        pub enum $name {
            $(#[serde(rename = $code)] $variant),+
        }

        // Stored as its code. A code the enum does not know is an error, never a default.
        impl<DB> ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            String: ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> ::diesel::deserialize::Result<Self> {
                let code = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    DB,
                >>::from_sql(bytes)?;
                $name::from_code(&code).ok_or_else(|| {
                    format!("unknown {} code {code:?} in the database", stringify!($name)).into()
                })
            }
        }

        impl<DB> ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            str: ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, DB>,
            ) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB>>::to_sql(
                    self.code(),
                    out,
                )
            }
        }

        // By hand: the derive does not see `rename` through the macro's fragments and would
        // document the Rust names instead of the codes on the wire.
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($code),+]))
                    .description(Some([$(concat!("`", $code, "` ", $label)),+].join("; ")))
                    .into()
            }
        }

        impl ::utoipa::ToSchema for $name {}

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn from_code(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Every code, for error messages that list what is accepted.
            pub fn codes() -> String {
                Self::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", ")
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}
pub(crate) use code_enum;

/// An amount in yuan (元). The original value of an instrument is reported in 万元 with two
/// decimals, which is a whole number of hundreds of yuan, so yuan as an integer loses nothing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct Yuan(pub i64);

impl Yuan {
    /// "123.45" for 1,234,500 yuan: the 万元 figure people read, rounded half up to 0.01,
    /// with thousands separated ("61,559.17").
    pub fn wan_yuan(self) -> String {
        let hundreds = (self.0 + 50).div_euclid(100);
        let whole = (hundreds / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        format!("{grouped}.{:02}", hundreds % 100)
    }

    /// "235.50" (万元, at most two decimals, thousands separators allowed) as yuan, exactly:
    /// 2,355,000. `None` for anything else (a negative, three decimals, letters).
    pub fn from_wan_yuan(text: &str) -> Option<Yuan> {
        hundredths(text)?.checked_mul(100).map(Yuan)
    }
}

/// A non-negative decimal with at most two places ("255.5", "1,200.00") in hundredths,
/// exactly: 万元 → 百元, 元 → fen. `None` for anything else.
pub fn hundredths(text: &str) -> Option<i64> {
    let t = text.trim().replace([',', '，'], "");
    let (whole, frac) = t.split_once('.').unwrap_or((t.as_str(), ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) || frac.len() > 2 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

/// The platform's zone: opening hours, "tomorrow" and dates in e-mails are read here.
pub const PLATFORM_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// "2026年11月28日" in the platform zone.
pub fn local_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&PLATFORM_ZONE)
        .format("%Y年%-m月%-d日")
        .to_string()
}

/// "12月3日" (the year too, "2027年1月4日", when it is not `this_year`): a day as people
/// write it.
pub fn day_zh(d: chrono::NaiveDate, this_year: i32) -> String {
    use chrono::Datelike;
    if d.year() == this_year {
        format!("{}月{}日", d.month(), d.day())
    } else {
        format!("{}年{}月{}日", d.year(), d.month(), d.day())
    }
}

/// "12月3日 09:00" in the platform zone, with the year where it is not the current one.
pub fn day_time_zh(t: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike;
    let local = t.with_timezone(&PLATFORM_ZONE);
    let year = now.with_timezone(&PLATFORM_ZONE).year();
    format!(
        "{} {}",
        day_zh(local.date_naive(), year),
        local.format("%H:%M")
    )
}

/// "12月3日 09:00–10:00", or "12月3日 22:00–12月4日 02:00" across midnight, Beijing time.
pub fn span_zh(
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let (a, b) = (
        from.with_timezone(&PLATFORM_ZONE),
        to.with_timezone(&PLATFORM_ZONE),
    );
    if a.date_naive() == b.date_naive() {
        format!("{}–{}", day_time_zh(from, now), b.format("%H:%M"))
    } else {
        format!("{}–{}", day_time_zh(from, now), day_time_zh(to, now))
    }
}

/// A length of time as people say it: "30 分钟", "1 小时", "1 小时 30 分钟", "2 天".
pub fn duration_zh(minutes: i64) -> String {
    match minutes {
        m if m >= 1440 && m % 1440 == 0 => format!("{} 天", m / 1440),
        m if m >= 60 && m % 60 == 0 => format!("{} 小时", m / 60),
        m if m > 60 => format!("{} 小时 {} 分钟", m / 60, m % 60),
        m => format!("{m} 分钟"),
    }
}

/// Minutes as hours with one decimal ("1.5"): how every page shows machine time.
pub fn hours_1(minutes: i64) -> String {
    let tenths = (minutes * 10 + 30).div_euclid(60);
    format!("{}.{}", tenths.div_euclid(10), tenths.rem_euclid(10))
}

/// Fen as yuan with two decimals ("255.00").
pub fn yuan_2(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

/// "2026-11-28 16:00" in the platform zone.
pub fn local_date_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&PLATFORM_ZONE)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Serde for the UTC instants the database keeps without a zone: written with their offset
/// (`2026-11-28T08:00:00Z`) as every time the API writes, read with any offset (or none, for
/// what was stored before).
pub mod utc {
    use chrono::{DateTime, NaiveDateTime, SecondsFormat};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom("a date-time (RFC 3339)"))
    }

    fn parse(text: &str) -> Option<NaiveDateTime> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.naive_utc())
            .or_else(|_| text.parse::<NaiveDateTime>())
            .ok()
    }

    /// The same for an optional instant.
    pub mod option {
        use chrono::NaiveDateTime;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<NaiveDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<NaiveDateTime>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => super::parse(&text)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("a date-time (RFC 3339)")),
                None => Ok(None),
            }
        }
    }
}

/// A requested page: `page` counts from 1, `per_page` is 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
}

impl PageRequest {
    pub const MAX_PER_PAGE: i64 = 100;
    pub const DEFAULT_PER_PAGE: i64 = 20;

    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// One page of a list, as every list endpoint returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, total: i64, req: PageRequest) -> Self {
        Paged {
            items,
            total,
            page: req.page,
            per_page: req.per_page,
        }
    }

    pub fn page_count(&self) -> i64 {
        (self.total + self.per_page - 1) / self.per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_yuan_has_two_decimals() {
        assert_eq!(Yuan(1_234_500).wan_yuan(), "123.45");
        assert_eq!(Yuan(500_000).wan_yuan(), "50.00");
        assert_eq!(Yuan(0).wan_yuan(), "0.00");
        assert_eq!(Yuan(1_249).wan_yuan(), "0.12");
        assert_eq!(Yuan(1_250).wan_yuan(), "0.13");
        assert_eq!(Yuan(6_155_916_800).wan_yuan(), "615,591.68");
        assert_eq!(Yuan(9_999_999_900).wan_yuan(), "999,999.99");
        assert_eq!(Yuan(10_000_000_000).wan_yuan(), "1,000,000.00");
    }

    #[test]
    fn wan_yuan_is_read_exactly() {
        assert_eq!(Yuan::from_wan_yuan("235.50"), Some(Yuan(2_355_000)));
        assert_eq!(Yuan::from_wan_yuan("235"), Some(Yuan(2_350_000)));
        assert_eq!(Yuan::from_wan_yuan("0.01"), Some(Yuan(100)));
        assert_eq!(Yuan::from_wan_yuan("61,559.17"), Some(Yuan(615_591_700)));
        assert_eq!(Yuan::from_wan_yuan(".5"), Some(Yuan(5_000)));
        for bad in ["", ".", "-1", "1.234", "1e3", "abc", "1.2.3"] {
            assert_eq!(Yuan::from_wan_yuan(bad), None, "{bad}");
        }
        // What is shown reads back as the same amount.
        assert_eq!(
            Yuan::from_wan_yuan(&Yuan(615_591_700).wan_yuan()),
            Some(Yuan(615_591_700))
        );
    }
}
