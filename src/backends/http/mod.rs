//! The one HTTP layer every backend shares: TLS, redirects, and retries that know what is safe.
//!
//! - **Redirects** are followed only within the origin (scheme, host and port) the request was
//!   sent to: a token header must never reach a host the operator did not name. A redirect
//!   elsewhere is not followed: it is retried like a 503 (a raft standby redirects to the dead
//!   leader during an election) and, if it lasts, is an error naming both addresses.
//! - **Retries**: connection failures, lost answers, 429, 502/503/504 are retried with
//!   exponential backoff and jitter, honouring `Retry-After`; a 500 a few times only (it is
//!   usually an answer, not an outage). TLS verification failures and other 4xx never are.
//!   A request that must not happen twice ([`Retry::OnlyIfUnsent`], minting a SecretID) is sent
//!   again only when its first attempt surely did not reach the server.
//! - **A run-wide budget** ([`Health`]): every request of a run shares one clock of "how long has
//!   the server been failing". An outage shorter than the budget (a raft leader election) is
//!   ridden through; once it lasts longer, the circuit opens: no request is sent any more and
//!   every caller gets [`SendError::BudgetSpent`] at once, so a run against a dead server ends
//!   with its summary instead of retrying each remaining object.
//!
//! No request body and no header is ever logged here, because both may carry tokens or secrets.

use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

mod health;
mod origin;

pub use health::Health;
use origin::{CrossOrigin, find, is_tls, same_origin_only};
pub use origin::{innermost, plain_http_warning};

/// How long a run keeps retrying while the server answers nothing useful.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Attempts at a request that keeps answering 500 (an error of the server's, not an outage).
const SERVER_ERROR_ATTEMPTS: u32 = 3;
const MAX_REDIRECTS: usize = 5;
/// Before the server has answered once in this run, a refused connection is most likely a
/// wrong address or a stopped server, not an election: give up after this long.
const FIRST_CONTACT: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot use the CA certificate file {path}: {reason}")]
    CaCert { path: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Build(String),
}

/// Whether a request may be sent again when the fate of an attempt is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Sending it twice does what sending it once does (reads, lists, deletes, overwrites); or
    /// a second send is refused ("already in use", a check-and-set mismatch) and the caller
    /// recognises its own first attempt by re-reading (see `BaoError::may_have_landed`).
    Safe,
    /// Must not happen twice (minting a SecretID): sent again only when the attempt surely did
    /// not reach the server (the connection was refused, or the answer was 429).
    OnlyIfUnsent,
}

/// A complete answer: its status, the headers aegisctl uses, the body, and how many attempts
/// it took (more than one means an earlier attempt may have been done by the server too).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub text: String,
    /// OpenBao's `X-Vault-Index`: the storage state this answer reflects.
    pub index: Option<String>,
    /// `Location`: where a create put the new object (Keycloak answers 201 with it).
    pub location: Option<String>,
    pub attempts: u32,
}

/// Why a request ended without an answer to return.
#[derive(Debug, Error)]
pub enum SendError {
    /// The server never got the request (connection refused, DNS, TLS handshake cut).
    #[error("{reason}")]
    Unreachable { reason: String },
    /// The request was sent but no answer came back: the server may or may not have done it.
    #[error("the request was sent but its answer was lost ({reason})")]
    Lost { reason: String },
    /// The server's certificate was not accepted: trying again would not change that.
    #[error("TLS verification failed: {reason}")]
    Tls { reason: String },
    /// A redirect to another origin, not followed so that the token stays where it was sent.
    #[error(
        "{from} redirected to {to}, another origin; aegisctl does not carry its token across origins"
    )]
    CrossOrigin { from: String, to: String },
    /// The run's retry budget is spent: the server has failed for longer than it.
    #[error(
        "no useful answer for {}s, the retry budget (--retry-budget): {last}",
        .budget.as_secs()
    )]
    BudgetSpent { budget: Duration, last: String },
}

/// Builds a client: TLS verified against the OS trust store plus an optional CA file, and
/// redirects followed only within one origin.
pub fn client(ca_cert: Option<&Path>, timeout: Duration) -> Result<reqwest::Client, HttpError> {
    // reqwest is built without a default crypto provider (ring builds faster than aws-lc and
    // needs no cmake); install it once. A second install returns Err, which is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .redirect(reqwest::redirect::Policy::custom(same_origin_only))
        .user_agent(concat!("aegisctl/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let bad = |reason: String| HttpError::CaCert {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
        // A file with no PEM certificate in it parses as an empty bundle: silently trusting
        // nothing extra would surface later as an unexplained "UnknownIssuer".
        if certs.is_empty() {
            return Err(bad(
                "it holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)".into(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpError::Build(innermost(&e)))
}

/// Whether an answer with this status is worth another attempt at all.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// The backoff before retry `n` (1-based): exponential, capped, with jitter so that many
/// requests failing together do not come back together.
pub fn backoff(n: u32) -> Duration {
    let cap = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(n.saturating_sub(1).min(16)))
        .min(MAX_BACKOFF);
    let half = cap / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// `Retry-After` as delta-seconds (what OpenBao and most proxies send).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: u64 = v.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// One attempt, body included: an answer whose body is cut off is a lost answer.
async fn attempt(
    rb: reqwest::RequestBuilder,
) -> Result<(Answer, Option<Duration>), reqwest::Error> {
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let wait = retry_after(&resp);
    let index = resp
        .headers()
        .get("x-vault-index")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await?;
    Ok((
        Answer {
            status,
            text,
            index,
            location,
            attempts: 0,
        },
        wait,
    ))
}

/// Sends a request, retrying per the module's policy. `make` builds a fresh request for each
/// attempt. Returns the last answer (which may be an error status) or why there is none.
pub async fn send(
    make: impl Fn() -> reqwest::RequestBuilder,
    retry: Retry,
    health: &Health,
) -> Result<Answer, SendError> {
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        if let Some(last) = health.open_reason() {
            return Err(SendError::BudgetSpent {
                budget: health.budget(),
                last,
            });
        }
        attempts += 1;
        let began = Instant::now();
        let (answer, hint, error) = match attempt(make()).await {
            Ok((a, hint)) => (Some(a), hint, None),
            Err(e) => (None, None, Some(e)),
        };
        // A redirect elsewhere is not followed. A standby answers so while its cluster has
        // no leader (pointing at the dead one), so it is an outage to ride through like a
        // 503, reported as the redirect it is if it lasts.
        let redirect = error
            .as_ref()
            .and_then(|e| find::<CrossOrigin>(e))
            .map(|co| (co.from.clone(), co.to.clone()));
        let cross = |r: &(String, String)| SendError::CrossOrigin {
            from: r.0.clone(),
            to: r.1.clone(),
        };
        if let Some(e) = &error
            && redirect.is_none()
            && is_tls(e)
        {
            return Err(SendError::Tls {
                reason: innermost(e),
            });
        }
        let status = answer.as_ref().map(|a| a.status);
        if status.is_some_and(|s| !retryable_status(s)) {
            health.good();
            return finish(answer, error, attempts);
        }
        let reason = match (status, &error) {
            _ if redirect.is_some() => redirect
                .as_ref()
                .map(|r| cross(r).to_string())
                .unwrap_or_default(),
            (Some(s), _) => format!("answered {s}"),
            (None, Some(e)) => innermost(e),
            (None, None) => "no answer".into(),
        };
        // Surely not processed: the connection was never made, or the server said "later".
        let unsent = status == Some(429)
            || redirect.is_some()
            || error.as_ref().is_some_and(|e| e.is_connect());
        let give_up = |answer, error| match &redirect {
            Some(r) => Err(cross(r)),
            None => finish(answer, error, attempts),
        };
        if retry == Retry::OnlyIfUnsent && !unsent {
            return give_up(answer, error);
        }
        let never_answered = !health.answered_once();
        if never_answered && status.is_none() && started.elapsed() >= FIRST_CONTACT {
            return give_up(answer, error);
        }
        // A 500 is the server speaking: a few attempts, outside the outage clock. A 429 too
        // (the server is there, pacing us), bounded by the budget per request.
        // OpenBao's "no active node" during a raft election is an outage, not an error.
        let election = answer.as_ref().is_some_and(|a| {
            a.text.contains("active cluster node not found")
                || a.text.contains("local node not active")
        });
        let remaining = match status {
            Some(500) if election => health.bad(began, &reason),
            Some(500) if attempts >= SERVER_ERROR_ATTEMPTS => None,
            Some(500) => Some(MAX_BACKOFF),
            Some(429) => health.budget().checked_sub(started.elapsed()),
            _ => health.bad(began, &reason),
        };
        let Some(remaining) = remaining else {
            return match (status, &redirect) {
                (_, Some(r)) => Err(cross(r)),
                (Some(_), None) => finish(answer, error, attempts),
                (None, None) => Err(SendError::BudgetSpent {
                    budget: health.budget(),
                    last: reason,
                }),
            };
        };
        let wait = hint.unwrap_or_default().max(backoff(attempts));
        if hint.is_some() && wait > remaining {
            // The server asks for longer than the budget allows: its answer stands.
            return give_up(answer, error);
        }
        tracing::debug!(attempts, ?wait, %reason, "retrying after a transient failure");
        tokio::time::sleep(wait.min(remaining)).await;
    }
}

/// The last attempt's answer, or why there is none.
fn finish(
    answer: Option<Answer>,
    error: Option<reqwest::Error>,
    attempts: u32,
) -> Result<Answer, SendError> {
    match (answer, error) {
        (Some(a), _) => Ok(Answer { attempts, ..a }),
        (None, Some(e)) if e.is_connect() => Err(SendError::Unreachable {
            reason: innermost(&e),
        }),
        (None, Some(e)) => Err(SendError::Lost {
            reason: innermost(&e),
        }),
        (None, None) => Err(SendError::Lost {
            reason: "no answer".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for n in 1..20 {
            let b = backoff(n);
            assert!(b <= MAX_BACKOFF, "{n}: {b:?}");
        }
        assert!(backoff(1) <= FIRST_BACKOFF);
        assert!(backoff(4) >= FIRST_BACKOFF * 4);
        let samples: std::collections::BTreeSet<Duration> = (0..20).map(|_| backoff(5)).collect();
        assert!(samples.len() > 1, "no jitter: {samples:?}");
    }
}
