//! Secrets Keycloak hands back in clear, taken out of its answers the moment they are read.
//!
//! `GET /admin/realms/{realm}/clients` (and `GET /clients/{id}`) return each confidential
//! client's `secret` in clear (contract addendum); a representation that keeps it would carry it
//! into plans, diffs, logs and snapshots. Every client representation goes through
//! [`redact_client`] before anything else looks at it.

use serde_json::Value;

use crate::sensitive::Sensitive;

/// The fields of a client representation that are credentials: `secret` (the client secret,
/// returned in clear) and `registrationAccessToken` (a bearer token for the client's dynamic
/// registration endpoint, present when one was issued).
pub const CLIENT_SECRET_FIELDS: &[&str] = &["secret", "registrationAccessToken"];

/// Removes every credential from a client representation and returns the client secret, if
/// there was one. Call it on every client representation as soon as it is read.
pub fn redact_client(client: &mut Value) -> Option<Sensitive<String>> {
    let obj = client.as_object_mut()?;
    let mut secret = None;
    for key in CLIENT_SECRET_FIELDS {
        if let Some(Value::String(s)) = obj.remove(*key)
            && *key == "secret"
        {
            // Moved, not copied: the one copy lives on in the wrapper, zeroized on drop.
            secret = Some(Sensitive::new(s));
        }
    }
    secret
}

/// Takes the value out of a credential representation (`GET`/`POST .../client-secret` answer
/// `{"type":"secret","value":"..."}`; `value` is absent for a public client).
pub fn redact_credential(credential: &mut Value) -> Option<Sensitive<String>> {
    match credential.as_object_mut()?.remove("value") {
        Some(Value::String(s)) => Some(Sensitive::new(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_secret_leaves_the_representation() {
        let mut c = json!({"id": "u1", "clientId": "web", "secret": "canary-s3cret",
            "registrationAccessToken": "canary-rat", "publicClient": false});
        let s = redact_client(&mut c).unwrap();
        assert_eq!(s.expose(), "canary-s3cret");
        let text = c.to_string();
        assert!(!text.contains("canary"), "{text}");
        assert_eq!(c["clientId"], "web");
        assert!(redact_client(&mut json!({"clientId": "pub"})).is_none());
        let mut cred = json!({"type": "secret", "value": "canary-v"});
        assert_eq!(redact_credential(&mut cred).unwrap().expose(), "canary-v");
        assert_eq!(cred, json!({"type": "secret"}));
    }
}
