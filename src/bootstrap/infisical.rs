//! A host's Infisical client secret, minted beside its wrapped SecretID.
//!
//! Infisical shows a Universal Auth client secret once, in the answer that creates it: the
//! plaintext goes from that answer into a [`Sensitive`] and from there into the rendered
//! artefact, nowhere else. What is recorded is its id (to revoke it), never the secret.
//!
//! Infisical binds client secrets to addresses only through the identity's Universal Auth
//! configuration (`clientSecretTrustedIps`, all of that identity's secrets alike). The topology
//! already adds each host's addresses to it (see `topology/infisical_hosts.rs`), so after an
//! apply they are there; a bootstrap run before that apply adds the missing ones itself, since
//! a client secret its host cannot use from its own address would be a broken bootstrap.
//! The use limit and the TTL are the secret's own.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::BootstrapError;
use crate::backends::infisical::InfisicalClient;
use crate::model::HostInfisical;
use crate::sensitive::Sensitive;

/// What the audit records keep of a minted client secret: ids and limits, never the secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientSecretRecord {
    pub identity: String,
    pub identity_id: String,
    pub client_secret_id: String,
    pub ttl_seconds: u64,
    pub num_uses_limit: u64,
    pub trusted_ips: Vec<String>,
    #[serde(default)]
    pub revoked: bool,
}

/// A minted client secret: its record, the identity's client id, and the secret itself.
pub struct Minted {
    pub record: ClientSecretRecord,
    pub client_id: String,
    pub client_secret: Sensitive<String>,
    /// Addresses this bootstrap had to add to the identity's trusted IPs (empty when the
    /// configuration already trusted the host).
    pub trusted_added: Vec<String>,
}

/// Mints a client secret for `host`'s identity: makes sure its Universal Auth trusts the host's
/// addresses, then creates the secret with the host's TTL and use limit.
pub async fn mint(
    client: &InfisicalClient,
    host_name: &str,
    host: &HostInfisical,
) -> Result<Minted, BootstrapError> {
    let identity_id = client.identity_id(&host.identity).await?;
    let Some(ua) = client.universal_auth(&identity_id).await? else {
        return Err(BootstrapError::Refused(format!(
            "the Infisical identity `{}` has no Universal Auth: run `aegisctl apply` first (the topology declares it)",
            host.identity
        )));
    };
    let client_id = ua
        .get("clientId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let live: Vec<String> = ua
        .get("clientSecretTrustedIps")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(cidr_of).collect())
        .unwrap_or_default();
    let missing: Vec<String> = host
        .trusted_ips
        .iter()
        .filter(|ip| !live.iter().any(|range| contains(range, ip)))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let all: Vec<Value> = live
            .iter()
            .chain(&missing)
            .map(|ip| json!({ "ipAddress": ip }))
            .collect();
        client
            .update_universal_auth(&identity_id, json!({ "clientSecretTrustedIps": all }))
            .await?;
    }
    let description = format!("aegisctl bootstrap of {host_name}");
    let (client_secret, client_secret_id) = client
        .create_client_secret(
            &identity_id,
            host.ttl_seconds,
            host.num_uses_limit,
            &description,
        )
        .await?;
    Ok(Minted {
        record: ClientSecretRecord {
            identity: host.identity.clone(),
            identity_id,
            client_secret_id,
            ttl_seconds: host.ttl_seconds,
            num_uses_limit: host.num_uses_limit,
            trusted_ips: host.trusted_ips.clone(),
            revoked: false,
        },
        client_id,
        client_secret,
        trusted_added: missing,
    })
}

/// Revokes a recorded client secret (revoking twice is harmless: Infisical answers 200).
pub async fn revoke(
    client: &InfisicalClient,
    record: &ClientSecretRecord,
) -> Result<(), BootstrapError> {
    client
        .revoke_client_secret(&record.identity_id, &record.client_secret_id)
        .await?;
    Ok(())
}

/// Where a recorded client secret stands, for `bootstrap --list`: `unused`, `used`, `revoked`
/// (by a revoke, or by Infisical once its use limit or lifetime was reached), or `gone` (its
/// identity was deleted).
pub async fn status(
    client: &InfisicalClient,
    record: &ClientSecretRecord,
) -> Result<String, BootstrapError> {
    let data = client
        .client_secret(&record.identity_id, &record.client_secret_id)
        .await?;
    Ok(match data {
        None => "gone".into(),
        Some(d) if d.get("isClientSecretRevoked").and_then(Value::as_bool) == Some(true) => {
            "revoked".into()
        }
        Some(d) => match d.get("clientSecretNumUses").and_then(Value::as_u64) {
            Some(0) | None => "unused".into(),
            Some(n) => format!("used {n}x"),
        },
    })
}

/// A trusted-IP entry as Infisical answers it (`{ipAddress, prefix?}`) as a CIDR string.
fn cidr_of(v: &Value) -> Option<String> {
    let ip = v.get("ipAddress")?.as_str()?;
    Some(match v.get("prefix").and_then(Value::as_u64) {
        Some(p) => format!("{ip}/{p}"),
        None => ip.to_owned(),
    })
}

/// An address or CIDR as (bits, prefix length, family width); a bare address is a full-length
/// prefix.
fn parse(cidr: &str) -> Option<(u128, u32, u32)> {
    let (addr, prefix) = match cidr.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u32>().ok()?)),
        None => (cidr, None),
    };
    let (bits, width) = match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    let prefix = prefix.unwrap_or(width);
    (prefix <= width).then_some((bits, prefix, width))
}

/// Whether the range `outer` holds every address of `inner`.
pub fn contains(outer: &str, inner: &str) -> bool {
    let (Some((ob, op, ow)), Some((ib, ip, iw))) = (parse(outer), parse(inner)) else {
        return false;
    };
    if ow != iw || op > ip {
        return false;
    }
    let shift = ow - op;
    let mask = |b: u128| if shift >= 128 { 0 } else { b >> shift };
    mask(ob) == mask(ib)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_addresses_of_their_family_only() {
        assert!(contains("0.0.0.0/0", "10.0.8.21/32"));
        assert!(contains("10.0.8.0/24", "10.0.8.21"));
        assert!(contains("10.0.8.0/24", "10.0.8.0/25"));
        assert!(!contains("10.0.8.0/25", "10.0.8.0/24"));
        assert!(!contains("10.0.9.0/24", "10.0.8.21/32"));
        assert!(contains("::/0", "2001:db8::1"));
        assert!(!contains("::/0", "10.0.8.21/32"), "families never mix");
        assert!(!contains("nonsense", "10.0.8.21"));
        assert_eq!(
            cidr_of(&json!({"type": "ipv4", "ipAddress": "0.0.0.0", "prefix": 0})).as_deref(),
            Some("0.0.0.0/0")
        );
        assert_eq!(
            cidr_of(&json!({"type": "ipv4", "ipAddress": "10.0.8.21"})).as_deref(),
            Some("10.0.8.21")
        );
    }
}
