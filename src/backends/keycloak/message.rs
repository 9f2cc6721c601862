//! Keycloak's own words from an error body. Keycloak answers errors in four JSON shapes that
//! depend on how the server raised them, not on the status (contract §1.3): `errorMessage`
//! (409 duplicates, validation), `error` + `error_description` (OAuth, `invalid_input`, 500),
//! `error` alone (401/403/404 prose). An operator needs whichever is there.

use serde_json::Value;

/// The most useful text of a Keycloak error body, or a short fallback. The caller scrubs it of
/// the request's secrets: Keycloak may echo a field's value back in a validation message.
pub(super) fn server_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (
        field("errorMessage"),
        field("error"),
        field("error_description"),
    ) {
        (Some(m), _, _) => match field("field") {
            Some(f) => format!("{m} (field {f})"),
            None => m.to_owned(),
        },
        (None, Some(e), Some(d)) => format!("{e}: {d}"),
        (None, Some(e), None) => e.to_owned(),
        (None, None, Some(d)) => d.to_owned(),
        (None, None, None) => {
            let t = text.trim();
            if t.is_empty() {
                "no message".into()
            } else {
                t.chars().take(200).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_shape_gives_its_words() {
        assert_eq!(
            server_message(r#"{"errorMessage":"Client web already exists"}"#),
            "Client web already exists"
        );
        assert_eq!(
            server_message(
                r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#
            ),
            "invalid_grant: Invalid user credentials"
        );
        assert_eq!(
            server_message(r#"{"error":"Realm not found."}"#),
            "Realm not found."
        );
        assert_eq!(
            server_message(r#"{"errorMessage":"invalid","field":"email"}"#),
            "invalid (field email)"
        );
        assert_eq!(server_message(""), "no message");
        assert_eq!(
            server_message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }
}
