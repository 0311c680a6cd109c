//! An instrument's booking settings as a form for its managers: the ways it is used, the
//! rules a booking must meet, the opening hours, and the prices per tier in 元. It calls the
//! same service as the API, which checks the permission (the instrument's staff).

use std::collections::HashMap;

use actix_web::web;

use super::forms::{opt, see_other, Field, Form, FormPage};
use super::session::Ctx;
use super::PageResult;
use crate::error::AppError;
use crate::params::path_id;
use crate::reservations::model::{BookingModes, BookingSettingsRow};
use crate::reservations::rules::OpeningHours;
use crate::reservations::settings::{self, BookingSettingsInput};
use crate::types::{hundredths, yuan_2, InstrumentId};
use crate::{db, state::AppState};

const YES_NO: [(&str, &str); 2] = [("1", "是"), ("0", "否")];
const NUMBERS: [(&str, &str); 9] = [
    ("slot_minutes", "时间粒度（分钟）"),
    ("min_minutes", "每次最短（分钟）"),
    ("max_minutes", "每次最长（分钟）"),
    ("notice_minutes", "至少提前（分钟）"),
    ("horizon_days", "最多提前（天）"),
    ("cancel_deadline_minutes", "开始前多久不能再取消（分钟）"),
    ("no_show_grace_minutes", "开始后多久未签到记为爽约（分钟）"),
    ("max_active_per_user", "每人未完成的预约数上限"),
    ("max_samples", "每次送样最多（个）"),
];
const PRICES: [(&str, &str); 7] = [
    ("own_hour_fen", "校内/所内 元/小时"),
    ("academic_hour_fen", "其他高校院所 元/小时"),
    ("enterprise_hour_fen", "企业及其他 元/小时"),
    ("own_sample_fen", "校内/所内 元/样"),
    ("academic_sample_fen", "其他高校院所 元/样"),
    ("enterprise_sample_fen", "企业及其他 元/样"),
    ("min_fee_fen", "最低收费（元）"),
];

fn yes_no() -> Vec<(String, String)> {
    YES_NO
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// "08:00-12:00, 13:00-22:00": the windows of one day as a person types them.
fn windows_text(day: &[(u32, u32)]) -> String {
    let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    day.iter()
        .map(|&(a, b)| format!("{}-{}", hm(a), hm(b)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The windows typed for one day (empty: closed), as minutes after midnight.
fn parse_windows(field: &str, text: &str) -> Result<Vec<[u32; 2]>, AppError> {
    let bad = || AppError::invalid(field, "格式如 08:00-12:00, 13:00-22:00；不开放请留空");
    let minutes = |t: &str| -> Result<u32, AppError> {
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || (h == 24 && m > 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    text.split([',', '，', ';', '；'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let (a, b) = w.split_once(['-', '–', '~']).ok_or_else(bad)?;
            Ok([minutes(a)?, minutes(b)?])
        })
        .collect()
}

fn fields(s: &BookingSettingsRow, values: &HashMap<String, String>) -> Vec<Field> {
    let v = |k: &str, current: String| values.get(k).cloned().unwrap_or(current);
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    let hours = OpeningHours::parse("opening_hours", &s.opening_hours).unwrap_or_default();
    let mut out = vec![
        Field::new(
            "modes",
            crate::words::BOOKING_MODES,
            "select",
            v("modes", s.modes.code().to_owned()),
        )
        .options(
            BookingModes::ALL
                .iter()
                .map(|m| (m.code().to_owned(), m.label_zh().to_owned()))
                .collect(),
        ),
        Field::new(
            "approval_required",
            "预约须经审核",
            "select",
            v("approval_required", flag(s.approval_required)),
        )
        .options(yes_no()),
        Field::new(
            "qualification_required",
            "自行上机须有上机资格",
            "select",
            v("qualification_required", flag(s.qualification_required)),
        )
        .options(yes_no()),
        Field::new(
            "book_when_faulty",
            "故障频繁时仍接受预约",
            "select",
            v("book_when_faulty", flag(s.book_when_faulty)),
        )
        .options(yes_no()),
        Field::new(
            "weekday_hours",
            "工作日开放时间",
            "text",
            v("weekday_hours", windows_text(&hours.0[0])),
        )
        .max(100),
        Field::new(
            "weekend_hours",
            "周末开放时间（不开放请留空）",
            "text",
            v("weekend_hours", windows_text(&hours.0[5])),
        )
        .max(100),
    ];
    let number = |k: &str| -> i64 {
        match k {
            "slot_minutes" => s.slot_minutes,
            "min_minutes" => s.min_minutes,
            "max_minutes" => s.max_minutes,
            "notice_minutes" => s.notice_minutes,
            "horizon_days" => s.horizon_days,
            "cancel_deadline_minutes" => s.cancel_deadline_minutes,
            "no_show_grace_minutes" => s.no_show_grace_minutes,
            "max_active_per_user" => s.max_active_per_user,
            _ => s.max_samples,
        }
        .into()
    };
    out.extend(
        NUMBERS.iter().map(|(k, label)| {
            Field::new(k, label, "number", v(k, number(k).to_string())).required()
        }),
    );
    let price = |k: &str| -> i64 {
        match k {
            "own_hour_fen" => s.own_hour_fen,
            "academic_hour_fen" => s.academic_hour_fen,
            "enterprise_hour_fen" => s.enterprise_hour_fen,
            "own_sample_fen" => s.own_sample_fen,
            "academic_sample_fen" => s.academic_sample_fen,
            "enterprise_sample_fen" => s.enterprise_sample_fen,
            _ => s.min_fee_fen,
        }
    };
    out.extend(
        PRICES
            .iter()
            .map(|(k, label)| Field::new(k, label, "text", v(k, yuan_2(price(k)))).max(12)),
    );
    out
}

/// What the form posted, as the API's input: minutes and days as integers, prices in 元 with
/// two decimals read exactly into fen, the two opening-hour lines applied to weekdays and to
/// the weekend.
fn input(f: &HashMap<String, String>) -> Result<BookingSettingsInput, AppError> {
    let flag = |k: &str| f.get(k).map(|v| v == "1");
    let int = |k: &str| -> Result<Option<i32>, AppError> {
        opt(f, k)
            .map(|v| {
                v.trim()
                    .parse::<i32>()
                    .map_err(|_| AppError::invalid(k, "请填写整数"))
            })
            .transpose()
    };
    let fen = |k: &str| -> Result<Option<i64>, AppError> {
        opt(f, k)
            .map(|v| {
                hundredths(&v).ok_or_else(|| AppError::invalid(k, "请填写金额（元），最多两位小数"))
            })
            .transpose()
    };
    let weekday = parse_windows(
        "weekday_hours",
        f.get("weekday_hours").map_or("", String::as_str),
    )?;
    let weekend = parse_windows(
        "weekend_hours",
        f.get("weekend_hours").map_or("", String::as_str),
    )?;
    let days: serde_json::Map<String, serde_json::Value> = (1..=7)
        .map(|d| {
            let w = if d <= 5 { &weekday } else { &weekend };
            (d.to_string(), serde_json::json!(w))
        })
        .collect();
    Ok(BookingSettingsInput {
        modes: opt(f, "modes"),
        approval_required: flag("approval_required"),
        qualification_required: flag("qualification_required"),
        book_when_faulty: flag("book_when_faulty"),
        slot_minutes: int("slot_minutes")?,
        min_minutes: int("min_minutes")?,
        max_minutes: int("max_minutes")?,
        notice_minutes: int("notice_minutes")?,
        horizon_days: int("horizon_days")?,
        cancel_deadline_minutes: int("cancel_deadline_minutes")?,
        no_show_grace_minutes: int("no_show_grace_minutes")?,
        max_active_per_user: int("max_active_per_user")?,
        max_samples: int("max_samples")?,
        own_hour_fen: fen("own_hour_fen")?,
        academic_hour_fen: fen("academic_hour_fen")?,
        enterprise_hour_fen: fen("enterprise_hour_fen")?,
        own_sample_fen: fen("own_sample_fen")?,
        academic_sample_fen: fen("academic_sample_fen")?,
        enterprise_sample_fen: fen("enterprise_sample_fen")?,
        min_fee_fen: fen("min_fee_fen")?,
        opening_hours: Some(serde_json::Value::Object(days)),
        ..Default::default()
    })
}

fn page(
    ctx: &Ctx,
    id: InstrumentId,
    name: &str,
    s: &BookingSettingsRow,
    values: &HashMap<String, String>,
) -> FormPage {
    let mut page = FormPage::new(
        ctx,
        format!("预约设置：{name}"),
        format!("/manage/instruments/{id}/booking-settings"),
        fields(s, values),
        "保存设置",
    );
    page.crumbs = vec![(format!("/instruments/{id}"), name.to_owned())];
    page.intro = vec![
        "价格按预约人所在单位分三档；为 0 的价格在页面上显示为“以审核确认为准”。".to_owned(),
        "开放时间按北京时间，多个时段用逗号分隔，如 08:00-12:00, 13:00-22:00。".to_owned(),
    ];
    page
}

/// The instrument's settings, for those who run it (403 for anyone else).
async fn load(
    state: &AppState,
    ctx: &Ctx,
    id: InstrumentId,
) -> Result<(String, BookingSettingsRow), super::WebError> {
    let who = ctx.require()?.clone();
    Ok(db::run(&state.pool, move |c| {
        let inst = crate::navigation::service::instrument_to_run(c, &who, id, || {
            AppError::NotFound { what: "instrument" }
        })?;
        Ok((inst.name_zh, settings::booking_settings(c, id)?))
    })
    .await?)
}

#[tracing::instrument(name = "web.settings.page", skip_all)]
pub async fn settings_page(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
) -> PageResult {
    let id: InstrumentId = path_id(&id)?;
    let (name, s) = load(&state, &ctx, id).await?;
    page(&ctx, id, &name, &s, &HashMap::new()).render()
}

#[tracing::instrument(name = "web.settings.save", skip_all)]
pub async fn save_settings(
    state: web::Data<AppState>,
    ctx: Ctx,
    id: web::Path<String>,
    form: Form,
) -> PageResult {
    let id: InstrumentId = path_id(&id)?;
    let (name, s) = load(&state, &ctx, id).await?;
    let who = ctx.require()?.clone();
    let result = match input(&form) {
        Ok(i) => {
            let (rules, now) = (state.booking_rules.clone(), state.clock.now());
            db::run(&state.pool, move |c| {
                settings::save_booking_settings(c, &who, &rules, id, &i, now)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/instruments/{id}"))),
        Err(e) => page(&ctx, id, &name, &s, &form).failed(e),
    }
}
