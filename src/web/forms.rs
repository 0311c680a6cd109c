//! The three page shapes the account, management and admin pages share: a form, a table
//! with row actions, and a message.

use actix_web::http::header;
use actix_web::HttpResponse;
use askama::Template;

use super::explain::explain;
use super::pages::Pager;
use super::session::Ctx;
use super::{html, html_with_status, WebError};
use crate::error::AppError;
use crate::http::input;

pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// text | email | password | number | date | textarea | select | hidden
    pub kind: &'static str,
    pub value: String,
    pub options: Vec<(String, String)>,
    pub required: bool,
    pub max: usize,
    pub error: Option<String>,
    /// How to fill it in ("两位小数", "本单位内唯一"), after the label, which stays the word
    /// of [`crate::words`].
    pub hint: &'static str,
}

impl Field {
    pub fn new(
        name: &'static str,
        label: &'static str,
        kind: &'static str,
        value: impl Into<String>,
    ) -> Field {
        Field {
            name,
            label,
            kind,
            value: value.into(),
            options: Vec::new(),
            required: false,
            max: 0,
            error: None,
            hint: "",
        }
    }

    pub fn hint(mut self, hint: &'static str) -> Field {
        self.hint = hint;
        self
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub fn max(mut self, max: usize) -> Field {
        self.max = max;
        self
    }

    pub fn options(mut self, options: Vec<(String, String)>) -> Field {
        self.options = options;
        self
    }
}

pub struct FormPage {
    pub title: String,
    pub crumbs: Vec<(String, String)>,
    pub intro: Vec<String>,
    pub action: String,
    pub csrf: String,
    pub fields: Vec<Field>,
    pub submit: &'static str,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub links: Vec<(String, String)>,
    /// Offer to send the verification e-mail again (the profile of an unverified account).
    pub resend: bool,
}

impl FormPage {
    pub fn new(
        ctx: &Ctx,
        title: impl Into<String>,
        action: impl Into<String>,
        fields: Vec<Field>,
        submit: &'static str,
    ) -> FormPage {
        FormPage {
            title: title.into(),
            crumbs: Vec::new(),
            intro: Vec::new(),
            action: action.into(),
            csrf: ctx.csrf.clone(),
            fields,
            submit,
            error: None,
            notice: None,
            links: Vec::new(),
            resend: false,
        }
    }

    /// Shows why a post was refused next to the field it concerns (or above the form, when
    /// it concerns none), in the words of [`explain`]; a missing target or a fault of the
    /// service becomes an error page.
    pub fn with_error(mut self, err: AppError) -> Result<FormPage, WebError> {
        if matches!(err, AppError::NotFound { .. } | AppError::Internal(_)) {
            return Err(WebError(err));
        }
        let said = explain(&err);
        let field = said.field.as_deref().and_then(|k| {
            self.fields
                .iter_mut()
                .find(|f| f.name == k && f.kind != "hidden")
        });
        match field {
            Some(f) => {
                f.error = Some(said.text);
                self.error = Some("请修改标出的项目后再提交。".to_owned());
            }
            None => self.error = Some(said.text),
        }
        Ok(self)
    }

    pub fn render_with_status(
        self,
        status: actix_web::http::StatusCode,
    ) -> Result<HttpResponse, WebError> {
        html_with_status(&FormTemplate { page: &self }, status)
    }

    pub fn render(self) -> Result<HttpResponse, WebError> {
        html(&FormTemplate { page: &self })
    }

    /// The form again after `err`, with the status the error carries (422, 409, 429 …).
    pub fn failed(self, err: AppError) -> Result<HttpResponse, WebError> {
        let status = actix_web::ResponseError::status_code(&err);
        self.with_error(err)?.render_with_status(status)
    }
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormTemplate<'a> {
    page: &'a FormPage,
}

pub enum Cell {
    Text(String),
    Link(String, String),
    /// Lines of one cell: a name, then where, whom to call …
    Lines(Vec<Line>),
    /// A link drawn as a button (a step that asks for confirmation first).
    Button(String, &'static str),
    Actions(Vec<RowAction>),
}

/// One line of a [`Cell::Lines`]: text, a link (`tel:` and `mailto:` included), or quieter
/// text.
pub struct Line {
    pub text: String,
    pub href: Option<String>,
    pub muted: bool,
    /// Needs attention now (a deadline that is close or past): drawn in red.
    pub alert: bool,
}

impl Line {
    pub fn text(text: impl Into<String>) -> Line {
        Line {
            text: text.into(),
            href: None,
            muted: false,
            alert: false,
        }
    }

    pub fn alert(text: impl Into<String>) -> Line {
        Line {
            alert: true,
            ..Line::text(text)
        }
    }

    pub fn muted(text: impl Into<String>) -> Line {
        Line {
            muted: true,
            ..Line::text(text)
        }
    }

    pub fn link(href: impl Into<String>, text: impl Into<String>) -> Line {
        Line {
            href: Some(href.into()),
            ..Line::text(text)
        }
    }

    /// A telephone number one can tap to call.
    pub fn tel(phone: &str) -> Line {
        let digits: String = phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        Line::link(format!("tel:{digits}"), phone)
    }

    pub fn mail(email: &str) -> Line {
        Line::link(format!("mailto:{email}"), email)
    }
}

pub struct RowAction {
    pub action: String,
    pub label: &'static str,
    /// Hidden fields; a field named `reason` becomes a text box with its value as placeholder.
    pub fields: Vec<(String, String)>,
}

impl RowAction {
    /// A step that needs a reason (a refusal): drawn as a form of its own, marked destructive.
    pub fn asks_reason(&self) -> bool {
        self.fields.iter().any(|(k, _)| k == "reason")
    }
}

pub struct TablePage {
    pub title: String,
    pub crumbs: Vec<(String, String)>,
    pub intro: Vec<String>,
    pub notice: Option<String>,
    pub links: Vec<(String, String)>,
    pub headers: Vec<std::borrow::Cow<'static, str>>,
    pub rows: Vec<Vec<Cell>>,
    pub pager: Option<Pager>,
    pub csrf: String,
    /// Tabs above the table: (address, label, count, current).
    pub tabs: Vec<(String, &'static str, i64, bool)>,
    /// Why a step taken on row N was refused, shown under that row.
    pub row_error: Option<(usize, String)>,
    /// The list's own address, posted with every row's step so that the step comes back to
    /// it (its tab and page) whether it succeeds or not.
    pub back: Option<String>,
    /// Bar charts above the table.
    pub charts: Vec<super::usage::Chart>,
}

impl TablePage {
    pub fn new(ctx: &Ctx, title: impl Into<String>, headers: Vec<&'static str>) -> TablePage {
        TablePage {
            title: title.into(),
            crumbs: Vec::new(),
            intro: Vec::new(),
            notice: None,
            links: Vec::new(),
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            pager: None,
            csrf: ctx.csrf.clone(),
            charts: Vec::new(),
            tabs: Vec::new(),
            row_error: None,
            back: None,
        }
    }

    /// The header of column `i`, which a phone shows beside the cell.
    pub fn label(&self, i: &usize) -> &str {
        self.headers.get(*i).map_or("", |h| h.as_ref())
    }

    pub fn render(self) -> Result<HttpResponse, WebError> {
        self.render_with_status(actix_web::http::StatusCode::OK)
    }

    /// The table with `status`: a list shown again with why a step on one row was refused.
    pub fn render_with_status(
        self,
        status: actix_web::http::StatusCode,
    ) -> Result<HttpResponse, WebError> {
        debug_assert!(
            self.rows.iter().all(|r| r.len() == self.headers.len()),
            "{}: a row's cells do not match the {} headers",
            self.title,
            self.headers.len()
        );
        html_with_status(&TableTemplate { page: &self }, status)
    }
}

#[derive(Template)]
#[template(path = "table.html")]
struct TableTemplate<'a> {
    page: &'a TablePage,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub links: Vec<(String, String)>,
}

impl MessagePage {
    pub fn render(self) -> Result<HttpResponse, WebError> {
        html(&self)
    }
}

/// After a successful POST: go to `to` (303, so a reload does not post again).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// A form's text field, or empty.
pub fn get<'a>(form: &'a std::collections::HashMap<String, String>, key: &str) -> &'a str {
    form.get(key).map(String::as_str).unwrap_or("")
}

/// A form's optional text field: empty means absent.
pub fn opt(form: &std::collections::HashMap<String, String>, key: &str) -> Option<String> {
    form.get(key).filter(|v| !v.trim().is_empty()).cloned()
}

/// A form body (`application/x-www-form-urlencoded`), read through the same door as JSON: the
/// route's size limit (413) and no NUL in any name or value (400 naming the field).
pub struct Form(pub std::collections::HashMap<String, String>);

impl std::ops::Deref for Form {
    type Target = std::collections::HashMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl actix_web::FromRequest for Form {
    type Error = WebError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Form, WebError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        use actix_web::HttpMessage;
        let urlencoded = req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded");
        let session = req.extensions().get::<Ctx>().map(|c| c.csrf.clone());
        let body = input::read_body(req, payload);
        Box::pin(async move {
            if !urlencoded {
                return Err(WebError(AppError::bad_request(
                    "Content-Type",
                    "表单须为 application/x-www-form-urlencoded",
                )));
            }
            let body = body.await?;
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|e| AppError::bad_request("form", e.to_string()))?;
            let mut form = std::collections::HashMap::with_capacity(pairs.len());
            for (k, v) in pairs {
                input::refuse_nul("form", &k)?;
                input::refuse_nul(&k, &v)?;
                form.insert(k, v);
            }
            // Every form repeats the session's CSRF token; checking it here, where every form
            // is read, means no handler can forget it.
            let given = form.get("csrf").map(String::as_str).unwrap_or_default();
            Ctx::verify_csrf(session.as_deref().unwrap_or_default(), given)?;
            Ok(Form(form))
        })
    }
}

/// A form post whose fields the handler does not read (a button): reading it as a [`Form`]
/// verifies its CSRF token.
pub struct CsrfChecked;

impl actix_web::FromRequest for CsrfChecked {
    type Error = WebError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, WebError>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let form = Form::from_request(req, payload);
        Box::pin(async move { form.await.map(|_| CsrfChecked) })
    }
}
