//! Rendering bootstraps with minijinja: the built-in templates of `templates/` (compiled in) or
//! a host's own. Undefined variables are errors. Template errors are printed with `{e}` only:
//! minijinja's verbose format (`{e:#}`) prints the referenced variables *with their values*,
//! which here include the wrapped token.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, context};

use super::BootstrapError;
use crate::model::{Host, HostKind};
use crate::sensitive::Sensitive;

const CLOUD_INIT: &str = include_str!("../../templates/cloud-init.yaml.j2");
const INCUS: &str = include_str!("../../templates/incus-profile.yaml.j2");
const AGENT_ENV: &str = include_str!("../../templates/agent.env.j2");
const SCRIPT: &str = include_str!("../../templates/aegis-bootstrap.py");

/// What a bootstrap renders as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `#cloud-config` user-data (LXC containers)
    CloudConfig,
    /// An Incus profile carrying the user-data under `cloud-init.user-data`
    Incus,
    /// A launcher env file (agent containers)
    Env,
}

impl Format {
    pub fn default_for(kind: HostKind) -> Self {
        match kind {
            HostKind::Lxc => Format::CloudConfig,
            HostKind::Agent => Format::Env,
        }
    }

    /// File extension for `--out-dir`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::CloudConfig => "user-data.yaml",
            Format::Incus => "incus-profile.yaml",
            Format::Env => "env",
        }
    }
}

/// The values a template sees.
pub struct Inputs<'a> {
    pub host: &'a Host,
    pub address: &'a str,
    pub role_id: &'a str,
    pub wrapped_token: &'a Sensitive<String>,
    pub ca_cert: Option<&'a str>,
    /// The host's Infisical Universal Auth login, when it has `infisical_identity`.
    pub infisical: Option<InfisicalLogin<'a>>,
}

/// What a host needs to log in to Infisical: the server, the identity's client id and the
/// freshly minted client secret (shown by Infisical once; it lives only in the artefact).
pub struct InfisicalLogin<'a> {
    /// The base URL (without `/api`).
    pub url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a Sensitive<String>,
}

fn render_one(
    name: &str,
    source: &str,
    inputs: &Inputs,
    extra: Option<(&str, &str)>,
) -> Result<String, BootstrapError> {
    let err = |e: minijinja::Error| BootstrapError::Template {
        template: name.to_owned(),
        // `{e}`, never `{e:#}`: see the module documentation.
        reason: format!("{e}"),
    };
    let mut env = environment().map_err(err)?;
    env.add_template(name, source).map_err(err)?;
    let script = render_script(inputs).map_err(err)?;
    let h = inputs.host;
    let ctx = context! {
        host => &h.name,
        namespace => &h.namespace,
        approle_mount => &h.approle_mount,
        role => &h.role,
        cidrs => &h.cidrs,
        wrap_ttl => &h.wrap_ttl,
        address => inputs.address,
        role_id => inputs.role_id,
        wrapped_token => inputs.wrapped_token.expose(),
        ca_cert => inputs.ca_cert.unwrap_or(""),
        bootstrap_script => script,
        user_data => extra.map(|(_, v)| v).unwrap_or(""),
        // Defined (empty) for every host, so that a host's own template can test `infisical`.
        infisical => inputs.infisical.is_some(),
        infisical_url => inputs.infisical.as_ref().map_or("", |i| i.url),
        infisical_client_id => inputs.infisical.as_ref().map_or("", |i| i.client_id),
        infisical_client_secret => inputs
            .infisical
            .as_ref()
            .map_or("", |i| i.client_secret.expose().as_str()),
    };
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(err)
}

/// Strict about undefined variables; keeps rendered files' final newline.
fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()?,
    );
    Ok(env)
}

fn render_script(inputs: &Inputs) -> Result<String, minijinja::Error> {
    let mut env = environment()?;
    env.add_template("aegis-bootstrap.py", SCRIPT)?;
    let h = inputs.host;
    env.get_template("aegis-bootstrap.py")?.render(context! {
        host => &h.name,
        namespace => &h.namespace,
        approle_mount => &h.approle_mount,
        role => &h.role,
        address => inputs.address,
    })
}

/// Renders one host's bootstrap in `format`, with the host's own template when it has one.
pub fn render(format: Format, inputs: &Inputs) -> Result<String, BootstrapError> {
    let own = match &inputs.host.template {
        Some(path) => Some(read_template(path)?),
        None => None,
    };
    match (format, own) {
        (Format::Incus, own) => {
            let user_data = match own {
                Some((name, text)) => render_one(&name, &text, inputs, None)?,
                None => render_one("cloud-init.yaml.j2", CLOUD_INIT, inputs, None)?,
            };
            render_one(
                "incus-profile.yaml.j2",
                INCUS,
                inputs,
                Some(("user_data", &user_data)),
            )
        }
        (_, Some((name, text))) => render_one(&name, &text, inputs, None),
        (Format::CloudConfig, None) => render_one("cloud-init.yaml.j2", CLOUD_INIT, inputs, None),
        (Format::Env, None) => render_one("agent.env.j2", AGENT_ENV, inputs, None),
    }
}

fn read_template(path: &Path) -> Result<(String, String), BootstrapError> {
    let text = std::fs::read_to_string(path).map_err(|e| BootstrapError::Template {
        template: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok((path.display().to_string(), text))
}
