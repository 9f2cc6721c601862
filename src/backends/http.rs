//! The one HTTP layer every backend shares: TLS, timeouts, bounded retry with backoff.
//!
//! Retried: connection errors, 429 and 5xx (502/503/504 and 500), at most [`RETRIES`] times with
//! exponential backoff. Never retried: 4xx, whose answer will not change. No request body and no
//! header is ever logged here, because both may carry tokens or secrets.

use std::path::Path;
use std::time::Duration;

use thiserror::Error;

/// Retries after the first attempt.
pub const RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot read the CA certificate {path}: {reason}")]
    CaCert { path: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Build(String),
}

/// Builds a client: TLS verified against the OS trust store plus an optional CA file.
pub fn client(ca_cert: Option<&Path>, timeout: Duration) -> Result<reqwest::Client, HttpError> {
    // reqwest is built without a default crypto provider (ring builds faster than aws-lc and
    // needs no cmake); install it once. A second install returns Err, which is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .user_agent(concat!("aegisctl/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|e| HttpError::CaCert {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| HttpError::CaCert {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpError::Build(innermost(&e)))
}

/// Whether an answer with this status is worth another attempt.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=504).contains(&status) && status != 501
}

/// The backoff before attempt `n` (1-based retry count).
pub fn backoff(n: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(n.saturating_sub(1))
}

/// Sends a request, retrying per the module's policy. `make` builds a fresh request for each
/// attempt. Returns the last response (which may be an error status) or the last transport error.
pub async fn send(
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut attempt = 0;
    loop {
        let result = make().send().await;
        let retry = match &result {
            Ok(resp) => retryable_status(resp.status().as_u16()),
            Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
        };
        if !retry || attempt >= RETRIES {
            return result;
        }
        attempt += 1;
        tracing::debug!(attempt, "retrying after a transient failure");
        tokio::time::sleep(backoff(attempt)).await;
    }
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
