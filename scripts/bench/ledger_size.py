#!/usr/bin/env python3
"""Report the ledger's documents: how many, the largest and the total size in bytes.

Usage: ledger_size.py MOUNT [--summary]   (BAO_ADDR and BAO_TOKEN from the environment)

Reads `MOUNT/metadata/shards/` and every shard document (`resources` is the JSON text of the
entries); prints one JSON object: {"documents": N, "largest": BYTES, "total": BYTES}, or with
--summary one line: "LARGEST KiB (largest of N documents, TOTAL KiB in all)".
"""

import concurrent.futures
import json
import os
import sys
import urllib.request


def get(addr, token, path, method="GET"):
    req = urllib.request.Request(f"{addr}/v1/{path}", method=method, headers={"X-Vault-Token": token})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    mount = sys.argv[1]
    summary = sys.argv[2:] == ["--summary"]
    addr, token = os.environ["BAO_ADDR"], os.environ["BAO_TOKEN"]
    keys = get(addr, token, f"{mount}/metadata/shards/", "LIST")["data"]["keys"]

    def size(key):
        doc = get(addr, token, f"{mount}/data/shards/{key}")
        return len(json.dumps(doc["data"]["data"]).encode())

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        sizes = list(pool.map(size, keys))
    largest, total = max(sizes, default=0), sum(sizes)
    if summary:
        print(f"{largest / 1024:.0f} KiB (largest of {len(sizes)} documents, {total / 1024:.0f} KiB in all)")
    else:
        print(json.dumps({"documents": len(sizes), "largest": largest, "total": total}))


if __name__ == "__main__":
    main()
