//! What the Keycloak tests share: the kinds logged in to the harness's Keycloak as its admin, a
//! registry of the kinds that sends nothing, and aegisctl run with the Keycloak login in its
//! environment.

use std::sync::Arc;
use std::time::Duration;

use aegisctl::backends::Registry;
use aegisctl::backends::keycloak::kinds::{Keycloak as Kinds, register};
use aegisctl::backends::keycloak::{AdminAuth, KeycloakClient};
use aegisctl::sensitive::Sensitive;

use crate::harness::{Bao, Run};
use crate::keycloak::Keycloak;

/// The Keycloak kinds, logged in as the harness's admin (password grant on admin-cli).
pub fn kinds(kc: &Keycloak) -> Arc<Kinds> {
    let client = KeycloakClient::new(
        kc.base_url(),
        AdminAuth::password(
            kc.admin_user(),
            Sensitive::new(kc.admin_password().to_owned()),
        ),
        None,
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
    .expect("client");
    Arc::new(Kinds::new(client))
}

/// Every Keycloak kind registered against an address where nothing listens: registering sends
/// nothing.
pub fn offline_registry() -> Registry {
    let client = KeycloakClient::new(
        "http://127.0.0.1:9",
        AdminAuth::password("nobody", Sensitive::new("unused".to_owned())),
        None,
        Duration::from_secs(1),
        Duration::from_secs(1),
    )
    .expect("client");
    let mut r = Registry::default();
    register(&mut r, Arc::new(Kinds::new(client)));
    r
}

/// aegisctl against `bao`, with `KEYCLOAK_URL` (`url`, by default the harness's), the admin
/// login and `extra` variables in its environment; the admin password never in its output.
pub fn ctl_with(
    bao: &Bao,
    kc: &Keycloak,
    url: Option<&str>,
    extra: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut cmd = bao.aegisctl();
    cmd.env("KEYCLOAK_URL", url.unwrap_or(kc.base_url()))
        .env("KEYCLOAK_ADMIN", kc.admin_user())
        .env("KEYCLOAK_ADMIN_PASSWORD", kc.admin_password());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let run = Run::from(cmd.args(args).output().expect("run aegisctl"));
    assert!(
        !run.all().contains(kc.admin_password()),
        "the admin password in the output of {args:?}:\n{run}"
    );
    run
}

/// [`ctl_with`] with the harness's URL and nothing else.
pub fn ctl(bao: &Bao, kc: &Keycloak, args: &[&str]) -> Run {
    ctl_with(bao, kc, None, &[], args)
}
