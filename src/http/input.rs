//! The one door for untrusted text. Every JSON body, form body and URI passes through here, so
//! the rules hold everywhere at once:
//! - no NUL character in any text (PostgreSQL cannot store one and would answer 500; SQLite
//!   would store it): a 400 naming the field;
//! - a JSON object where the API expects one (serde's derived structs also take an array of
//!   the fields in order, so `["email", "password"]` would sign in): a 400 naming the field;
//! - a body larger than the route's limit is a 413 before it is read to the end.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

use crate::error::{AppError, AppResult};

/// The largest body a route reads unless it sets its own [`BodyLimit`]. The biggest legitimate
/// body (the instrument editor with every national field at its maximum) is under 8 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// A route's own body limit, set as its `app_data` (routes that take files would raise it).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn limit_of(req: &HttpRequest) -> usize {
    req.app_data::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(DEFAULT_BODY_LIMIT)
}

/// Refuses text with a NUL character.
pub fn refuse_nul(field: &str, text: &str) -> AppResult<()> {
    if text.contains('\0') {
        return Err(AppError::bad_request(
            field,
            format!("{field} 含有 NUL 字符 (contains a NUL character)"),
        ));
    }
    Ok(())
}

type BodyFuture = Pin<Box<dyn Future<Output = AppResult<web::Bytes>>>>;

/// Reads the request body up to the route's limit: 413 as soon as it is known to be larger.
pub fn read_body(req: &HttpRequest, payload: &mut Payload) -> BodyFuture {
    let limit = limit_of(req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(AppError::PayloadTooLarge { limit });
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| AppError::bad_request("body", e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(AppError::PayloadTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    })
}

fn is_json(req: &HttpRequest) -> bool {
    let ct = req.content_type().to_ascii_lowercase();
    ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
}

/// A JSON request body, read strictly (see the module comment).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let body = read_body(req, payload);
        Box::pin(async move {
            if !json {
                return Err(AppError::bad_request(
                    "Content-Type",
                    "请求体须为 application/json (the body must be application/json)",
                ));
            }
            parse(&body.await?).map(Json)
        })
    }
}

/// A JSON body that may be left out (empty = the defaults) but must be valid when sent.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            parse(&body).map(OptionalJson)
        })
    }
}

/// Parses a JSON document into `T` by the rules of this module.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> AppResult<T> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        AppError::bad_request("body", format!("不是有效的 JSON (not valid JSON): {e}"))
    })?;
    T::deserialize(Strict(value))
        .map_err(|e| AppError::bad_request(e.field.unwrap_or_else(|| "body".to_owned()), e.message))
}

/// Refuses a NUL in the path or the query string: it can only arrive there as `%00`, since the
/// HTTP parser refuses a raw one.
pub async fn refuse_nul_in_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let field = if req.path().contains("%00") {
        Some("path".to_owned())
    } else if req.query_string().contains("%00") {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        Some(
            pairs
                .into_iter()
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                .map(|(k, _)| k.replace('\0', ""))
                .unwrap_or_else(|| "query".to_owned()),
        )
    } else {
        None
    };
    match field {
        Some(field) => {
            let err = AppError::bad_request(
                field.clone(),
                format!("{field} 含有 NUL 字符 (contains a NUL character)"),
            );
            let res = super::respond_with_error(req.request(), err);
            Ok(req.into_response(res))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

// --- the strict reader ------------------------------------------------------------------------

/// Where a value failed, relative to the value being read (`new_organisation.name`,
/// `user_ids[2]`), and why.
#[derive(Debug)]
struct StrictError {
    field: Option<String>,
    message: String,
}

impl StrictError {
    fn at(self, step: &str) -> StrictError {
        let field = match self.field {
            None => step.to_owned(),
            Some(f) if f.starts_with('[') => format!("{step}{f}"),
            Some(f) => format!("{step}.{f}"),
        };
        StrictError {
            field: Some(field),
            message: self.message,
        }
    }
}

impl std::fmt::Display for StrictError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StrictError {}

impl de::Error for StrictError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        StrictError {
            field: None,
            message: msg.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        StrictError {
            field: Some(field.to_owned()),
            message: format!("missing field `{field}`"),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        StrictError {
            field: Some(field.replace('\0', "")),
            message: format!(
                "unknown field `{}`, expected one of: {}",
                field.replace('\0', ""),
                expected.join(", ")
            ),
        }
    }
}

fn text(s: String) -> Result<String, StrictError> {
    if s.contains('\0') {
        return Err(StrictError {
            field: None,
            message: "含有 NUL 字符 (contains a NUL character)".to_owned(),
        });
    }
    Ok(s)
}

fn not_an_object(v: &Value) -> StrictError {
    de::Error::invalid_type(unexpected(v), &"a JSON object")
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// A JSON value read through serde with the module's rules: structs and maps only from
/// objects, and text checked wherever it stands (values, keys, enum variants).
struct Strict(Value);

struct Seq {
    items: std::vec::IntoIter<Value>,
    index: usize,
}

struct Object {
    entries: serde_json::map::IntoIter,
    value: Option<(String, Value)>,
}

impl Object {
    fn new(map: Map<String, Value>) -> Object {
        Object {
            entries: map.into_iter(),
            value: None,
        }
    }
}

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = StrictError;
    fn next_element_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, StrictError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let at = format!("[{}]", self.index);
        self.index += 1;
        seed.deserialize(Strict(item))
            .map(Some)
            .map_err(|e| e.at(&at))
    }
}

impl<'de> de::MapAccess<'de> for Object {
    type Error = StrictError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, StrictError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = text(key).map_err(|e| e.at("body"))?;
        let out = seed.deserialize(Strict(Value::String(key.clone())))?;
        self.value = Some((key, value));
        Ok(Some(out))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, StrictError> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| <StrictError as de::Error>::custom("a value without its key"))?;
        seed.deserialize(Strict(value)).map_err(|e| e.at(&key))
    }
}

struct Variant {
    name: String,
    value: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = StrictError;
    type Variant = Strict;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Strict), StrictError> {
        let name = seed.deserialize(self.name.into_deserializer())?;
        Ok((name, Strict(self.value.unwrap_or(Value::Null))))
    }
}

impl<'de> de::VariantAccess<'de> for Strict {
    type Error = StrictError;
    fn unit_variant(self) -> Result<(), StrictError> {
        match self.0 {
            Value::Null => Ok(()),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a unit variant",
            )),
        }
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, StrictError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, StrictError> {
        de::Deserializer::deserialize_seq(self, v)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, StrictError> {
        de::Deserializer::deserialize_map(self, v)
    }
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = StrictError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    v.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    v.visit_i64(i)
                } else {
                    v.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => v.visit_string(text(s)?),
            Value::Array(items) => v.visit_seq(Seq {
                items: items.into_iter(),
                index: 0,
            }),
            Value::Object(map) => v.visit_map(Object::new(map)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, StrictError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::Object(map) => v.visit_map(Object::new(map)),
            other => Err(not_an_object(&other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, StrictError> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, StrictError> {
        match self.0 {
            Value::String(s) => v.visit_enum(Variant {
                name: text(s)?,
                value: None,
            }),
            Value::Object(map) if map.len() == 1 => {
                let Some((name, value)) = map.into_iter().next() else {
                    return Err(de::Error::custom("an empty object"));
                };
                v.visit_enum(Variant {
                    name: text(name)?,
                    value: Some(value),
                })
            }
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a string code",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Org {
        name: String,
        kind: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        ids: Vec<i64>,
        org: Option<Org>,
    }

    fn field(body: &str) -> String {
        match parse::<Body>(body.as_bytes()) {
            Err(AppError::BadRequest { field, .. }) => field,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn objects_only_and_no_nul_with_the_field_named() {
        let ok: Body = parse(br#"{"email":"a@x.cn","ids":[1,2],"org":{"name":"n"}}"#).unwrap();
        assert_eq!(ok.ids, vec![1, 2]);
        assert_eq!(field(r#"["a@x.cn",[1]]"#), "body");
        assert_eq!(
            field(r#"{"email":"a@x.cn","ids":[],"org":["n",null]}"#),
            "org"
        );
        assert_eq!(field(r#"{"email":"a\u0000b@x.cn","ids":[]}"#), "email");
        assert_eq!(
            field(r#"{"email":"a","ids":[],"org":{"name":"\u0000"}}"#),
            "org.name"
        );
        assert_eq!(field(r#"{"email":"a","ids":[1,"x"]}"#), "ids[1]");
        assert_eq!(field(r#"{"email":"a","ids":[],"org":{}}"#), "org.name");
        assert_eq!(field(r#"{"email":"a","ids":[],"zzz":1}"#), "zzz");
        assert_eq!(field(r#"{"ids":[]}"#), "email");
        assert_eq!(field(r#"{"email":"a","ids":[],"\u0000":1}"#), "body");
    }
}
