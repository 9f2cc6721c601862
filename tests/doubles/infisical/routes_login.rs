//! Universal Auth login, `POST /api/v1/auth/universal-auth/login` (contract §3). Checks in
//! upstream's order: the client id (unknown: current 401 `Invalid credentials`, legacy 404), the
//! caller's IP against the config's `clientSecretTrustedIps` (403 `ForbiddenError`), the current
//! lockout, a matching non-revoked secret (a miss counts toward the lockout), the secret's TTL
//! and use limit (both mark it revoked), then a success adds one use and issues an opaque bearer
//! token whose expiry follows `accessTokenTTL` (0 = none) or `accessTokenPeriod`.
//! The double sees every caller as 127.0.0.1 (wiremock does not expose the peer address).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use super::Ctx;
use super::errors::{Check, Res, forbidden, not_found, unauthorized};
use super::state::{State, Token, now_ms, random_hex32};

const CALLER_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub fn login(st: &mut State, ctx: &Ctx) -> Res {
    let mut c = Check::new(&ctx.body, st.legacy());
    let client_id = c.str_req("clientId");
    let secret = c.str_req("clientSecret");
    c.finish()?;
    let legacy = st.legacy();
    let now = now_ms();
    let Some(ua) = st.uas.iter().position(|u| u.client_id == client_id) else {
        return Err(if legacy {
            // Legacy wording (unverified); the status is observed.
            not_found("No identity with specified client ID was found")
        } else {
            unauthorized("Invalid credentials")
        });
    };
    if !st.uas[ua]
        .client_secret_trusted_ips
        .iter()
        .any(|t| t.contains(CALLER_IP))
    {
        // Message from the legacy `lib/ip` (unverified for current builds).
        return Err(forbidden(
            "You are not allowed to access this resource from the current IP address",
        ));
    }
    let lockout = !legacy && st.uas[ua].lockout_enabled;
    if lockout && st.uas[ua].locked_until > now {
        return Err(unauthorized(
            "This identity auth method is temporarily locked, please try again later",
        ));
    }
    let ua_id = st.uas[ua].id.clone();
    let Some(si) = st
        .client_secrets
        .iter()
        .position(|s| s.ua_id == ua_id && !s.revoked && s.secret == secret)
    else {
        if lockout {
            let u = &mut st.uas[ua];
            if now.saturating_sub(u.failures_since)
                > (u.lockout_counter_reset_seconds as u64) * 1000
            {
                u.failures = 0;
                u.failures_since = now;
            }
            u.failures += 1;
            if u.failures >= u.lockout_threshold {
                u.locked_until = now + (u.lockout_duration_seconds as u64) * 1000;
                u.failures = 0;
            }
        }
        return Err(unauthorized("Invalid credentials"));
    };
    let s = &mut st.client_secrets[si];
    if s.ttl > 0 && now >= s.created_at + (s.ttl as u64) * 1000 {
        s.revoked = true;
        s.updated_at = now;
        return Err(unauthorized("Access denied due to expired client secret"));
    }
    if s.num_uses_limit > 0 && s.num_uses >= s.num_uses_limit {
        s.revoked = true;
        s.updated_at = now;
        return Err(unauthorized(
            "Access denied due to client secret usage limit reached",
        ));
    }
    s.num_uses += 1;
    s.updated_at = now;
    let u = &mut st.uas[ua];
    u.failures = 0;
    let (expires_in, max) = if u.access_token_period > 0 {
        (u.access_token_period, 1_000_000_000)
    } else {
        (u.access_token_ttl, u.access_token_max_ttl)
    };
    let token = format!("ifs-at-{}", random_hex32());
    st.tokens.push(Token {
        token: token.clone(),
        identity_id: st.uas[ua].identity_id.clone(),
        expires_at: (expires_in > 0).then(|| now + (expires_in as u64) * 1000),
    });
    Ok(
        json!({"accessToken": token, "expiresIn": expires_in, "accessTokenMaxTTL": max, "tokenType": "Bearer"}),
    )
}
