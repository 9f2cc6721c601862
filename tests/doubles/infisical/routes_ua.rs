//! Universal Auth: the UA config of an identity (contract §5), `clear-lockouts` (current only),
//! and the identity's client secrets (§6). Models the behaviours the tool branches on:
//! attach-twice 400, TTL above max TTL 400, trusted-IP parsing and the unlicensed plan's refusal
//! of anything but the open ranges (checked before validity, as upstream's attach maps the
//! list), absent-UA answers that differ between current and legacy builds, secrets listed only
//! while not revoked, readable by id when revoked, and revoke being idempotent. Login is in
//! `routes_login.rs`.

use serde_json::{Value, json};

use super::errors::{Check, Res, bad_request, not_found};
use super::ip::TrustedIp;
use super::routes_identity::{find_identity, require_admin};
use super::state::{ClientSecret, State, Ua, iso, now_ms, random_hex32, uuid};
use super::{Ctx, Reply, auth};

const MAX_TTL: i64 = 315_360_000;

pub fn handle(st: &mut State, ctx: &Ctx) -> Option<Res> {
    let segs: Vec<&str> = ctx.segs.iter().map(String::as_str).collect();
    let m = ctx.method.as_str();
    let legacy = st.legacy();
    Some(match (m, segs.as_slice()) {
        ("POST", ["v1", "auth", "universal-auth", "login"]) => super::routes_login::login(st, ctx),
        ("POST", ["v1", "auth", "universal-auth", "identities", id]) => attach(st, ctx, id),
        ("GET", ["v1", "auth", "universal-auth", "identities", id]) => read(st, ctx, id),
        ("PATCH", ["v1", "auth", "universal-auth", "identities", id]) => update(st, ctx, id),
        ("DELETE", ["v1", "auth", "universal-auth", "identities", id]) => remove(st, ctx, id),
        (
            "POST",
            [
                "v1",
                "auth",
                "universal-auth",
                "identities",
                id,
                "clear-lockouts",
            ],
        ) if !legacy => clear_lockouts(st, ctx, id),
        (
            "POST",
            [
                "v1",
                "auth",
                "universal-auth",
                "identities",
                id,
                "client-secrets",
            ],
        ) => secret_create(st, ctx, id),
        (
            "GET",
            [
                "v1",
                "auth",
                "universal-auth",
                "identities",
                id,
                "client-secrets",
            ],
        ) => secret_list(st, ctx, id),
        (
            "GET",
            [
                "v1",
                "auth",
                "universal-auth",
                "identities",
                id,
                "client-secrets",
                sid,
            ],
        ) => secret_get(st, ctx, id, sid),
        (
            "POST",
            [
                "v1",
                "auth",
                "universal-auth",
                "identities",
                id,
                "client-secrets",
                sid,
                "revoke",
            ],
        ) => secret_revoke(st, ctx, id, sid),
        _ => return None,
    })
}

fn ua_json(st: &State, u: &Ua) -> Value {
    let ips = |l: &[TrustedIp]| Value::Array(l.iter().map(TrustedIp::json).collect());
    let mut v = json!({
        "id": u.id,
        "clientId": u.client_id,
        "identityId": u.identity_id,
        "accessTokenTTL": u.access_token_ttl,
        "accessTokenMaxTTL": u.access_token_max_ttl,
        "accessTokenNumUsesLimit": u.access_token_num_uses_limit,
        "accessTokenPeriod": u.access_token_period,
        "clientSecretTrustedIps": ips(&u.client_secret_trusted_ips),
        "accessTokenTrustedIps": ips(&u.access_token_trusted_ips),
        "createdAt": iso(u.created_at),
        "updatedAt": iso(u.updated_at),
    });
    if !st.legacy() {
        v["lockoutEnabled"] = json!(u.lockout_enabled);
        v["lockoutThreshold"] = json!(u.lockout_threshold);
        v["lockoutDurationSeconds"] = json!(u.lockout_duration_seconds);
        v["lockoutCounterResetSeconds"] = json!(u.lockout_counter_reset_seconds);
    }
    v
}

fn secret_json(s: &ClientSecret) -> Value {
    json!({
        "id": s.id,
        "createdAt": iso(s.created_at),
        "updatedAt": iso(s.updated_at),
        "description": s.description,
        "clientSecretPrefix": &s.secret[..4],
        "clientSecretNumUses": s.num_uses,
        "clientSecretNumUsesLimit": s.num_uses_limit,
        "clientSecretTTL": s.ttl,
        "identityUAId": s.ua_id,
        "isClientSecretRevoked": s.revoked,
    })
}

/// Reads a trusted-IP list from the body: at least one `{ipAddress}` item.
fn ip_list(c: &mut Check, key: &str) -> Option<Vec<String>> {
    let items = c.array_opt(key)?;
    if items.is_empty() {
        c.custom(key, "Array must contain at least 1 element(s)");
        return None;
    }
    let mut out = Vec::new();
    for it in &items {
        match it["ipAddress"].as_str() {
            Some(s) => out.push(s.trim().to_owned()),
            None => c.custom(key, "Required"),
        }
    }
    Some(out)
}

/// Upstream's attach/update mapping: the plan check comes first (an exact comparison with the
/// two open ranges), then validity, then parsing.
fn parse_ips(st: &State, org_id: &str, list: &[String]) -> Result<Vec<TrustedIp>, Reply> {
    let licensed = st.org(org_id).is_some_and(|o| o.ip_allowlisting);
    list.iter()
        .map(|s| {
            if !licensed && s != "0.0.0.0/0" && s != "::/0" {
                return Err(bad_request(
                    "Failed to add IP access range to service token due to plan restriction. Upgrade plan to add IP access range.",
                ));
            }
            TrustedIp::parse(s)
                .ok_or_else(|| bad_request("The IP is not a valid IPv4, IPv6, or CIDR block"))
        })
        .collect()
}

struct UaBody {
    ttl: Option<i64>,
    max: Option<i64>,
    uses: Option<i64>,
    period: Option<i64>,
    cs_ips: Option<Vec<String>>,
    at_ips: Option<Vec<String>>,
    lock: (Option<bool>, Option<i64>, Option<i64>, Option<i64>),
}

fn ua_body(ctx: &Ctx, legacy: bool) -> Result<UaBody, Reply> {
    let mut c = Check::new(&ctx.body, legacy);
    let b = UaBody {
        ttl: c.int_opt("accessTokenTTL", 0, MAX_TTL),
        max: c.int_opt("accessTokenMaxTTL", 0, MAX_TTL),
        uses: c.int_opt("accessTokenNumUsesLimit", 0, i64::MAX),
        period: c.int_opt("accessTokenPeriod", 0, MAX_TTL),
        cs_ips: ip_list(&mut c, "clientSecretTrustedIps"),
        at_ips: ip_list(&mut c, "accessTokenTrustedIps"),
        lock: (
            c.bool_opt("lockoutEnabled"),
            c.int_opt("lockoutThreshold", 1, 30),
            c.int_opt("lockoutDurationSeconds", 30, 86_400),
            c.int_opt("lockoutCounterResetSeconds", 5, 3_600),
        ),
    };
    c.finish()?;
    Ok(b)
}

fn ttl_check(ttl: i64, max: i64) -> Result<(), Reply> {
    if max > 0 && ttl > max {
        return Err(bad_request(
            "Access token TTL cannot be greater than max TTL",
        ));
    }
    Ok(())
}

fn attach(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    let b = ua_body(ctx, st.legacy())?;
    require_admin(&caller, "create", "Identity")?;
    let identity = find_identity(st, &caller, id)?.clone();
    if st.ua_of(id).is_some() {
        return Err(bad_request(
            "Failed to add universal auth to already configured identity",
        ));
    }
    let (ttl, max) = (b.ttl.unwrap_or(2_592_000), b.max.unwrap_or(2_592_000));
    ttl_check(ttl, max)?;
    let defaults = vec!["0.0.0.0/0".to_owned(), "::/0".to_owned()];
    let cs = parse_ips(st, &identity.org_id, b.cs_ips.as_ref().unwrap_or(&defaults))?;
    let at = parse_ips(st, &identity.org_id, b.at_ips.as_ref().unwrap_or(&defaults))?;
    let now = now_ms();
    let ua = Ua {
        id: uuid(),
        identity_id: id.to_owned(),
        client_id: uuid(),
        access_token_ttl: ttl,
        access_token_max_ttl: max,
        access_token_num_uses_limit: b.uses.unwrap_or(0),
        access_token_period: b.period.unwrap_or(0),
        client_secret_trusted_ips: cs,
        access_token_trusted_ips: at,
        lockout_enabled: b.lock.0.unwrap_or(true),
        lockout_threshold: b.lock.1.unwrap_or(3),
        lockout_duration_seconds: b.lock.2.unwrap_or(300),
        lockout_counter_reset_seconds: b.lock.3.unwrap_or(30),
        failures: 0,
        failures_since: 0,
        locked_until: 0,
        created_at: now,
        updated_at: now,
    };
    let v = ua_json(st, &ua);
    st.uas.push(ua);
    Ok(json!({ "identityUniversalAuth": v }))
}

/// The UA of an identity in the caller's org. `delete` picks the absent answer: current 404 for
/// GET/PATCH and 400 for DELETE; legacy 400 for all three (contract §5).
fn find_ua(st: &State, ctx: &Ctx, id: &str, action: &str, delete: bool) -> Result<Ua, Reply> {
    let caller = auth(st, ctx)?;
    require_admin(&caller, action, "Identity")?;
    find_identity(st, &caller, id)?;
    match st.ua_of(id) {
        Some(u) => Ok(u.clone()),
        None if delete || st.legacy() => {
            Err(bad_request("The identity does not have universal auth"))
        }
        None => Err(not_found(format!(
            "Failed to find universal auth for identity with ID {id}"
        ))),
    }
}

fn read(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let u = find_ua(st, ctx, id, "read", false)?;
    Ok(json!({ "identityUniversalAuth": ua_json(st, &u) }))
}

fn update(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let caller = auth(st, ctx)?;
    let b = ua_body(ctx, st.legacy())?;
    let mut u = find_ua(st, ctx, id, "edit", false)?;
    ttl_check(
        b.ttl.unwrap_or(u.access_token_ttl),
        b.max.unwrap_or(u.access_token_max_ttl),
    )?;
    if let Some(l) = &b.cs_ips {
        u.client_secret_trusted_ips = parse_ips(st, &caller.org_id, l)?;
    }
    if let Some(l) = &b.at_ips {
        u.access_token_trusted_ips = parse_ips(st, &caller.org_id, l)?;
    }
    u.access_token_ttl = b.ttl.unwrap_or(u.access_token_ttl);
    u.access_token_max_ttl = b.max.unwrap_or(u.access_token_max_ttl);
    u.access_token_num_uses_limit = b.uses.unwrap_or(u.access_token_num_uses_limit);
    u.access_token_period = b.period.unwrap_or(u.access_token_period);
    u.lockout_enabled = b.lock.0.unwrap_or(u.lockout_enabled);
    u.lockout_threshold = b.lock.1.unwrap_or(u.lockout_threshold);
    u.lockout_duration_seconds = b.lock.2.unwrap_or(u.lockout_duration_seconds);
    u.lockout_counter_reset_seconds = b.lock.3.unwrap_or(u.lockout_counter_reset_seconds);
    u.updated_at = now_ms();
    let v = ua_json(st, &u);
    if let Some(slot) = st.uas.iter_mut().find(|x| x.id == u.id) {
        *slot = u;
    }
    Ok(json!({ "identityUniversalAuth": v }))
}

fn remove(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let u = find_ua(st, ctx, id, "edit", true)?;
    let v = ua_json(st, &u);
    st.uas.retain(|x| x.id != u.id);
    st.client_secrets.retain(|s| s.ua_id != u.id);
    // Upstream revokes the identity's UA access tokens with the config.
    st.tokens.retain(|t| t.identity_id != id);
    Ok(json!({ "identityUniversalAuth": v }))
}

fn clear_lockouts(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let u = find_ua(st, ctx, id, "edit", false)?;
    let was = u.locked_until > now_ms() || u.failures > 0;
    if let Some(x) = st.uas.iter_mut().find(|x| x.id == u.id) {
        x.locked_until = 0;
        x.failures = 0;
    }
    Ok(json!({"deleted": i32::from(was)}))
}

/// The UA of an identity for the client-secret routes: without UA → 400 (contract §6).
fn secrets_ua(st: &State, ctx: &Ctx, id: &str, action: &str) -> Result<Ua, Reply> {
    let caller = auth(st, ctx)?;
    require_admin(&caller, action, "Identity")?;
    find_identity(st, &caller, id)?;
    st.ua_of(id)
        .cloned()
        .ok_or_else(|| bad_request("The identity does not have universal auth"))
}

fn secret_create(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    auth(st, ctx)?;
    let mut c = Check::new(&ctx.body, st.legacy());
    let description = c.str_opt("description").unwrap_or_default();
    let limit = c.int_opt("numUsesLimit", 0, i64::MAX).unwrap_or(0);
    let ttl = c.int_opt("ttl", 0, MAX_TTL).unwrap_or(0);
    c.finish()?;
    let u = secrets_ua(st, ctx, id, "create")?;
    let now = now_ms();
    let s = ClientSecret {
        id: uuid(),
        ua_id: u.id,
        identity_id: id.to_owned(),
        secret: random_hex32(),
        description,
        num_uses: 0,
        num_uses_limit: limit,
        ttl,
        revoked: false,
        created_at: now,
        updated_at: now,
    };
    let v = json!({"clientSecret": s.secret, "clientSecretData": secret_json(&s)});
    st.client_secrets.push(s);
    Ok(v)
}

fn secret_list(st: &mut State, ctx: &Ctx, id: &str) -> Res {
    let u = secrets_ua(st, ctx, id, "read")?;
    let items: Vec<Value> = st
        .client_secrets
        .iter()
        .filter(|s| s.ua_id == u.id && !s.revoked)
        .map(secret_json)
        .collect();
    Ok(json!({ "clientSecretData": items }))
}

fn find_secret(st: &State, ua: &Ua, sid: &str) -> Result<usize, Reply> {
    st.client_secrets
        .iter()
        .position(|s| s.id == sid && s.ua_id == ua.id)
        // Upstream wording (unverified); the contract gives only the 404.
        .ok_or_else(|| not_found(format!("Client secret with ID {sid} not found")))
}

fn secret_get(st: &mut State, ctx: &Ctx, id: &str, sid: &str) -> Res {
    let u = secrets_ua(st, ctx, id, "read")?;
    let i = find_secret(st, &u, sid)?;
    Ok(json!({ "clientSecretData": secret_json(&st.client_secrets[i]) }))
}

fn secret_revoke(st: &mut State, ctx: &Ctx, id: &str, sid: &str) -> Res {
    let u = secrets_ua(st, ctx, id, "edit")?;
    let i = find_secret(st, &u, sid)?;
    let s = &mut st.client_secrets[i];
    if !s.revoked {
        s.revoked = true;
        s.updated_at = now_ms();
    }
    Ok(json!({ "clientSecretData": secret_json(s) }))
}
