//! A profile → the values of its variables. Every request is sent at once: one GET per KV
//! secret (however many variables read it), one per scope level, one mint per lease path, one
//! read per Infisical secret. Precedence: scopes widest to narrowest, then the profile's own
//! `env` over all of them. If anything fails, the leases minted so far are revoked before the
//! error is returned, so a failed start leaves nothing leased.

use std::collections::BTreeMap;

use super::RuntimeError;
use super::kv::{KvPath, declared_mount, mount_of, read_kv};
use super::leases::{self, Lease};
use super::profile::{Reference, RuntimeSpec};
use super::scopes::{self, Scope};
use crate::backends::infisical::InfisicalClient;
use crate::backends::openbao::BaoClient;
use crate::sensitive::Sensitive;

/// One variable, resolved.
#[derive(Debug)]
pub struct Resolved {
    pub name: String,
    pub value: Sensitive<String>,
    /// The reference it came from (`scope` for a scoped secret).
    pub source: String,
    /// The scope level that won (`team/acme/platform`), for scoped secrets.
    pub scope: Option<String>,
    /// The lease id and its TTL, for `lease:` variables.
    pub lease: Option<(String, u64)>,
    /// What this name overrode, lowest precedence first (`scope org/acme`).
    pub shadowed: Vec<String>,
}

/// A profile's variables (sorted by name) and the leases minted for them.
#[derive(Debug)]
pub struct Resolution {
    pub vars: Vec<Resolved>,
    pub leases: Vec<Lease>,
    pub warnings: Vec<String>,
}

/// Resolves the profile (with `scope`, when given) against OpenBao (and Infisical).
pub async fn resolve(
    bao: &BaoClient,
    infisical: Option<&InfisicalClient>,
    spec: &RuntimeSpec,
    scope: Option<&Scope>,
) -> Result<Resolution, RuntimeError> {
    let ns = spec.profile.namespace.as_str();
    let entries = &spec.profile.entries;
    // KV paths: split at a declared mount, or ask OpenBao where the mount is.
    let mut kv: BTreeMap<String, KvPath> = BTreeMap::new();
    let mut unknown = Vec::new();
    for e in entries {
        if let Reference::Vault { path, .. } = &e.reference {
            match declared_mount(spec, ns, path) {
                Some(p) => {
                    kv.insert(path.clone(), p);
                }
                None => unknown.push(path.clone()),
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    let found = futures::future::join_all(unknown.iter().map(|p| mount_of(bao, ns, p))).await;
    kv.extend(unknown.into_iter().zip(found));
    let mut secrets: Vec<KvPath> = kv.values().cloned().collect();
    secrets.sort();
    secrets.dedup();
    let mut lease_paths: Vec<&str> = entries
        .iter()
        .filter_map(|e| match &e.reference {
            Reference::Lease { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    lease_paths.sort();
    lease_paths.dedup();

    let kv_reads = futures::future::join_all(secrets.iter().map(|p| read_kv(bao, ns, p)));
    let mints = futures::future::join_all(lease_paths.iter().map(|p| leases::mint(bao, ns, p)));
    let inf_reads = futures::future::join_all(entries.iter().map(|e| async move {
        match (&e.reference, infisical) {
            (
                Reference::Infisical {
                    project,
                    env,
                    folder,
                    name,
                },
                Some(client),
            ) => Some(client.secret_value(project, env, folder, name).await),
            _ => None,
        }
    }));
    let scope_read = async {
        match (scope, &spec.scopes) {
            (Some(s), Some(cfg)) => {
                let sns = cfg.namespace.as_deref().unwrap_or(ns);
                scopes::read(bao, sns, &cfg.mount, s).await
            }
            (Some(_), None) => Err(RuntimeError::NoScopes),
            (None, _) => Ok(Vec::new()),
        }
    };
    let (kv_answers, minted, inf_answers, levels) =
        futures::join!(kv_reads, mints, inf_reads, scope_read);

    // Every lease that was minted, whatever else failed: they are revoked on failure.
    let mut leases_by_path: BTreeMap<&str, Lease> = BTreeMap::new();
    let mut mint_errors = BTreeMap::new();
    for (path, m) in lease_paths.iter().zip(minted) {
        match m {
            Ok(l) => {
                leases_by_path.insert(path, l);
            }
            Err(e) => {
                mint_errors.insert(*path, e);
            }
        }
    }
    let assembled = assemble(
        spec,
        &kv,
        secrets.iter().zip(kv_answers).collect(),
        &leases_by_path,
        mint_errors,
        inf_answers,
        levels,
    );
    match assembled {
        Ok((vars, warnings)) => Ok(Resolution {
            vars,
            leases: leases_by_path.into_values().collect(),
            warnings,
        }),
        Err(e) => {
            for l in leases_by_path.values() {
                if let Err(re) = leases::revoke(bao, l).await {
                    tracing::warn!(lease = %l.lease_id, error = %re, "revoking a lease after a failed resolution");
                }
            }
            Err(e)
        }
    }
}

type KvAnswers<'a> = Vec<(
    &'a KvPath,
    Result<BTreeMap<String, Sensitive<String>>, crate::backends::BaoError>,
)>;

/// The variables from what the servers answered; the first problem (in the profile's order)
/// is the error.
#[allow(clippy::too_many_arguments)]
fn assemble(
    spec: &RuntimeSpec,
    kv: &BTreeMap<String, KvPath>,
    kv_answers: KvAnswers<'_>,
    leases: &BTreeMap<&str, Lease>,
    mut mint_errors: BTreeMap<&str, crate::backends::BaoError>,
    mut inf_answers: Vec<
        Option<Result<Option<Sensitive<String>>, crate::backends::infisical::InfisicalError>>,
    >,
    levels: Result<Vec<scopes::Level>, RuntimeError>,
) -> Result<(Vec<Resolved>, Vec<String>), RuntimeError> {
    let ns = spec.profile.namespace.as_str();
    let where_ = if ns.is_empty() {
        String::new()
    } else {
        format!(" in namespace {ns}")
    };
    let mut kv_data = BTreeMap::new();
    for (p, answer) in kv_answers {
        kv_data.insert(p, answer);
    }
    let mut out: BTreeMap<String, Resolved> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (level, values) in levels? {
        for (k, v) in values {
            if !super::profile::valid_var_name(&k)
                || super::profile::is_withheld(&k, &spec.own_vars)
            {
                warnings.push(format!(
                    "scope {level}: key `{}` is not handed over (not a variable name a child may receive)",
                    k.escape_debug()
                ));
                continue;
            }
            let shadowed = match out.remove(&k) {
                Some(prev) => {
                    let mut s = prev.shadowed;
                    s.push(format!("scope {}", prev.scope.unwrap_or_default()));
                    s
                }
                None => Vec::new(),
            };
            out.insert(
                k.clone(),
                Resolved {
                    name: k,
                    value: v,
                    source: "scope".into(),
                    scope: Some(level.clone()),
                    lease: None,
                    shadowed,
                },
            );
        }
    }
    for (i, e) in spec.profile.entries.iter().enumerate() {
        let unresolved = |why: String, help: &str| RuntimeError::Unresolved {
            at: e.at.clone(),
            name: e.name.clone(),
            reference: e.source.clone(),
            why,
            help: help.to_owned(),
        };
        let (value, lease) = match &e.reference {
            Reference::Local => match &e.value {
                Some(v) => (v.clone(), None),
                None => return Err(unresolved("no value was read".into(), "report this")),
            },
            Reference::Vault { path, key } => {
                let p = kv
                    .get(path)
                    .ok_or_else(|| unresolved("no mount".into(), "fix the path"))?;
                match kv_data.get(p) {
                    Some(Ok(data)) if data.is_empty() => {
                        return Err(unresolved(
                            format!(
                                "there is no KV secret `{path}`{where_} (or the login may not read it)"
                            ),
                            "write the secret first, or fix the reference: vault:MOUNT/PATH#key; nothing was started and nothing is left leased",
                        ));
                    }
                    Some(Ok(data)) => match data.get(key) {
                        Some(v) => (v.clone(), None),
                        None => {
                            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
                            return Err(unresolved(
                                format!(
                                    "the secret has no key `{key}` (its keys: {})",
                                    keys.join(", ")
                                ),
                                "fix the key after `#`; nothing was started and nothing is left leased",
                            ));
                        }
                    },
                    Some(Err(err)) => {
                        return Err(RuntimeError::Read {
                            at: e.at.clone(),
                            name: e.name.clone(),
                            reference: e.source.clone(),
                            source: Box::new(clone_error(err)),
                        });
                    }
                    None => return Err(unresolved("not read".into(), "report this")),
                }
            }
            Reference::Lease { path, field } => {
                if let Some(err) = mint_errors.remove(path.as_str()) {
                    return Err(RuntimeError::Read {
                        at: e.at.clone(),
                        name: e.name.clone(),
                        reference: e.source.clone(),
                        source: Box::new(err),
                    });
                }
                let Some(l) = leases.get(path.as_str()) else {
                    // A second variable of a path whose mint failed: the first one reported it.
                    return Err(unresolved(
                        "the credential could not be minted".into(),
                        "see the error above",
                    ));
                };
                let value = match field {
                    None => l.whole.clone(),
                    Some(f) => match l.fields.get(f) {
                        Some(v) => v.clone(),
                        None => {
                            let names: Vec<&str> = l.fields.keys().map(String::as_str).collect();
                            return Err(unresolved(
                                format!(
                                    "the credential has no field `{f}` (its fields: {})",
                                    names.join(", ")
                                ),
                                "fix the field after `#`; the credential minted for it was revoked",
                            ));
                        }
                    },
                };
                (value, Some((l.lease_id.clone(), l.ttl)))
            }
            Reference::Infisical {
                project,
                env,
                folder,
                name,
            } => match inf_answers.get_mut(i).and_then(Option::take) {
                Some(Ok(Some(v))) => (v, None),
                Some(Ok(None)) => {
                    return Err(unresolved(
                        format!(
                            "there is no secret `{name}` in project {project}, environment {env}, folder {folder}"
                        ),
                        "create the secret first, or fix the reference: infisical:PROJECT/ENV/PATH/NAME; nothing was started and nothing is left leased",
                    ));
                }
                Some(Err(err)) => {
                    return Err(RuntimeError::Infisical {
                        at: e.at.clone(),
                        name: e.name.clone(),
                        reference: e.source.clone(),
                        source: Box::new(err),
                    });
                }
                None => {
                    return Err(unresolved(
                        "the topology has no `infisical:` block".into(),
                        "add the infisical block (url, auth, organization)",
                    ));
                }
            },
        };
        let mut shadowed = Vec::new();
        if let Some(prev) = out.remove(&e.name) {
            shadowed = prev.shadowed;
            shadowed.push(format!("scope {}", prev.scope.unwrap_or_default()));
        }
        out.insert(
            e.name.clone(),
            Resolved {
                name: e.name.clone(),
                value,
                source: e.source.clone(),
                scope: None,
                lease,
                shadowed,
            },
        );
    }
    Ok((out.into_values().collect(), warnings))
}

/// An error read once but reported for each variable of its secret.
fn clone_error(e: &crate::backends::BaoError) -> crate::backends::BaoError {
    crate::backends::BaoError::Refused(e.to_string())
}
