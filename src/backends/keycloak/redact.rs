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

/// What a digest of a secret starts with: a value that is one is never digested again.
pub const DIGEST_PREFIX: &str = "hmac-sha256-run:";

/// A digest of a secret under a key that lives only in this process: two values compare equal
/// exactly when their digests do, and a digest that escaped (it never should) tells nothing —
/// not even to whoever can guess candidate secrets, since the key died with the run. This is
/// how a declared client secret compares with the one Keycloak answers in clear.
pub fn digest(secret: &str) -> String {
    use hmac::{Hmac, Mac};
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(rand::random);
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC takes a key of any length; this arm is never taken.
        Err(_) => return DIGEST_PREFIX.to_owned(),
    };
    mac.update(secret.as_bytes());
    format!(
        "{DIGEST_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_compare_secrets_without_showing_them() {
        let a = digest("canary-digest");
        assert_eq!(a, digest("canary-digest"));
        assert_ne!(a, digest("canary-digesT"));
        assert!(a.starts_with(DIGEST_PREFIX) && !a.contains("canary"));
    }

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
