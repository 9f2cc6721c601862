//! Minting, listing and revoking wrapped SecretIDs.
//!
//! A SecretID is created with `X-Vault-Wrap-TTL`, so OpenBao hands back only a wrapping token:
//! the SecretID itself never reaches aegisctl. It is bound with `cidr_list` and
//! `token_bound_cidrs` to the host's address and carries the host's name as metadata. Roles that
//! allow a SecretID more than one use are refused (a replayable bootstrap is not a bootstrap)
//! unless the operator says otherwise.

use serde_json::{Value, json};

use super::BootstrapError;
use super::audit::MintRecord;
use crate::backends::openbao::{BaoClient, Body};
use crate::backends::path::ApiPath;
use crate::duration;
use crate::model::Host;
use crate::sensitive::Sensitive;

/// What minting returns: the record (no secrets) and the two values the container needs.
pub struct Minted {
    pub record: MintRecord,
    pub role_id: String,
    pub wrapped_token: Sensitive<String>,
}

fn role_path(mount: &str, role: &str) -> ApiPath {
    ApiPath::route("auth").path(mount).lit("role").name(role)
}

/// Mints one wrapped SecretID for `host`.
pub async fn mint(
    client: &BaoClient,
    host: &Host,
    wrap_ttl: &str,
    allow_multi_use: bool,
    minted_by: &str,
) -> Result<Minted, BootstrapError> {
    let ns = host.namespace.as_str();
    let role = client
        .read(ns, &role_path(&host.approle_mount, &host.role))
        .await?
        .ok_or_else(|| {
            BootstrapError::Refused(format!(
                "host {}: the AppRole role {}/{} does not exist{}; apply the topology first",
                host.name,
                host.approle_mount,
                host.role,
                in_ns(ns)
            ))
        })?;
    let uses = role
        .pointer("/data/secret_id_num_uses")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if uses != 1 && !allow_multi_use {
        return Err(BootstrapError::Refused(format!(
            "host {}: the role {}/{} allows {} uses per SecretID; a bootstrap SecretID must be single-use (set secret_id_num_uses: 1 on the role, or pass --allow-multi-use)",
            host.name,
            host.approle_mount,
            host.role,
            if uses == 0 {
                "unlimited".to_owned()
            } else {
                uses.to_string()
            }
        )));
    }
    let secret_id_ttl = role
        .pointer("/data/secret_id_ttl")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let role_id = client
        .read(
            ns,
            &role_path(&host.approle_mount, &host.role).lit("role-id"),
        )
        .await?
        .and_then(|v| {
            v.pointer("/data/role_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| {
            BootstrapError::Refused(format!("host {}: the role has no role_id", host.name))
        })?;

    // A mark of this one mint, so that a SecretID whose answer was lost can be found and
    // destroyed: it was never recorded, and an unaudited SecretID must not outlive the run.
    let mark = hex::encode(rand::random::<[u8; 8]>());
    let body = Body::new(json!({
        "cidr_list": host.cidrs,
        "token_bound_cidrs": host.cidrs,
        "metadata": json!({ "host": host.name, "minted_by": minted_by, "aegisctl_mint": mark }).to_string(),
    }));
    // Never sent twice: a second SecretID would be one nobody recorded.
    let resp = match client
        .request_unrepeatable(
            reqwest::Method::POST,
            ns,
            &role_path(&host.approle_mount, &host.role).lit("secret-id"),
            Some(&body),
            Some(wrap_ttl),
        )
        .await
    {
        Ok(resp) => resp.unwrap_or(Value::Null),
        Err(e) if e.is_unreachable() || e.status().is_some_and(|s| s >= 500) => {
            let found = destroy_marked(client, host, &mark).await;
            return Err(BootstrapError::Refused(format!(
                "host {}: the SecretID mint did not complete ({e}); {}; nothing was rendered, run bootstrap again",
                host.name,
                match found {
                    Ok(0) => "no SecretID of it exists".to_owned(),
                    Ok(n) => format!("the {n} SecretID(s) it created were destroyed"),
                    Err(l) => format!(
                        "whether it created a SecretID could not be checked ({l}): list the role's SecretID accessors and destroy any with metadata aegisctl_mint={mark}"
                    ),
                }
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let wrap = resp.get("wrap_info").ok_or_else(|| {
        BootstrapError::Refused(format!(
            "host {}: OpenBao did not wrap the SecretID (no wrap_info in the answer); nothing was rendered",
            host.name
        ))
    })?;
    let text = |k: &str| {
        wrap.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let wrapped_token = Sensitive::new(text("token"));
    let record = MintRecord {
        event: "mint".into(),
        host: host.name.clone(),
        namespace: host.namespace.clone(),
        approle_mount: host.approle_mount.clone(),
        role: host.role.clone(),
        secret_id_accessor: text("wrapped_accessor"),
        wrapping_accessor: text("accessor"),
        created: text("creation_time"),
        wrap_ttl_seconds: wrap
            .get("ttl")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| duration::parse(wrap_ttl).unwrap_or(0)),
        secret_id_ttl_seconds: secret_id_ttl,
        cidrs: host.cidrs.clone(),
        minted_by: minted_by.to_owned(),
        revoked: false,
        status_at_revoke: None,
        infisical: None,
    };
    Ok(Minted {
        record,
        role_id,
        wrapped_token,
    })
}

/// Destroys the SecretIDs of the role carrying this mint's mark; how many there were.
async fn destroy_marked(
    client: &BaoClient,
    host: &Host,
    mark: &str,
) -> Result<usize, crate::backends::BaoError> {
    let ns = host.namespace.as_str();
    let role = role_path(&host.approle_mount, &host.role);
    let mut destroyed = 0;
    for accessor in client.list(ns, &role.clone().lit("secret-id")).await? {
        let body = Body::new(json!({ "secret_id_accessor": accessor }));
        let found = client
            .write(ns, &role.clone().lit("secret-id-accessor/lookup"), &body)
            .await?;
        let marked = found
            .as_ref()
            .and_then(|v| v.pointer("/data/metadata/aegisctl_mint"))
            .and_then(Value::as_str)
            == Some(mark);
        if marked {
            client
                .write(ns, &role.clone().lit("secret-id-accessor/destroy"), &body)
                .await?;
            destroyed += 1;
        }
    }
    Ok(destroyed)
}

fn in_ns(ns: &str) -> String {
    if ns.is_empty() {
        String::new()
    } else {
        format!(" in namespace {ns}")
    }
}

/// Where an outstanding bootstrap stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// `pending` (the wrapping token is still valid: nobody unwrapped it), `unwrapped` or
    /// `expired` (by its creation time and TTL), or `revoked`.
    pub wrapping: String,
    /// `unused` (the SecretID can still log in), or `used or destroyed`.
    pub secret_id: String,
}

/// Looks up a record's wrapping token and SecretID by accessor.
pub async fn status(client: &BaoClient, r: &MintRecord) -> Result<Status, BootstrapError> {
    let ns = r.namespace.as_str();
    if r.revoked {
        // What was true just before the revoke is the evidence (was it unwrapped by then?).
        return Ok(match &r.status_at_revoke {
            Some(before) => Status {
                wrapping: format!("revoked (was {})", before.wrapping),
                secret_id: format!("destroyed (was {})", before.secret_id),
            },
            None => Status {
                wrapping: "revoked".into(),
                secret_id: "destroyed".into(),
            },
        });
    }
    // Lookups are POSTs that answer 404 (or 400) for an accessor that no longer exists.
    let wrapping = match client
        .write(
            ns,
            &ApiPath::route("auth/token/lookup-accessor"),
            &Body::new(json!({ "accessor": r.wrapping_accessor })),
        )
        .await
    {
        Ok(Some(_)) => "pending".to_owned(),
        Ok(None) => gone(r),
        Err(e) if matches!(e.status(), Some(400 | 403 | 404)) => gone(r),
        Err(e) => return Err(e.into()),
    };
    let path = role_path(&r.approle_mount, &r.role).lit("secret-id-accessor/lookup");
    let secret_id = match client
        .write(
            ns,
            &path,
            &Body::new(json!({ "secret_id_accessor": r.secret_id_accessor })),
        )
        .await
    {
        Ok(Some(v)) if !v.is_null() => "unused".to_owned(),
        Ok(_) => "used or destroyed".to_owned(),
        Err(e) if matches!(e.status(), Some(400 | 403 | 404 | 500)) => {
            "used or destroyed".to_owned()
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Status {
        wrapping,
        secret_id,
    })
}

/// A wrapping token that is gone was either unwrapped or has expired; its TTL tells which.
fn gone(r: &MintRecord) -> String {
    let created = crate::clock::parse_rfc3339(&r.created);
    let now = crate::clock::now_unix();
    match created {
        Some(c) if now > c + r.wrap_ttl_seconds => "expired".into(),
        _ => "unwrapped".into(),
    }
}

/// Destroys a record's SecretID and revokes its wrapping token, by accessor.
pub async fn revoke(client: &BaoClient, r: &MintRecord) -> Result<(), BootstrapError> {
    let ns = r.namespace.as_str();
    let path = role_path(&r.approle_mount, &r.role).lit("secret-id-accessor/destroy");
    match client
        .write(
            ns,
            &path,
            &Body::new(json!({ "secret_id_accessor": r.secret_id_accessor })),
        )
        .await
    {
        Ok(_) => {}
        // Already consumed or destroyed: nothing left to revoke.
        Err(e) if matches!(e.status(), Some(400 | 404 | 500)) => {}
        Err(e) => return Err(e.into()),
    }
    match client
        .write(
            ns,
            &ApiPath::route("auth/token/revoke-accessor"),
            &Body::new(json!({ "accessor": r.wrapping_accessor })),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.status(), Some(400 | 403 | 404)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
