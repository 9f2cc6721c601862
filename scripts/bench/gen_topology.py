#!/usr/bin/env python3
"""Generate a benchmark topology of N objects for aegisctl, and the equivalent bao CLI script.

Usage: gen_topology.py N OUTDIR [--namespaces K]

With --namespaces K, the same mix of N objects is declared in each of K namespaces
(`ns-000`, `ns-001`, ...) instead of in the root: K x N objects, plus the K namespaces.
No bao script is written then (at about 0.1 s per bao process it would run for hours).

Writes:
  OUTDIR/topology.yaml  the aegisctl topology (inline HCL policies, one approle mount with
                        roles, one kv-v2 mount with `kv:` secrets, one transit mount with keys)
  OUTDIR/bao-script.sh  the same objects created the way an operator would script it with the
                        bao CLI: one `bao` process per object (uses $BAO, default `bao`)
  OUTDIR/counts.json    how many objects of each kind

N counts every object, the three mounts included. The mix of the remaining N-3:
~35% ACL policies, ~35% AppRole roles, ~15% KV v2 secrets, ~15% Transit keys.
The output is deterministic for a given N (fixed seed), so runs are comparable.
"""

import json
import os
import random
import shlex
import sys

APPROLE_MOUNT = "approle"
KV_MOUNT = "bench-kv"
TRANSIT_MOUNT = "transit"
TTLS = [("15m", "1h"), ("1h", "24h"), ("30m", "4h"), ("2h", "12h")]


def split(n):
    if n < 7:
        raise SystemExit("gen_topology.py: N must be at least 7 (3 mounts + one object of each kind)")
    rest = n - 3
    policies = max(1, round(rest * 0.35))
    roles = max(1, round(rest * 0.35))
    kv = max(1, round(rest * 0.15))
    keys = rest - policies - roles - kv
    if keys < 1:
        raise SystemExit("gen_topology.py: N too small for the mix")
    return policies, roles, kv, keys


def policy_hcl(i, kv_paths, key_names):
    app = f"app-{i:05d}"
    kv_path = kv_paths[i % len(kv_paths)].rsplit("/", 1)[0]
    key = key_names[i % len(key_names)]
    return (
        f'# policy for {app}\n'
        f'path "{KV_MOUNT}/data/{kv_path}/*" {{\n'
        f'  capabilities = ["read", "list"]\n'
        f'}}\n'
        f'path "{KV_MOUNT}/metadata/{kv_path}/*" {{\n'
        f'  capabilities = ["list"]\n'
        f'}}\n'
        f'path "{TRANSIT_MOUNT}/encrypt/{key}" {{\n'
        f'  capabilities = ["update"]\n'
        f'}}\n'
        f'path "{TRANSIT_MOUNT}/decrypt/{key}" {{\n'
        f'  capabilities = ["update"]\n'
        f'}}\n'
        f'path "auth/token/renew-self" {{\n'
        f'  capabilities = ["update"]\n'
        f'}}\n'
    )


def yq(s):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def main():
    args = sys.argv[1:]
    namespaces = 0
    if "--namespaces" in args:
        i = args.index("--namespaces")
        namespaces = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    n = int(args[0])
    out = args[1]
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(n)
    n_pol, n_roles, n_kv, n_keys = split(n)

    key_names = [f"key-{i:05d}" for i in range(n_keys)]
    kv_paths = [f"team-{i % 50:02d}/app-{i:05d}/config" for i in range(n_kv)]
    policies = {f"pol-{i:05d}": policy_hcl(i, kv_paths, key_names) for i in range(n_pol)}
    pol_names = list(policies)
    roles = {}
    for i in range(n_roles):
        ttl, max_ttl = TTLS[i % len(TTLS)]
        chosen = sorted(rnd.sample(pol_names, min(len(pol_names), 1 + i % 3)))
        roles[f"role-{i:05d}"] = (chosen, ttl, max_ttl)
    kv = {}
    for i, p in enumerate(kv_paths):
        kv[p] = {
            "username": f"svc-{i:05d}",
            "password": "".join(rnd.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(24)),
            "url": f"https://svc-{i:05d}.internal.example:8443",
        }

    # ---- topology.yaml -------------------------------------------------------------------
    # The body of one namespace (or the root), indented under `openbao:`.
    y = ["  policies:"]
    for name, hcl in policies.items():
        y.append(f"    {name}: |")
        y.extend(f"      {line}" for line in hcl.rstrip("\n").split("\n"))
    y += ["", "  auth:", f"    {APPROLE_MOUNT}:", "      type: approle", "      roles:"]
    for name, (pols, ttl, max_ttl) in roles.items():
        y.append(f"        {name}:")
        y.append(f"          token_policies: [{', '.join(pols)}]")
        y.append(f"          token_ttl: {ttl}")
        y.append(f"          token_max_ttl: {max_ttl}")
    y += ["", "  secrets:", f"    {KV_MOUNT}:", "      type: kv-v2", "      kv:"]
    for path, data in kv.items():
        y.append(f"        {path}:")
        for k, v in data.items():
            y.append(f"          {k}: {yq(v)}")
    y += [f"    {TRANSIT_MOUNT}:", "      type: transit", "      keys:"]
    for k in key_names:
        y.append(f"        {k}: {{ type: aes256-gcm96 }}")
    head = ["version: 1", "", "openbao:", "  ledger: aegisctl"]
    if namespaces:
        total = namespaces * n + namespaces
        doc = [f"# generated by scripts/bench/gen_topology.py {n} --namespaces {namespaces}: "
               f"{namespaces} namespaces x {n} objects = {total} objects"] + head + ["  namespaces:"]
        for k in range(namespaces):
            doc.append(f"    ns-{k:03d}:")
            doc.extend(f"    {line}" if line else line for line in y)
    else:
        doc = [f"# generated by scripts/bench/gen_topology.py {n}: {n} objects"] + head + [""] + y
    with open(os.path.join(out, "topology.yaml"), "w") as f:
        f.write("\n".join(doc) + "\n")
    if namespaces:
        counts = {"total": namespaces * n + namespaces, "namespaces": namespaces, "per_namespace": n,
                  "mounts": 3 * namespaces, "policies": n_pol * namespaces,
                  "approle_roles": n_roles * namespaces, "kv_secrets": n_kv * namespaces,
                  "transit_keys": n_keys * namespaces}
        with open(os.path.join(out, "counts.json"), "w") as f:
            json.dump(counts, f)
        print(json.dumps(counts))
        return

    # ---- bao-script.sh -------------------------------------------------------------------
    q = shlex.quote
    s = ["#!/usr/bin/env bash",
         f"# generated by scripts/bench/gen_topology.py {n}: the same {n} objects, one bao process each",
         "set -euo pipefail", 'BAO="${BAO:-bao}"']
    for name, hcl in policies.items():
        s.append(f"\"$BAO\" policy write {name} - >/dev/null <<'EOF'\n{hcl}EOF")
    s.append(f'"$BAO" auth enable -path={APPROLE_MOUNT} approle >/dev/null')
    for name, (pols, ttl, max_ttl) in roles.items():
        s.append(f'"$BAO" write auth/{APPROLE_MOUNT}/role/{name} token_policies={",".join(pols)} '
                 f'token_ttl={ttl} token_max_ttl={max_ttl} >/dev/null')
    s.append(f'"$BAO" secrets enable -path={KV_MOUNT} kv-v2 >/dev/null')
    for path, data in kv.items():
        kvs = " ".join(q(f"{k}={v}") for k, v in data.items())
        s.append(f'"$BAO" kv put -mount={KV_MOUNT} {path} {kvs} >/dev/null')
    s.append(f'"$BAO" secrets enable -path={TRANSIT_MOUNT} transit >/dev/null')
    for k in key_names:
        s.append(f'"$BAO" write -f {TRANSIT_MOUNT}/keys/{k} type=aes256-gcm96 >/dev/null')
    path = os.path.join(out, "bao-script.sh")
    with open(path, "w") as f:
        f.write("\n".join(s) + "\n")
    os.chmod(path, 0o755)

    counts = {"total": n, "mounts": 3, "policies": n_pol, "approle_roles": n_roles,
              "kv_secrets": n_kv, "transit_keys": n_keys}
    with open(os.path.join(out, "counts.json"), "w") as f:
        json.dump(counts, f)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
