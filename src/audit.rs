//! The audit log: every administrative action, written in the action's own transaction
//! (who, what, when, before and after), readable by platform admins.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{audit_log, users};
use crate::db::{Db, DbConnection};
use crate::error::{AppError, AppResult};
use crate::types::{PageRequest, Paged, UserId};

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
struct NewEntry {
    actor_id: Option<UserId>,
    action: String,
    target_type: String,
    target_id: Option<i64>,
    before_json: Option<String>,
    after_json: Option<String>,
    at: NaiveDateTime,
}

/// What an audited action was done to.
#[derive(Debug, Clone, Copy)]
pub struct Target(pub &'static str, pub Option<i64>);

fn json(value: Option<&impl Serialize>) -> AppResult<Option<String>> {
    value
        .map(|v| serde_json::to_string(v).map_err(AppError::internal))
        .transpose()
}

/// Records an action; call it inside the transaction that does it.
pub fn record<B: Serialize, A: Serialize>(
    conn: &mut DbConnection,
    actor: Option<UserId>,
    action: &str,
    target: Target,
    before: Option<&B>,
    after: Option<&A>,
    at: NaiveDateTime,
) -> AppResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewEntry {
            actor_id: actor,
            action: action.to_owned(),
            target_type: target.0.to_owned(),
            target_id: target.1,
            before_json: json(before)?,
            after_json: json(after)?,
            at,
        })
        .execute(conn)?;
    Ok(())
}

/// What an audited action did, as the verb of a sentence ("张三 批准了预约 #12").
pub fn action_zh(action: &str) -> &'static str {
    match action {
        "reservation.approve" => "批准了预约",
        "reservation.reject" => "不批准预约",
        "reservation.cancel" => "取消了预约",
        "reservation.check-in" => "为预约签到上机",
        "reservation.check-out" => "为预约登记下机",
        "reservation.accept" => "受理了送样",
        "reservation.start-test" => "开始检测送样",
        "reservation.report" => "为送样出具报告",
        "reservation.complete" => "完成了送样",
        "ban.create" => "设置了禁约",
        "ban.lift" => "解除了禁约",
        "blackout.create" => "设置了停机时段",
        "booking_settings.update" => "修改了预约设置",
        "instrument.create" => "新增了仪器",
        "instrument.update" => "修改了仪器",
        "instrument.retire" => "退役了仪器",
        "instrument.managers" => "指定了仪器负责人",
        "mail.retry" => "重新发送了邮件",
        "organisation.approve" => "通过了单位申请",
        "staff.add" => "添加了单位人员",
        "staff.invite" => "邀请了单位人员",
        "staff.remove" => "移除了单位人员",
        "staff.role" => "修改了人员角色",
        "user.disable" => "停用了账户",
        "user.enable" => "启用了账户",
        "violation.record" => "记录了违约",
        "qualification.approve" => "批准了上机资格",
        "qualification.refuse" => "拒绝了上机资格",
        "sub_platform.create" => "新增了子平台",
        "sub_platform.update" => "修改了子平台",
        "unit.create" => "新增了单位",
        "unit.update" => "修改了单位",
        "rating.reply" => "回复了评价",
        "complaint.accept" => "受理了投诉",
        "complaint.send_back" => "不予受理投诉",
        "complaint.answer" => "答复了投诉",
        "complaint.uphold" => "裁定投诉成立",
        "complaint.partly_uphold" => "裁定投诉部分成立",
        "complaint.reject" => "裁定投诉不成立",
        "complaint.rectify" => "报告了投诉整改",
        "rectification.issue" => "下达了限期整改通知",
        "rectification.report" => "报告了整改情况",
        "rectification.close" => "结束了整改",
        "rectification.extend" => "延长了整改期限",
        "holiday.put" => "设置了节假日",
        "article.submit" => "提交了文章",
        "article.publish" => "发布了文章",
        "article.return" => "退回了文章",
        "holiday.delete" => "删除了节假日",
        _ => "操作了",
    }
}

/// An entry as a sentence a person reads: who did what to which (by name where the entry
/// kept one), whose it was (`whose`, the booker or applicant), and the reason given.
/// "张三 批准了预约 #12（王五）".
pub fn sentence(e: &Entry, whose: Option<&str>) -> String {
    let after = e.after.as_ref();
    let field = |k: &str| after.and_then(|a| a.get(k)?.as_str().map(str::to_owned));
    let object = match (field("name_zh").or_else(|| field("name")), e.target_id) {
        (Some(name), _) => format!("「{name}」"),
        (None, Some(id)) => format!(" #{id}"),
        (None, None) => String::new(),
    };
    let whose = whose
        .filter(|_| e.target_type != "user")
        .map(|n| format!("（{n}）"))
        .unwrap_or_default();
    let reason = field("reason")
        .map(|r| format!("，原因：{r}"))
        .unwrap_or_default();
    format!(
        "{} {}{object}{whose}{reason}",
        e.actor.as_ref().map_or("系统", |a| a.name.as_str()),
        action_zh(&e.action),
    )
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub actor: Option<Actor>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Actor {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<UserId>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub action: Option<String>,
}

fn filtered(f: &Filter) -> audit_log::BoxedQuery<'static, Db> {
    let mut q = audit_log::table.into_boxed();
    if let Some(a) = f.actor {
        q = q.filter(audit_log::actor_id.eq(a));
    }
    if let Some(t) = &f.target_type {
        q = q.filter(audit_log::target_type.eq(t.clone()));
    }
    if let Some(id) = f.target_id {
        q = q.filter(audit_log::target_id.eq(id));
    }
    if let Some(action) = &f.action {
        q = q.filter(audit_log::action.eq(action.clone()));
    }
    q
}

type Row = (
    i64,
    Option<i64>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// Newest first.
pub fn list(conn: &mut DbConnection, f: &Filter, page: PageRequest) -> AppResult<Paged<Entry>> {
    let rows: Vec<Row> = filtered(f)
        .select((
            audit_log::id,
            audit_log::actor_id,
            audit_log::action,
            audit_log::target_type,
            audit_log::target_id,
            audit_log::before_json,
            audit_log::after_json,
            audit_log::at,
        ))
        .order(audit_log::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .load(conn)?;
    let total = filtered(f).count().get_result(conn)?;
    let actor_ids: Vec<i64> = rows.iter().filter_map(|r| r.1).collect();
    let actors: Vec<(i64, String, String)> = users::table
        .filter(users::id.eq_any(&actor_ids))
        .select((users::id, users::name, users::email))
        .load(conn)?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    let items = rows
        .into_iter()
        .map(
            |(id, actor, action, target_type, target_id, before, after, at)| Entry {
                id,
                actor: actor.and_then(|a| {
                    actors.iter().find(|x| x.0 == a).map(|x| Actor {
                        id: UserId(x.0),
                        name: x.1.clone(),
                        email: x.2.clone(),
                    })
                }),
                action,
                target_type,
                target_id,
                before: parse(before),
                after: parse(after),
                at: at.and_utc(),
            },
        )
        .collect();
    Ok(Paged::new(items, total, page))
}
