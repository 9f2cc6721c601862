//! `Sensitive<T>`: the one wrapper every secret travels in.
//!
//! A secret that is printed once is a secret that has leaked, so the wrapper makes the safe
//! thing the default: `Debug`, `Display` and `Serialize` all print `(sensitive value)`, and the
//! only way to the inner value is the explicit, greppable [`Sensitive::expose`]. The inner value
//! is zeroized when dropped.

use std::fmt;

use serde::{Serialize, Serializer};
use zeroize::Zeroize;

/// What every renderer prints in place of a secret.
pub const REDACTED: &str = "(sensitive value)";

/// A secret value. See the module documentation.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T: Zeroize>(T);

impl<T: Zeroize> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Call this only where the value leaves for its destination
    /// (a request body, a rendered artefact), never to print or log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The secret, to change it in place (a live object being flattened).
    pub fn expose_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Zeroize> Drop for Sensitive<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl From<String> for Sensitive<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_secret() {
        let s = Sensitive::new("canary-123".to_string());
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s:#?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"(sensitive value)\"");
        assert_eq!(s.expose(), "canary-123");
    }
}
