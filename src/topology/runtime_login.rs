//! `runtime.login`: how the resolving host logs in — AppRole (`approle`, `role_id`,
//! `secret_id`, optional `mount` and `namespace`), a `token`, or, without the block, the
//! operator's BAO_TOKEN. The variables its references read are remembered: no child gets them.

use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use super::node::{Loc, Node};
use super::raw::RawOpenBao;
use super::raw_runtime::{RawLogin, RawRuntime};
use super::resolve::Resolver;
use super::runtime::{mount_name, namespace_of};
use crate::runtime::profile::Login;
use crate::sensitive::Sensitive;

pub(super) fn login_shape(r: &mut Resolver, login: &Spanned<RawLogin>) {
    let l = &login.value;
    let approle = l.approle.is_some() || l.role_id.is_some() || l.secret_id.is_some();
    if approle && l.token.is_some() {
        r.problem(
            Loc::of(login),
            "`runtime.login` has both a token and AppRole credentials",
            "keep one: approle + role_id + secret_id, or token".to_string(),
        );
    } else if approle && (l.role_id.is_none() || l.secret_id.is_none()) {
        r.problem(
            Loc::of(login),
            "`runtime.login` for AppRole needs both `role_id` and `secret_id`",
            "e.g. role_id: env:OPENBAO_ROLE_ID, secret_id: file:/etc/aegis/secret-id".to_string(),
        );
    } else if !approle && l.token.is_none() {
        r.problem(
            Loc::of(login),
            "`runtime.login` is empty",
            "write approle + role_id + secret_id, or token (or leave login out to use BAO_TOKEN)"
                .to_string(),
        );
    }
    if let Some(m) = &l.mount {
        mount_name(r, m, "runtime.login.mount");
    }
}

/// The login, resolved; the variables it reads join `own` (never passed to a child).
pub(super) fn login(
    r: &mut Resolver,
    rt: &Spanned<RawRuntime>,
    ob: Option<&RawOpenBao>,
    own: &mut BTreeSet<String>,
) -> Option<Login> {
    let mut secret = |r: &mut Resolver, n: &Node, what: &str| {
        if let Some(var) = n.as_str().and_then(|t| t.strip_prefix("env:")) {
            own.insert(var.to_owned());
        }
        r.string(n, what, true).map(|(v, _)| Sensitive::new(v))
    };
    let Some(login) = &rt.value.login else {
        // No login: the operator's token, as every other command takes it.
        let token = match ob.and_then(|o| o.token.as_ref()) {
            Some(n) => secret(r, n, "openbao.token")?,
            None => {
                let t = ["BAO_TOKEN", "VAULT_TOKEN"]
                    .iter()
                    .find_map(|v| (r.env)(v).filter(|t| !t.is_empty()));
                match t {
                    Some(t) => Sensitive::new(t),
                    None => {
                        r.problem(
                            Loc::of(rt),
                            "the runtime block has no `login:` and BAO_TOKEN is not set",
                            "declare runtime.login (AppRole: approle, role_id, secret_id), or export BAO_TOKEN".to_string(),
                        );
                        return None;
                    }
                }
            }
        };
        return Some(Login::Token {
            token,
            namespace: String::new(),
        });
    };
    login_shape(r, login);
    let l = &login.value;
    let namespace = l
        .namespace
        .as_ref()
        .and_then(|n| namespace_of(r, n, "runtime.login.namespace"))
        .unwrap_or_default();
    if let Some(t) = &l.token {
        let token = secret(r, t, "runtime.login.token")?;
        return Some(Login::Token { token, namespace });
    }
    let (Some(rid), Some(sid)) = (&l.role_id, &l.secret_id) else {
        return None;
    };
    let role_id = secret(r, rid, "runtime.login.role_id");
    let secret_id = secret(r, sid, "runtime.login.secret_id");
    let mount = match &l.mount {
        Some(m) => mount_name(r, m, "runtime.login.mount")?,
        None => "approle".to_owned(),
    };
    let role = l
        .approle
        .as_ref()
        .and_then(|n| n.as_str().map(str::to_owned));
    Some(Login::AppRole {
        mount,
        role,
        role_id: role_id?,
        secret_id: secret_id?,
        namespace,
    })
}
