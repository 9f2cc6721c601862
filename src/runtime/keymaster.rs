//! One resolution from start to finish, shared by `run` and `env`: log in, resolve the profile
//! (the token's lookup in parallel), record the access — locally and in OpenBao — and only then
//! hand the values over. Whatever fails on the way undoes what was done: minted leases are
//! revoked and a token aegisctl created is revoked, so a failed start leaves nothing behind but
//! the error. [`close`] does the same at the end of a run.

use std::path::PathBuf;
use std::time::Duration;

use super::RuntimeError;
use super::audit::{self, LeaseRecord, Record, VarRecord};
use super::leases::{self, Lease};
use super::login::{self, Token};
use super::profile::RuntimeSpec;
use super::resolve::{self, Resolution};
use super::scopes::Scope;
use crate::backends::infisical::InfisicalClient;
use crate::backends::openbao::BaoClient;
use crate::sensitive::Sensitive;

/// What a resolution is for.
pub struct Request<'a> {
    pub spec: &'a RuntimeSpec,
    pub scope: Option<Scope>,
    pub reason: Option<String>,
    /// `run`, `env` or `env --explain`.
    pub command: &'a str,
    /// The started program's file name (`run`).
    pub program: Option<String>,
    /// The local audit file (`--audit-file`, else the topology's).
    pub audit_file: PathBuf,
    /// The run's retry budget.
    pub budget: Duration,
}

/// A resolution ready to hand over.
pub struct Opened {
    pub token: Token,
    pub resolution: Resolution,
    pub record: Record,
    pub warnings: Vec<String>,
}

/// A client without a token, on the topology's (or the environment's) address.
fn anonymous(spec: &RuntimeSpec, budget: Duration) -> Result<BaoClient, RuntimeError> {
    let address = spec.conn.address_or_env().ok_or_else(|| {
        RuntimeError::Setup(
            "no OpenBao address".into(),
            "set openbao.address in the topology, or BAO_ADDR".into(),
        )
    })?;
    let ca = spec.conn.ca_cert_or_env();
    let mut client = BaoClient::new(
        &address,
        Sensitive::new(String::new()),
        ca.as_deref(),
        Duration::from_secs(30),
        budget,
    )
    .map_err(|e| RuntimeError::Setup(e.to_string(), "fix the OpenBao address".into()))?;
    if let Some(ns) = crate::model::OpenBaoConn::base_namespace() {
        client = client.with_base_namespace(&ns);
    }
    Ok(client)
}

fn infisical(
    spec: &RuntimeSpec,
    budget: Duration,
) -> Result<Option<InfisicalClient>, RuntimeError> {
    let Some(inf) = &spec.infisical else {
        return Ok(None);
    };
    InfisicalClient::from_conn(inf, Duration::from_secs(30), budget)
        .map(Some)
        .map_err(|e| RuntimeError::Setup(e.to_string(), "fix the infisical block".into()))
}

/// Logs in, resolves, records. On failure nothing stays leased and no token of ours lives on.
pub async fn open(req: &Request<'_>) -> Result<Opened, RuntimeError> {
    let spec = req.spec;
    let anon = anonymous(spec, req.budget)?;
    let mut warnings = Vec::new();
    if let Some(w) = crate::backends::http::plain_http_warning(anon.address()) {
        warnings.push(w);
    }
    let inf = infisical(spec, req.budget)?;
    let mut token = login::login(&anon, &spec.login).await?;
    let bao = token.bao.clone();
    let (looked_up, resolved) = futures::join!(
        token.look_up(),
        resolve::resolve(&bao, inf.as_ref(), spec, req.scope.as_ref())
    );
    let resolution = match (looked_up, resolved) {
        (Ok(()), Ok(r)) => r,
        (Err(e), Ok(r)) => {
            close(&token, &r.leases).await;
            return Err(e);
        }
        (_, Err(e)) => {
            close(&token, &[]).await;
            return Err(e);
        }
    };
    warnings.extend(resolution.warnings.iter().cloned());
    let record = record(req, &token, &resolution);
    let local = audit::append_local(&req.audit_file, &record);
    let remote = match &local {
        Ok(()) => audit::write_openbao(&bao, &spec.audit, &record)
            .await
            .map(|_| ()),
        Err(_) => Ok(()),
    };
    if let Err(e) = local.and(remote) {
        close(&token, &resolution.leases).await;
        return Err(e);
    }
    Ok(Opened {
        token,
        resolution,
        record,
        warnings,
    })
}

/// Revokes every lease, then the token when aegisctl created it (which, in OpenBao, also ends
/// the leases it created: the fallback when a lease revocation is refused). Returns warnings
/// for what could not be revoked.
pub async fn close(token: &Token, leases_: &[Lease]) -> Vec<String> {
    let mut warnings = Vec::new();
    let revokes = leases_.iter().map(|l| leases::revoke(&token.bao, l));
    for (l, r) in leases_.iter().zip(futures::future::join_all(revokes).await) {
        if let Err(e) = r {
            let fallback = if token.created {
                "revoking aegisctl's token ends it too"
            } else {
                "it ends at its TTL"
            };
            warnings.push(format!(
                "could not revoke lease {} ({e}); {fallback}",
                l.lease_id
            ));
        }
    }
    if token.created
        && let Err(e) = token.revoke().await
    {
        warnings.push(format!(
            "could not revoke aegisctl's OpenBao token ({e}); it and its leases end at their TTL"
        ));
    }
    warnings
}

/// The access record: names and sources, never values.
fn record(req: &Request<'_>, token: &Token, resolution: &Resolution) -> Record {
    let now = crate::clock::now_unix();
    Record {
        version: audit::VERSION,
        id: audit::new_id(),
        time: crate::clock::rfc3339(now),
        command: req.command.to_owned(),
        host: audit::host_name(),
        profile: req.spec.profile.name.clone(),
        scope: req.scope.as_ref().map(Scope::as_text),
        namespace: req.spec.profile.namespace.clone(),
        reason: req.reason.clone(),
        who: token.who.clone(),
        program: req.program.clone(),
        variables: resolution
            .vars
            .iter()
            .map(|v| VarRecord {
                name: v.name.clone(),
                source: v.source.clone(),
                scope: v.scope.clone(),
                lease_id: v.lease.as_ref().map(|(id, _)| id.clone()),
            })
            .collect(),
        leases: resolution
            .leases
            .iter()
            .map(|l| LeaseRecord {
                lease_id: l.lease_id.clone(),
                path: l.path.clone(),
                ttl_seconds: l.ttl,
                renewable: l.renewable,
            })
            .collect(),
    }
}
