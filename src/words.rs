//! The platform's words, in one place: every page, form and export names a field with the word
//! of the national sharing platform, so that the editor, the instrument page and the report
//! cannot call one thing by two names (制造商 here, 生产厂商 there) or two things by one name
//! (服务方式 for how a service was given and for how an instrument is booked).
//!
//! Labels of coded values (共享模式's 对外共享, 服务方式's 委托共享 …) live with their enums
//! (`label_zh`); these are the names of the fields themselves.

// The instrument's national fields.
pub const NAME_ZH: &str = "仪器名称";
pub const NAME_EN: &str = "英文名称";
pub const ASSET_NO: &str = "资产编号";
pub const CATEGORY: &str = "仪器分类";
pub const MODEL: &str = "规格型号";
pub const MANUFACTURER: &str = "生产厂商";
pub const ORIGIN_COUNTRY: &str = "产地国别";
pub const IN_SERVICE_ON: &str = "启用日期";
/// The day an instrument joined the platform: a year counts it only from then.
pub const LISTED_ON: &str = "入网日期";
/// Always in 万元 with two decimals.
pub const ORIGINAL_VALUE: &str = "原值（万元）";
pub const SPECS: &str = "主要技术指标";
pub const FUNCTIONS: &str = "主要功能";
pub const SERVICE_CONTENT: &str = "服务内容";
pub const SHARING_RULES: &str = "开放共享规定";
pub const FEE_REFERENCE: &str = "收费标准";
pub const CITY: &str = "所在城市";
pub const ADDRESS: &str = "安放地址";
pub const UNIT: &str = "所属单位";
pub const DEPARTMENT: &str = "所在部门";
pub const CONTACT_NAME: &str = "联系人";
pub const CONTACT_PHONE: &str = "联系电话";
pub const CONTACT_EMAIL: &str = "联系邮箱";
/// Who may use it: 对外共享 / 内部共享 / 不共享.
pub const SHARE_MODE: &str = "共享模式";
pub const RUN_STATUS: &str = "运行状态";
pub const FUNDING_SOURCE: &str = "资金来源";
pub const ACQUISITION: &str = "取得方式";
/// 通用 / 专用.
pub const PURPOSE: &str = "通用/专用";
pub const DISCIPLINES: &str = "学科领域";
/// How it is booked: 机时预约 / 送样检测 (not 服务方式, which is how a service was given).
pub const BOOKING_MODES: &str = "预约方式";

// A service and its figures.
pub const SERVICE_TYPE: &str = "服务类型";
/// Who operated the instrument: 占用 / 技术 / 委托 / 远程共享.
pub const SERVICE_WAY: &str = "服务方式";
/// Always in hours with one decimal.
pub const MACHINE_HOURS: &str = "有效机时（小时）";
pub const EXTERNAL_HOURS: &str = "对外服务机时（小时）";
/// Always in 元 with two decimals.
pub const INCOME: &str = "服务收入（元）";
pub const CLIENT_UNITS: &str = "服务对象单位数";
pub const EXTERNAL_CLIENT_UNITS: &str = "其中外单位";
pub const INTERNAL_CLIENT_UNITS: &str = "其中本单位";
/// 科学研究 / 科技开发 / 教学 / 其他.
pub const DIRECTION: &str = "服务方向";
/// What was done for the client (national record, ≤ 200).
pub const SERVICE_CONTENT_DONE: &str = "服务内容";
pub const APPLICANT: &str = "申请人";
pub const LARGE_INSTRUMENT: &str = "大型仪器";
pub const SERVICES: &str = "服务次数";
/// Share of ratings at 非常满意 or 基本满意.
pub const SATISFACTION: &str = "满意度";
pub const RATINGS: &str = "评价条数";
pub const SAMPLE_COUNT: &str = "样品数";
/// The research the service was for (not the service itself).
pub const PROJECT: &str = "课题/项目名称";
/// Where the project's money comes from (not the instrument's 资金来源).
pub const PROJECT_FUNDING: &str = "经费来源";
/// What a booking is for, in the booker's words.
pub const BOOKING_PURPOSE: &str = "用途（测试内容）";
