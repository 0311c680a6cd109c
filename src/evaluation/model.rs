//! 评价: what a client says of a service, and what the host unit answers.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::ratings;
use crate::types::{InstrumentId, RatingId, ServiceRecordId, UserId};

/// The national five-level scale; the figures count by it, so it lives with them.
pub use crate::usage::model::Level;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ratings)]
pub struct RatingRow {
    pub id: RatingId,
    pub service_record_id: ServiceRecordId,
    pub instrument_id: InstrumentId,
    pub rater_id: UserId,
    pub overall: Level,
    pub attitude: Level,
    pub quality: Level,
    pub timeliness: Level,
    pub price: Level,
    pub condition: Level,
    pub comment: String,
    pub reply: Option<String>,
    pub replied_by: Option<UserId>,
    pub replied_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ratings)]
pub struct NewRating {
    pub service_record_id: ServiceRecordId,
    pub instrument_id: InstrumentId,
    pub rater_id: UserId,
    pub overall: Level,
    pub attitude: Level,
    pub quality: Level,
    pub timeliness: Level,
    pub price: Level,
    pub condition: Level,
    pub comment: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Body of `POST` and `PUT /api/v1/service-records/{id}/rating`: each score one of
/// `very_satisfied`, `satisfied`, `neutral`, `dissatisfied`, `very_dissatisfied`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    pub overall: String,
    /// 服务态度
    pub attitude: String,
    /// 技术水平
    pub quality: String,
    /// 及时性
    pub timeliness: String,
    /// 收费合理性
    pub price: String,
    /// 仪器状态
    pub condition: String,
    /// At most 500 characters.
    #[serde(default)]
    pub comment: String,
}

/// The scores, read from a [`RatingInput`].
#[derive(Debug, Clone, Copy)]
pub struct Scores {
    pub overall: Level,
    pub attitude: Level,
    pub quality: Level,
    pub timeliness: Level,
    pub price: Level,
    pub condition: Level,
}

/// Body of `POST /api/v1/ratings/{id}/reply`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    /// 1 to 500 characters, shown under the rating.
    pub reply: String,
}

/// A rating as its rater and the unit's staff see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rating {
    pub id: RatingId,
    pub service_record_id: ServiceRecordId,
    pub instrument_id: InstrumentId,
    pub overall: Level,
    pub overall_label: &'static str,
    pub attitude: Level,
    pub quality: Level,
    pub timeliness: Level,
    pub price: Level,
    pub condition: Level,
    pub comment: String,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<RatingRow> for Rating {
    fn from(r: RatingRow) -> Self {
        Rating {
            id: r.id,
            service_record_id: r.service_record_id,
            instrument_id: r.instrument_id,
            overall: r.overall,
            overall_label: r.overall.label_zh(),
            attitude: r.attitude,
            quality: r.quality,
            timeliness: r.timeliness,
            price: r.price,
            condition: r.condition,
            comment: r.comment,
            reply: r.reply,
            replied_at: r.replied_at.map(|t| t.and_utc()),
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

/// A rating as everyone sees it on the instrument's page: the rater by organisation only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicRating {
    pub id: RatingId,
    pub overall: Level,
    pub overall_label: &'static str,
    pub comment: String,
    /// "吉林大学 用户", or "用户" when the account names no organisation.
    pub rater: String,
    pub reply: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// How many ratings gave each level.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LevelCount {
    pub level: Level,
    pub label: &'static str,
    pub count: i64,
}

/// What an instrument's clients said: `GET /api/v1/instruments/{id}/ratings`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RatingSummary {
    pub count: i64,
    /// Mean score, 5 = 非常满意 … 1 = 极差, to one decimal; none without ratings.
    pub average: Option<f64>,
    /// Share of ratings at the top two levels (满意度), none without ratings.
    pub satisfaction: Option<f64>,
    /// Every level, best first, with its count.
    pub distribution: Vec<LevelCount>,
    /// The latest ratings, newest first.
    pub recent: Vec<PublicRating>,
}

impl RatingSummary {
    pub fn from_counts(counts: &[(Level, i64)], recent: Vec<PublicRating>) -> RatingSummary {
        let count: i64 = counts.iter().map(|c| c.1).sum();
        let of = |l: Level| counts.iter().filter(|c| c.0 == l).map(|c| c.1).sum::<i64>();
        let (average, satisfaction) = if count == 0 {
            (None, None)
        } else {
            let total: i64 = counts.iter().map(|(l, n)| l.score() * n).sum();
            let satisfied: i64 = counts.iter().filter(|c| c.0.satisfied()).map(|c| c.1).sum();
            (
                Some(((total * 10 + count / 2) / count) as f64 / 10.0),
                Some(satisfied as f64 / count as f64),
            )
        };
        RatingSummary {
            count,
            average,
            satisfaction,
            distribution: Level::ALL
                .iter()
                .map(|&l| LevelCount {
                    level: l,
                    label: l.label_zh(),
                    count: of(l),
                })
                .collect(),
            recent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_the_top_two_levels_and_rounds_the_average() {
        let s = RatingSummary::from_counts(
            &[
                (Level::VerySatisfied, 2),
                (Level::Satisfied, 1),
                (Level::VeryDissatisfied, 1),
            ],
            Vec::new(),
        );
        assert_eq!(s.count, 4);
        // (5 + 5 + 4 + 1) / 4 = 3.75 → 3.8
        assert_eq!(s.average, Some(3.8));
        assert_eq!(s.satisfaction, Some(0.75));
        assert_eq!(s.distribution.len(), 5);
        assert_eq!(s.distribution[4].count, 1);
        let none = RatingSummary::from_counts(&[], Vec::new());
        assert_eq!(
            (none.count, none.average, none.satisfaction),
            (0, None, None)
        );
    }
}
