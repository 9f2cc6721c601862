#!/usr/bin/env python3
"""Count requests in an OpenBao file-audit log, from a byte offset on.

Usage:
  audit_count.py size LOG                 print the log's current size in bytes (an offset)
  audit_count.py requests LOG OFFSET      requests (type == "request") after OFFSET
  audit_count.py writes LOG OFFSET        write requests (create/update/delete) after OFFSET
                                          whose path is outside the ledger (not aegisctl/...)
  audit_count.py show-writes LOG OFFSET   the same writes, one "operation path" a line

Only lines with "type":"request" are counted (each request also logs a "response" line).
"""

import json
import os
import sys

WRITE_OPS = {"create", "update", "delete"}
LEDGER_PREFIX = os.environ.get("BENCH_LEDGER_PREFIX", "aegisctl/")


def requests(log, offset):
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("type") == "request":
                yield entry.get("request", {})


def main():
    cmd, log = sys.argv[1], sys.argv[2]
    if cmd == "size":
        print(os.path.getsize(log) if os.path.exists(log) else 0)
        return
    offset = int(sys.argv[3])
    if cmd == "requests":
        print(sum(1 for _ in requests(log, offset)))
    elif cmd in ("writes", "show-writes"):
        writes = [r for r in requests(log, offset)
                  if r.get("operation") in WRITE_OPS
                  and not (r.get("path") or "").startswith(LEDGER_PREFIX)]
        if cmd == "writes":
            print(len(writes))
        else:
            for r in writes:
                print(r.get("operation"), r.get("path"))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
