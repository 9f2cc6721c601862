//! Which redirects may be followed (only within the origin a request was sent to, so that a
//! token never reaches a host the operator did not name), how a transport error is told apart
//! (a refused redirect, a TLS verification failure), and the warning for plain HTTP to another
//! machine.

use thiserror::Error;

use super::MAX_REDIRECTS;

/// A redirect target in another origin (the error the redirect policy hands back).
#[derive(Debug, Error)]
#[error("redirect from {from} to {to}")]
pub(super) struct CrossOrigin {
    pub(super) from: String,
    pub(super) to: String,
}

fn origin(u: &reqwest::Url) -> (String, Option<String>, Option<u16>) {
    (
        u.scheme().to_owned(),
        u.host_str().map(str::to_owned),
        u.port_or_known_default(),
    )
}

/// Where a URL points, without its path (for messages).
fn origin_text(u: &reqwest::Url) -> String {
    let mut u = u.clone();
    u.set_path("");
    u.set_query(None);
    u.as_str().trim_end_matches('/').to_owned()
}

pub(super) fn same_origin_only(attempt: reqwest::redirect::Attempt) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.follow();
    };
    if origin(first) != origin(attempt.url()) {
        let e = CrossOrigin {
            from: origin_text(first),
            to: origin_text(attempt.url()),
        };
        return attempt.error(e);
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
    }
    attempt.follow()
}

/// The first error of type `T` in an error's source chain.
pub(super) fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// Whether an error is a TLS verification failure (rustls reports it inside an I/O error).
pub(super) fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        cur = err.source();
    }
    // Layers between reqwest and rustls do not always keep the error's type: its words stay.
    let words = innermost(e);
    words.contains("invalid peer certificate") || words.contains("certificate verify failed")
}

/// The most specific message in an error's source chain ("Connection refused (os error 111)"
/// rather than "error sending request").
pub fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let msg = cur.to_string();
    if e.to_string().contains("timed out") || msg.contains("timed out") {
        return "the request timed out".into();
    }
    msg
}

/// A warning when `address` is plain HTTP to another machine (the token and every secret
/// would travel in clear); loopback is fine.
pub fn plain_http_warning(address: &str) -> Option<String> {
    if !address.starts_with("http://") {
        return None;
    }
    let url = reqwest::Url::parse(address).ok()?;
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    };
    (!loopback).then(|| {
        format!(
            "{address} is plain HTTP to another machine: the token and every secret travel unencrypted; use https://"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_warned_about_only_off_this_machine() {
        for quiet in [
            "http://127.0.0.1:8200",
            "http://localhost:8200",
            "http://[::1]:8200",
            "https://vault.example:8200",
        ] {
            assert_eq!(plain_http_warning(quiet), None, "{quiet}");
        }
        for loud in ["http://vault.example:8200", "http://10.0.0.5:8200"] {
            assert!(plain_http_warning(loud).is_some(), "{loud}");
        }
    }

    #[test]
    fn another_scheme_host_or_port_is_another_origin() {
        let u = |s: &str| reqwest::Url::parse(s).expect("url");
        let base = origin(&u("https://bao.example:8200/v1/sys/mounts"));
        assert_eq!(base, origin(&u("https://bao.example:8200/v1/other")));
        for other in [
            "http://bao.example:8200/v1/sys/mounts",
            "https://evil.example:8200/v1/sys/mounts",
            "https://bao.example:8201/v1/sys/mounts",
        ] {
            assert_ne!(base, origin(&u(other)), "{other}");
        }
        assert_eq!(
            origin(&u("https://bao.example/x")),
            origin(&u("https://bao.example:443/y"))
        );
    }
}
