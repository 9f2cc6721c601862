//! The command line of spec/cli.md as one clap definition, from which completions and the man
//! page are generated too.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "aegisctl",
    version,
    about = "Converge OpenBao, Keycloak and Infisical from one topology file",
    long_about = "aegisctl reads one topology file (inventories/*.yaml) and converges the secrets \
and identity backbone it describes. `plan` shows what would change, `apply` converges, `drift` \
reports what changed outside aegisctl. Secrets are never printed, logged or stored by the tool.",
    after_help = "Exit status: 0 success (no changes / no drift), 1 error, 2 changes or drift \
(plan with --detailed-exitcode, drift)."
)]
pub struct Cli {
    /// Disable colours (also when NO_COLOR is set)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Print only results and errors: no progress, no banners
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); never secrets
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How long a run keeps retrying while OpenBao answers nothing useful (a leader election,
    /// a restart); after that it stops sending and ends with its summary
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30,
          env = "AEGISCTL_RETRY_BUDGET",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub retry_budget: u64,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by the commands that read live state.
#[derive(Debug, Args, Clone)]
pub struct RunFlags {
    /// Machine-readable output on stdout: one JSON document
    #[arg(long)]
    pub json: bool,
    /// How many requests run at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Summarise tenants in the human output: tenants whose changes have the same shape (the
    /// same actions on their namespace and realm, and on as many objects in each) share one
    /// line; a tenant unlike any other, or with a change that carries a note (a warning, a
    /// manual step, why it is planned, what else it destroys), is shown in full. Objects outside
    /// tenants are always shown in full; --json keeps every change
    #[arg(long)]
    pub compact: bool,
}

/// Flags that select what a plan covers.
#[derive(Debug, Args, Clone, Default)]
pub struct PlanFlags {
    /// Limit to this address and what it depends on (repeatable). `tenant[SLUG]` selects every
    /// object of that tenant: its namespace `tenant-SLUG` and what is in it, its realm
    /// `tenant-SLUG` and what is in it (and what they depend on)
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Also destroy objects aegisctl manages (per its ledger) that the file no longer declares
    #[arg(long)]
    pub prune: bool,
    /// Allow changes that destroy data: replacing or deleting a Transit key, replacing a mount,
    /// deleting a container together with objects aegisctl does not manage (the plan lists them)
    #[arg(long)]
    pub allow_destroy: bool,
    /// Take write-only fields that have no fingerprint in the ledger (passwords, secret keys of
    /// objects aegisctl did not create) as they are on the server, recording a baseline instead
    /// of sending them
    #[arg(long)]
    pub adopt: bool,
}

impl PlanFlags {
    /// Whether any flag that shapes a plan was given (apply of a saved plan takes them from it).
    pub fn any(&self) -> bool {
        !self.targets.is_empty() || self.prune || self.allow_destroy || self.adopt
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check a topology file offline; sends no request
    Validate {
        /// The topology file
        file: PathBuf,
        /// Machine-readable output on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show what `apply` would change
    Plan {
        file: PathBuf,
        /// Save the plan to apply it later with `aegisctl apply PLANFILE` (also `-out PLANFILE`)
        #[arg(long = "out", value_name = "PLANFILE")]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes, 0 when there are none
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        plan: PlanFlags,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Converge the servers to the topology (or apply a saved plan)
    Apply {
        /// A topology file, or a plan file written by `plan -out`
        file: PathBuf,
        /// Do not ask for confirmation (required when not on a terminal)
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        plan: PlanFlags,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Report what changed outside aegisctl: changed, deleted and unmanaged objects
    Drift {
        file: PathBuf,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Mint wrapped single-use SecretIDs (and Infisical client secrets) and render each host's cloud-init, Incus profile or env file
    Bootstrap(BootstrapArgs),
    /// Release an apply lock whose holder is gone (its lease expired, or its process on this host exited)
    Unlock {
        file: PathBuf,
        /// Release it even though its holder looks alive (a running apply stops at its next heartbeat)
        #[arg(long)]
        force: bool,
    },
    /// Resolve a runtime profile's secrets and start CMD with them (keymaster): leases are
    /// renewed while it runs and revoked when it exits; exits with CMD's status
    #[command(
        after_help = "Example: aegisctl run inventories/demo.yaml --profile web-search --scope acme/platform/search --reason 'deploy 42' -- ./tool-server"
    )]
    Run {
        #[command(flatten)]
        runtime: RuntimeArgs,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// Resolve a runtime profile's secrets and write them out (dotenv, JSON or shell); leases
    /// are not revoked (they end at their TTL)
    #[command(
        after_help = "Example: aegisctl env inventories/demo.yaml --profile web-search --format shell --out /run/tool.env"
    )]
    Env {
        #[command(flatten)]
        runtime: RuntimeArgs,
        /// Output format
        #[arg(long, value_enum, default_value = "dotenv")]
        format: crate::runtime::output::Format,
        /// Write to this file (created 0600; never over a file with looser permissions)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// List each variable's source, winning scope and lease TTL instead of the values;
        /// the leases minted to find out are revoked
        #[arg(long, conflicts_with_all = ["out", "format"])]
        explain: bool,
    },
    /// List runtime audit records (who resolved what, when, where, why): a host's local audit
    /// file, or — given the topology file — every host's documents in OpenBao
    #[command(
        after_help = "Examples: aegisctl audit inventories/runtime-audit.jsonl --since 2h\n          aegisctl audit inventories/demo.yaml --since 7d --json   (OpenBao, with BAO_TOKEN)"
    )]
    Audit {
        /// A JSON-lines audit file (runtime-audit.jsonl beside the topology by default), or a
        /// topology file (.yaml/.yml): its OpenBao audit documents (needs list and read there)
        file: PathBuf,
        /// Only records since a duration ago (30m, 2h, 7d) or an RFC 3339 UTC time
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// One JSON document on stdout
        #[arg(long)]
        json: bool,
    },
    /// Write a topology for what already exists on a server
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout
    Man,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The topology file (its `hosts:`)
    pub file: PathBuf,
    /// Hosts to bootstrap (see also --all)
    pub hosts: Vec<String>,
    /// Bootstrap every host of the topology
    #[arg(long, conflicts_with_all = ["list", "revoke"])]
    pub all: bool,
    /// Output format (default: cloud-config for lxc hosts, env for agent hosts)
    #[arg(long, value_enum)]
    pub format: Option<crate::bootstrap::render::Format>,
    /// Write one file per host (mode 0600) instead of printing to stdout
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// How long the wrapped SecretID may wait to be unwrapped (overrides the host's wrap_ttl)
    #[arg(long, value_name = "DURATION")]
    pub wrap_ttl: Option<String>,
    /// Render with placeholder values; mint nothing, send no request
    #[arg(long)]
    pub dry_run: bool,
    /// Allow roles whose SecretIDs can be used more than once
    #[arg(long)]
    pub allow_multi_use: bool,
    /// The OpenBao address the hosts will use (default: the one aegisctl uses)
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// Destroy this host's outstanding SecretIDs (by accessor), revoke their wrapping tokens and its Infisical client secrets
    #[arg(long, value_name = "HOST", conflicts_with = "list")]
    pub revoke: Option<String>,
    /// Show minted bootstraps and whether each was unwrapped
    #[arg(long)]
    pub list: bool,
    /// With --list: one JSON document on stdout
    #[arg(long, requires = "list")]
    pub json: bool,
    /// The local JSON-lines audit file (default: bootstrap-audit.jsonl beside the topology)
    #[arg(long, value_name = "FILE")]
    pub audit_file: Option<PathBuf>,
}

/// What `run` and `env` resolve.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// The topology file (its `runtime:` block)
    pub file: PathBuf,
    /// The profile of `runtime.profiles` to resolve
    #[arg(long)]
    pub profile: String,
    /// Add the scoped secrets of ORG, ORG/TEAM or ORG/TEAM/WORKSPACE (narrowest wins; the
    /// profile's own variables win over all scopes)
    #[arg(long, value_name = "ORG/TEAM/WORKSPACE")]
    pub scope: Option<String>,
    /// Read the profile's OpenBao references in this namespace (overrides the profile's)
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Why: recorded in the audit record
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The local JSON-lines audit file (default: the topology's runtime.audit.file, else
    /// runtime-audit.jsonl beside the topology)
    #[arg(long, value_name = "FILE")]
    pub audit_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Import from OpenBao (BAO_ADDR, BAO_TOKEN): namespaces, policies, mounts and what they hold
    Openbao {
        /// Directory to write topology.yaml and policies/ into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Import only this namespace (and below)
        #[arg(long, value_name = "NS", default_value = "")]
        namespace: String,
        /// The ledger mount to skip
        #[arg(long, default_value = "aegisctl")]
        ledger: String,
    },
    /// Import a Keycloak realm (KEYCLOAK_URL; KEYCLOAK_ADMIN and KEYCLOAK_ADMIN_PASSWORD, or
    /// KEYCLOAK_CLIENT_ID and KEYCLOAK_CLIENT_SECRET): writes realms/REALM.json and
    /// inventories/REALM.yaml
    Keycloak {
        /// The realm to import
        #[arg(long)]
        realm: String,
        /// Directory to write realms/ and inventories/ into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Import an Infisical project (INFISICAL_URL, INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET,
    /// INFISICAL_ORG_ID): writes inventories/SLUG.yaml; secret values become env: references
    Infisical {
        /// The project's slug
        #[arg(long)]
        project: String,
        /// Directory to write inventories/ into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Terraform spells it `-out`; clap does not take single-dash long flags, so rewrite it.
pub fn normalise_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.into_iter()
        .map(|a| match a.to_str() {
            Some("-out") => "--out".into(),
            Some(s) if s.starts_with("-out=") => format!("-{s}").into(),
            _ => a,
        })
        .collect()
}
