//! Infisical's own words from an error body. Handled errors answer
//! `{reqId, statusCode, message, error}`, where `message` is a string, except for validation
//! failures whose `message` is an array of zod issues (contract §2); an unknown route answers
//! Fastify's body without `reqId`. The operator needs the words either way, and the tool needs
//! the `error` name (`ValidationFailure`, `TokenError`) to branch on.

use serde_json::Value;

/// What an error body says.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ServerMessage {
    /// The body's `error` name (empty when absent).
    pub error: String,
    /// The message, zod issues flattened as `path.to.field: message; ...`.
    pub message: String,
    /// Fastify's "Route GET:/api/... not found": the route does not exist on this server.
    pub no_route: bool,
}

/// Reads an error body. The caller scrubs `message` of the request's secrets: a validation
/// message may echo a field's value.
pub(super) fn server_message(text: &str) -> ServerMessage {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let Some(v) = parsed.as_ref().filter(|v| v.is_object()) else {
        let t = text.trim();
        return ServerMessage {
            message: if t.is_empty() {
                "no message".into()
            } else {
                t.chars().take(200).collect()
            },
            ..ServerMessage::default()
        };
    };
    let error = v
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let message = match v.get("message") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Array(issues)) => issues.iter().map(issue).collect::<Vec<_>>().join("; "),
        Some(other) => other.to_string().chars().take(200).collect(),
        None => String::new(),
    };
    let no_route = v.get("reqId").is_none()
        && message.starts_with("Route ")
        && message.ends_with(" not found");
    ServerMessage {
        error,
        message: if message.is_empty() {
            "no message".into()
        } else {
            message
        },
        no_route,
    }
}

/// One zod issue as `path.to.field: message` (`message` alone at the root).
fn issue(v: &Value) -> String {
    let text = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("invalid");
    let path: Vec<String> = v
        .get("path")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .map(|s| match s {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    if path.is_empty() {
        text.to_owned()
    } else {
        format!("{}: {text}", path.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_message_and_its_error_name() {
        let m = server_message(
            r#"{"reqId":"req-1","statusCode":400,"message":"Secret already exist","error":"BadRequest"}"#,
        );
        assert_eq!(m.error, "BadRequest");
        assert_eq!(m.message, "Secret already exist");
        assert!(!m.no_route);
    }

    #[test]
    fn zod_issues_become_field_paths() {
        let m = server_message(
            r#"{"reqId":"r","statusCode":422,"error":"ValidationFailure","message":[
                {"code":"invalid_type","message":"Required","path":["roles",0,"role"]},
                {"code":"too_small","message":"String must contain at least 1 character(s)","path":["name"]},
                {"code":"custom","message":"Bad body","path":[]}]}"#,
        );
        assert_eq!(m.error, "ValidationFailure");
        assert_eq!(
            m.message,
            "roles.0.role: Required; name: String must contain at least 1 character(s); Bad body"
        );
    }

    #[test]
    fn fastify_route_not_found_and_non_json() {
        let m = server_message(
            r#"{"message":"Route GET:/api/v1/projects not found","error":"Not Found","statusCode":404}"#,
        );
        assert!(m.no_route);
        let handled = server_message(
            r#"{"reqId":"r","message":"Route GET:/x not found","error":"NotFound","statusCode":404}"#,
        );
        assert!(!handled.no_route, "a handled 404 has a reqId");
        assert_eq!(server_message("").message, "no message");
        assert_eq!(
            server_message("<html>502</html>").message,
            "<html>502</html>"
        );
    }
}
