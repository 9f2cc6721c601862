//! API paths built from route literals and data, so that a name is never URL syntax.
//!
//! A name from the topology (a policy called `admin#old`, a KV path with a space, a role with a
//! `?`) must reach the server as exactly that name: formatted into a URL unencoded, `#` starts a
//! fragment and `?` a query, and the server reads another object than the one named. An
//! [`ApiPath`] only takes route text as `&'static str` (it cannot come from the topology) and
//! every piece of data through [`ApiPath::path`] or [`ApiPath::name`], which percent-encode each
//! segment (everything but RFC 3986's unreserved characters). Segments a URL parser would
//! rewrite (`.`, `..`, empty) or a server cannot hold (control characters) are refused before
//! any request: [`check_segment`] is also what `validate` applies to the topology's names.

use std::fmt;

/// A request path relative to the API root (`sys/policies/acl/admin%23old`), with an optional
/// query. Its `Display` is the decoded form, for messages.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiPath {
    encoded: String,
    display: String,
    query: Vec<(&'static str, String)>,
    /// Why a data segment cannot be sent, if one cannot.
    invalid: Option<String>,
}

/// Why a path segment cannot name an object, or `None` when it can.
pub fn check_segment(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        Some("an empty path segment (a leading, trailing or doubled `/`)")
    } else if segment == "." || segment == ".." {
        Some("a `.` or `..` segment, which a URL parser would remove or climb with")
    } else if segment.chars().any(char::is_control) {
        Some("a control character")
    } else {
        None
    }
}

/// Why a `/`-separated data path cannot name an object, or `None` when it can.
pub fn check_path(path: &str) -> Option<&'static str> {
    path.split('/').find_map(check_segment)
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes one segment: every byte outside RFC 3986's unreserved set.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for &b in segment.as_bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded segment (the server's view of it); `None` for invalid UTF-8 or a
/// malformed escape.
pub fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl ApiPath {
    /// A route literal such as `sys/policies/acl`: trusted text of the code, never data.
    pub fn route(route: &'static str) -> ApiPath {
        let route = route.trim_matches('/');
        ApiPath {
            encoded: route.to_owned(),
            display: route.to_owned(),
            query: Vec::new(),
            invalid: None,
        }
    }

    fn push(&mut self, encoded: &str, display: &str) {
        if !self.encoded.is_empty() {
            self.encoded.push('/');
            self.display.push('/');
        }
        self.encoded.push_str(encoded);
        self.display.push_str(display);
    }

    /// Appends more route literal (`keys`, `config`, `data`).
    pub fn lit(mut self, route: &'static str) -> ApiPath {
        let route = route.trim_matches('/');
        if !route.is_empty() {
            self.push(route, route);
        }
        self
    }

    /// Appends a data path of one or more `/`-separated segments (a mount path, a KV path, a
    /// namespace path), each encoded.
    pub fn path(mut self, data: &str) -> ApiPath {
        for segment in data.split('/') {
            if let Some(why) = check_segment(segment) {
                self.invalid
                    .get_or_insert_with(|| format!("`{}` has {why}", data.escape_debug()));
            }
            self.push(&encode_segment(segment), segment);
        }
        self
    }

    /// Appends one data segment; a `/` in it is encoded too.
    pub fn name(mut self, data: &str) -> ApiPath {
        if let Some(why) = check_segment(data) {
            self.invalid
                .get_or_insert_with(|| format!("`{}` has {why}", data.escape_debug()));
        }
        self.push(&encode_segment(data), data);
        self
    }

    /// Appends a data prefix for LIST (`tools/`): the segments of `prefix`, and the trailing
    /// slash that asks for what is below.
    pub fn dir(self, prefix: &str) -> ApiPath {
        let trimmed = prefix.trim_end_matches('/');
        let mut p = if trimmed.is_empty() {
            self
        } else {
            self.path(trimmed)
        };
        p.encoded.push('/');
        p.display.push('/');
        p
    }

    /// Adds a query parameter (its value encoded).
    pub fn query(mut self, key: &'static str, value: &str) -> ApiPath {
        self.query.push((key, value.to_owned()));
        self
    }

    /// The path and query as they go into the URL, or why they cannot.
    pub fn encoded(&self) -> Result<String, String> {
        if let Some(why) = &self.invalid {
            return Err(format!("the name {why}: it cannot be sent to the server"));
        }
        let mut out = self.encoded.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(&encode_segment(v));
        }
        Ok(out)
    }

    /// The path as people read it (decoded, without the query).
    pub fn as_str(&self) -> &str {
        &self.display
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiPath({:?})", self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_data() {
        let p = ApiPath::route("sys/policies/acl").name("admin#old");
        assert_eq!(p.encoded().unwrap(), "sys/policies/acl/admin%23old");
        assert_eq!(p.to_string(), "sys/policies/acl/admin#old");
        let kv = ApiPath::route("")
            .path("team/kv")
            .lit("data")
            .path("a b/c?d");
        assert_eq!(kv.encoded().unwrap(), "team/kv/data/a%20b/c%3Fd");
        let q = ApiPath::route("sys/plugins/catalog/secret")
            .name("aws")
            .query("version", "v1.0+x");
        assert_eq!(
            q.encoded().unwrap(),
            "sys/plugins/catalog/secret/aws?version=v1.0%2Bx"
        );
        assert_eq!(
            ApiPath::route("kv/metadata").dir("a/").encoded().unwrap(),
            "kv/metadata/a/"
        );
        assert_eq!(
            ApiPath::route("kv/metadata").dir("").encoded().unwrap(),
            "kv/metadata/"
        );
    }

    #[test]
    fn route_changing_segments_are_refused() {
        for bad in ["..", ".", "a//b", "/a", "a/", "a\nb", "a/../b"] {
            assert!(
                ApiPath::route("kv/data").path(bad).encoded().is_err(),
                "{bad:?}"
            );
            assert!(check_path(bad).is_some(), "{bad:?}");
        }
        assert!(check_path("a/.b/c..d/...").is_none());
    }

    /// A segment the validator accepts: any text without `/` that is not empty, `.` or `..`
    /// and has no control character.
    fn segment() -> impl Strategy<Value = String> {
        any::<String>().prop_filter("a valid segment", |s| {
            !s.contains('/') && check_segment(s).is_none()
        })
    }

    proptest! {
        /// What a URL parser and the server make of the encoded path is exactly the names put in.
        #[test]
        fn round_trip_through_a_url(segments in prop::collection::vec(segment(), 1..5)) {
            let data = segments.join("/");
            let path = ApiPath::route("auth/approle/role").path(&data).lit("secret-id");
            let url = reqwest::Url::parse(&format!("https://bao.example:8200/v1/{}", path.encoded().unwrap())).unwrap();
            let got: Vec<String> = url
                .path_segments()
                .unwrap()
                .map(|s| decode_segment(s).unwrap())
                .collect();
            let mut want = vec!["v1".to_owned(), "auth".into(), "approle".into(), "role".into()];
            want.extend(segments.iter().cloned());
            want.push("secret-id".into());
            prop_assert_eq!(got, want);
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            prop_assert_eq!(path.to_string(), format!("auth/approle/role/{data}/secret-id"));
        }

        #[test]
        fn encoding_round_trips(s in any::<String>()) {
            prop_assert_eq!(decode_segment(&encode_segment(&s)), Some(s));
        }
    }
}
