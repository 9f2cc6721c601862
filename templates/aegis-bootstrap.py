#!/usr/bin/env python3
"""aegis-bootstrap, rendered by aegisctl for {{ host }}.

Unwraps the single-use, response-wrapped AppRole SecretID exactly once, logs in, and leaves the
OpenBao token in a root-only file for the service. The wrapped token is deleted before it is
used, so it can never be used twice from here; if the unwrap fails, someone else unwrapped it
first (or it expired): treat this bootstrap as intercepted and re-provision the container.
"""
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

ETC = os.environ.get("AEGIS_ETC", "/etc/aegis")
ADDR = os.environ.get("AEGIS_BAO_ADDR", "{{ address }}")
NAMESPACE = "{{ namespace }}"
MOUNT = "{{ approle_mount }}"
TOKEN_FILE = os.environ.get("AEGIS_TOKEN_FILE", ETC + "/bao-token")


def call(path, token=None, body=None):
    request = urllib.request.Request(
        ADDR + "/v1/" + path, method="POST", data=json.dumps(body or {}).encode()
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Vault-Token", token)
    if NAMESPACE:
        request.add_header("X-Vault-Namespace", NAMESPACE)
    context = None
    if os.path.exists(ETC + "/bao-ca.pem"):
        context = ssl.create_default_context(cafile=ETC + "/bao-ca.pem")
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.load(response)


def main():
    with open(ETC + "/role-id") as f:
        role_id = f.read().strip()
    wrapped_path = ETC + "/wrapped-secret-id"
    with open(wrapped_path) as f:
        wrapped = f.read().strip()
    os.remove(wrapped_path)
    try:
        secret_id = call("sys/wrapping/unwrap", token=wrapped)["data"]["secret_id"]
    except urllib.error.HTTPError as e:
        sys.exit(
            "aegis-bootstrap: the wrapped SecretID could not be unwrapped (HTTP %d): it was "
            "already unwrapped or has expired. Treat this bootstrap as intercepted and "
            "re-provision the container." % e.code
        )
    try:
        login = call("auth/" + MOUNT + "/login", body={"role_id": role_id, "secret_id": secret_id})
    except urllib.error.HTTPError as e:
        sys.exit("aegis-bootstrap: AppRole login refused (HTTP %d)" % e.code)
    fd = os.open(TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(login["auth"]["client_token"])
    print("aegis-bootstrap: logged in as {{ approle_mount }}/{{ role }}; token in " + TOKEN_FILE)


if __name__ == "__main__":
    main()
