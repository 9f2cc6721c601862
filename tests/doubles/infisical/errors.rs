//! Replies, error bodies and request-body validation of the Infisical double.
//!
//! Infisical (Fastify + zod) answers every handled error with
//! `{"reqId","statusCode","message","error"}`; a schema failure is 422 `ValidationFailure` with
//! `message` set to the array of zod issues (401 on legacy builds, contract §12); an unknown
//! route gets Fastify's own 404 body without `reqId`. This module builds those bodies and
//! checks request bodies the way zod does in non-strict mode (unknown keys dropped, missing or
//! wrong-typed required keys reported as issues), so the handlers only hold business rules.

use serde_json::{Map, Value, json};

/// What a handler answers: a status and a JSON body (`None` = empty plain body).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

/// Handlers answer `Ok(body)` (always 200, contract §1) or a finished error reply.
pub type Res = Result<Value, Reply>;

/// A handled error. The `reqId` is filled in by the dispatcher (`req-<n>`), which owns the
/// counter; the placeholder here is replaced before the reply leaves.
pub fn err(status: u16, error: &str, message: impl Into<Value>) -> Reply {
    Reply {
        status,
        body: Some(json!({
            "reqId": "",
            "statusCode": status,
            "message": message.into(),
            "error": error,
        })),
    }
}

pub fn bad_request(message: impl Into<String>) -> Reply {
    err(400, "BadRequest", message.into())
}

pub fn not_found(message: impl Into<String>) -> Reply {
    err(404, "NotFound", message.into())
}

pub fn unauthorized(message: &str) -> Reply {
    err(401, "UnauthorizedError", message)
}

pub fn forbidden(message: &str) -> Reply {
    err(403, "ForbiddenError", message)
}

/// A failed CASL check: `You are not allowed to <action> on <subject>`, with `details`.
pub fn permission_denied(action: &str, subject: &str) -> Reply {
    let mut r = err(
        403,
        "PermissionDenied",
        format!("You are not allowed to {action} on {subject}"),
    );
    if let Some(Value::Object(m)) = r.body.as_mut() {
        m.insert("details".into(), json!([]));
    }
    r
}

/// 500 with the DB operation name as `error`, as legacy builds answer a failed query.
pub fn internal(error: &str) -> Reply {
    err(500, error, "Something went wrong")
}

/// Fastify's own answer to a route it does not have (no `reqId`).
pub fn route_not_found(method: &str, url: &str) -> Reply {
    Reply {
        status: 404,
        body: Some(json!({
            "message": format!("Route {method}:{url} not found"),
            "error": "Not Found",
            "statusCode": 404,
        })),
    }
}

/// A schema failure: 422 on current servers, 401 on legacy ones (contract §12), always with
/// `error: "ValidationFailure"` and the issue array as `message`.
pub fn validation(legacy: bool, issues: Vec<Value>) -> Reply {
    err(
        if legacy { 401 } else { 422 },
        "ValidationFailure",
        Value::Array(issues),
    )
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// A zod-like checker over one JSON object (a body or a query). Each accessor records an issue
/// instead of failing, so one reply lists every problem, as zod does.
pub struct Check {
    obj: Map<String, Value>,
    issues: Vec<Value>,
    legacy: bool,
}

impl Check {
    /// A body that is not a JSON object is checked as an empty one: every required key is
    /// then reported missing (what zod says about `undefined` fields).
    pub fn new(v: &Value, legacy: bool) -> Check {
        Check {
            obj: v.as_object().cloned().unwrap_or_default(),
            issues: Vec::new(),
            legacy,
        }
    }

    /// A check over query parameters (all strings).
    pub fn query(pairs: &[(String, String)], legacy: bool) -> Check {
        let obj = pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        Check {
            obj,
            issues: Vec::new(),
            legacy,
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.obj.get(key)
    }

    fn wrong_type(&mut self, key: &str, expected: &str) {
        let got = type_name(self.obj.get(key));
        let message = if got == "undefined" {
            "Required".to_owned()
        } else {
            format!("Expected {expected}, received {got}")
        };
        self.issues.push(json!({
            "code": "invalid_type",
            "expected": expected,
            "received": got,
            "path": [key],
            "message": message,
        }));
    }

    pub fn custom(&mut self, key: &str, message: &str) {
        self.issues
            .push(json!({"code": "custom", "message": message, "path": [key]}));
    }

    pub fn str_req(&mut self, key: &str) -> String {
        match self.obj.get(key) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.wrong_type(key, "string");
                String::new()
            }
        }
    }

    /// `null` is treated like absent only where zod schemas say `.nullable().optional()`; the
    /// routes modelled here use `.optional()`, so `null` is a type error like any other.
    pub fn str_opt(&mut self, key: &str) -> Option<String> {
        match self.obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                self.wrong_type(key, "string");
                None
            }
        }
    }

    /// A string with length bounds (`min`..=`max` characters).
    pub fn str_len(&mut self, key: &str, s: &str, min: usize, max: usize) {
        let n = s.chars().count();
        if n < min {
            self.issues.push(json!({
                "code": "too_small", "minimum": min, "type": "string", "inclusive": true,
                "exact": false, "path": [key],
                "message": format!("String must contain at least {min} character(s)"),
            }));
        } else if n > max {
            self.issues.push(json!({
                "code": "too_big", "maximum": max, "type": "string", "inclusive": true,
                "exact": false, "path": [key],
                "message": format!("String must contain at most {max} character(s)"),
            }));
        }
    }

    pub fn bool_opt(&mut self, key: &str) -> Option<bool> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            _ => {
                self.wrong_type(key, "boolean");
                None
            }
        }
    }

    /// A query-string boolean (`"true"`/`"false"`), as zod's `z.enum(["true","false"])`.
    pub fn query_bool(&mut self, key: &str) -> Option<bool> {
        match self.obj.get(key).and_then(Value::as_str) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                self.issues.push(json!({
                    "code": "invalid_enum_value", "options": ["true", "false"], "path": [key],
                    "message": "Invalid enum value. Expected 'true' | 'false'",
                }));
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub fn int_opt(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.obj.get(key)?;
        let Some(n) = v.as_i64() else {
            if v.is_number() {
                self.issues.push(json!({
                    "code": "invalid_type", "expected": "integer", "received": "float",
                    "path": [key], "message": "Expected integer, received float",
                }));
            } else {
                self.wrong_type(key, "number");
            }
            return None;
        };
        if n < min {
            self.issues.push(json!({
                "code": "too_small", "minimum": min, "type": "number", "inclusive": true,
                "exact": false, "path": [key],
                "message": format!("Number must be greater than or equal to {min}"),
            }));
            return None;
        }
        if n > max {
            self.issues.push(json!({
                "code": "too_big", "maximum": max, "type": "number", "inclusive": true,
                "exact": false, "path": [key],
                "message": format!("Number must be less than or equal to {max}"),
            }));
            return None;
        }
        Some(n)
    }

    pub fn array_opt(&mut self, key: &str) -> Option<Vec<Value>> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            _ => {
                self.wrong_type(key, "array");
                None
            }
        }
    }

    /// The slug rule of `server/lib/schemas.ts`: lowercase letters and digits in runs joined by
    /// single hyphens.
    pub fn slug(&mut self, key: &str, s: &str) {
        if !is_slug(s) {
            self.custom(key, "Slug must be a valid slug");
        }
    }

    pub fn finish(self) -> Result<(), Reply> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(validation(self.legacy, self.issues))
        }
    }
}

pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|run| {
            !run.is_empty()
                && run
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}
