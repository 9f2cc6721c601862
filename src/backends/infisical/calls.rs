//! The calls other code makes directly, outside the kinds: what `aegisctl bootstrap` needs (an
//! identity's id by name, its Universal Auth config, minting and revoking client secrets), the
//! value behind an `infisical:PROJECT/ENV/PATH/NAME` reference, and the org's identity list the
//! kinds share. Each answers in the shape its caller wants, with the envelope taken off.

use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroize;

use super::client::InfisicalClient;
use super::error::InfisicalError;
use super::routes;
use crate::backends::body::Body;
use crate::backends::http::Retry;
use crate::sensitive::Sensitive;

impl InfisicalClient {
    /// Every org identity (the list answer's items, in the get shape), in one request.
    pub async fn list_identities(&self) -> Result<Vec<Value>, InfisicalError> {
        let path = routes::identities(self.organization());
        let mut v = self.call(Method::GET, &path, None, Retry::Safe).await?;
        match v.get_mut("identities").map(Value::take) {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(self.unreadable("GET", &path, "the answer has no `identities` list")),
        }
    }

    /// The id of the org identity named `name` (error if none or more than one).
    pub async fn identity_id(&self, name: &str) -> Result<String, InfisicalError> {
        let all = self.list_identities().await?;
        let ids: Vec<String> = all
            .iter()
            .filter(|i| identity_name(i) == Some(name))
            .filter_map(|i| identity_id_of(i).map(str::to_owned))
            .collect();
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(InfisicalError::Refused(format!(
                "Infisical at {} has no machine identity named `{name}` in organization {}",
                self.address(),
                self.organization()
            ))),
            many => Err(InfisicalError::Ambiguous {
                name: name.to_owned(),
                count: many.len(),
            }),
        }
    }

    /// The identity's UA config as JSON (None when UA is absent: 404 or the 400 "does not have
    /// universal auth").
    pub async fn universal_auth(&self, identity_id: &str) -> Result<Option<Value>, InfisicalError> {
        let path = routes::universal_auth(identity_id);
        Ok(self.get(&path).await?.map(|mut v| {
            v.get_mut("identityUniversalAuth")
                .map(Value::take)
                .unwrap_or(v)
        }))
    }

    /// PATCH the UA config with `body` (already in API field names).
    pub async fn update_universal_auth(
        &self,
        identity_id: &str,
        body: Value,
    ) -> Result<Value, InfisicalError> {
        let path = routes::universal_auth(identity_id);
        let mut v = self
            .call(Method::PATCH, &path, Some(&Body::new(body)), Retry::Safe)
            .await?;
        Ok(v.get_mut("identityUniversalAuth")
            .map(Value::take)
            .unwrap_or(v))
    }

    /// Creates a client secret: returns (plaintext, client secret id). Sent with
    /// [`Retry::OnlyIfUnsent`]: a secret must not be minted twice.
    pub async fn create_client_secret(
        &self,
        identity_id: &str,
        ttl_seconds: u64,
        num_uses_limit: u64,
        description: &str,
    ) -> Result<(Sensitive<String>, String), InfisicalError> {
        let path = routes::client_secrets(identity_id);
        let body = Body::new(json!({
            "ttl": ttl_seconds, "numUsesLimit": num_uses_limit, "description": description
        }));
        let mut v = self
            .call(Method::POST, &path, Some(&body), Retry::OnlyIfUnsent)
            .await?;
        let secret = match v.get_mut("clientSecret").map(Value::take) {
            Some(Value::String(s)) if !s.is_empty() => Sensitive::new(s),
            _ => return Err(self.unreadable("POST", &path, "the answer has no `clientSecret`")),
        };
        let id = v
            .pointer("/clientSecretData/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                self.unreadable("POST", &path, "the answer has no `clientSecretData.id`")
            })?;
        Ok((secret, id))
    }

    /// Revokes a client secret (idempotent on the server).
    pub async fn revoke_client_secret(
        &self,
        identity_id: &str,
        client_secret_id: &str,
    ) -> Result<(), InfisicalError> {
        let path = routes::client_secrets(identity_id)
            .name(client_secret_id)
            .lit("revoke");
        self.call(Method::POST, &path, None, Retry::Safe)
            .await
            .map(|_| ())
    }

    /// Where a client secret stands: its data (`clientSecretNumUses`, `isClientSecretRevoked`,
    /// ...), revoked ones included; `None` when unknown (or its identity is gone).
    pub async fn client_secret(
        &self,
        identity_id: &str,
        client_secret_id: &str,
    ) -> Result<Option<Value>, InfisicalError> {
        let path = routes::client_secrets(identity_id).name(client_secret_id);
        Ok(self
            .get(&path)
            .await?
            .and_then(|v| v.get("clientSecretData").cloned()))
    }

    /// The project's id by slug; `None` when absent.
    pub async fn project_id(&self, slug: &str) -> Result<Option<String>, InfisicalError> {
        let v = self
            .get_project(
                &routes::project_by_slug(slug),
                &routes::legacy::project(slug),
            )
            .await?;
        Ok(v.as_ref()
            .map(|v| v.get("project").unwrap_or(v))
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Reads a secret's value (for `infisical:PROJECT/ENV/PATH/NAME` references): None when
    /// absent (the project, environment, folder or secret).
    pub async fn secret_value(
        &self,
        project_slug: &str,
        env: &str,
        path: &str,
        name: &str,
    ) -> Result<Option<Sensitive<String>>, InfisicalError> {
        let Some(project_id) = self.project_id(project_slug).await? else {
            return Ok(None);
        };
        let folder = format!("/{}", path.trim_matches('/'));
        let p = routes::secret(name)
            .query("workspaceId", &project_id)
            .query("environment", env)
            .query("secretPath", &folder);
        let Some(mut v) = self.get(&p).await? else {
            return Ok(None);
        };
        // Moved, not copied: the one copy lives on in the wrapper, zeroized on drop.
        let value = match v.pointer_mut("/secret/secretValue").map(Value::take) {
            Some(Value::String(s)) => Some(Sensitive::new(s)),
            _ => None,
        };
        crate::backends::SecretJson(v).zeroize();
        Ok(value)
    }
}

/// An identity list item's name (get shape: `identity.name`; a bare row: `name`).
pub fn identity_name(item: &Value) -> Option<&str> {
    item.pointer("/identity/name")
        .or_else(|| item.get("name"))
        .and_then(Value::as_str)
}

/// An identity list item's identity id (not the org-membership id in the outer `id`).
pub fn identity_id_of(item: &Value) -> Option<&str> {
    item.get("identityId")
        .or_else(|| item.pointer("/identity/id"))
        .or_else(|| item.get("id"))
        .and_then(Value::as_str)
}
