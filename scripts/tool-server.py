#!/usr/bin/env python3
"""A tiny "tool" for the demo, run under `aegisctl run`: it answers GET / on loopback with JSON
about what it was handed — never a value: the API key's length, the database user it got and
whether a psql login with it works, and which credentials it was NOT given (aegisctl's own
OpenBao token, the AppRole's credentials, the SOPS key, the Infisical admin login).

    python3 scripts/tool-server.py --port PORT [--pg-port PORT] [--psql PATH]

Standard library only. SIGTERM (passed on by aegisctl) stops it cleanly."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

# What aegisctl withholds from the process (the demo's login comes from the AEGIS_RUNTIME_*).
WITHHELD = [
    "BAO_TOKEN",
    "VAULT_TOKEN",
    "AEGIS_RUNTIME_ROLE_ID",
    "AEGIS_RUNTIME_SECRET_ID",
    "SOPS_AGE_KEY_FILE",
    "INFISICAL_CLIENT_ID",
    "INFISICAL_CLIENT_SECRET",
]


def psql_login(psql, port):
    """Whether PostgreSQL lets DB_USER in with DB_PASSWORD (the password goes via the env)."""
    user, password = os.environ.get("DB_USER", ""), os.environ.get("DB_PASSWORD", "")
    if not user or not password:
        return False, "no DB_USER/DB_PASSWORD"
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
    out = subprocess.run(
        [psql, "-X", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres",
         "-tAc", "select current_user"],
        env=env, capture_output=True, text=True, timeout=15,
    )
    if out.returncode == 0:
        return True, out.stdout.strip()
    return False, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "psql failed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pg-port", type=int, default=int(os.environ.get("PG_PORT", "5432")))
    ap.add_argument("--psql", default=shutil.which("psql") or "psql")
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ok, who = psql_login(args.psql, args.pg_port)
            key = os.environ.get("SEARCH_API_KEY", "")
            body = {
                "tool": "web-search",
                "pid": os.getpid(),
                "search_api_key_length": len(key),
                "search_api_key_same_in_infisical": key != "" and key == os.environ.get("SEARCH_API_KEY_INFISICAL"),
                "db_user": os.environ.get("DB_USER"),
                "psql_login_works": ok,
                "psql_current_user": who if ok else None,
                "search_timeout_ms": os.environ.get("SEARCH_TIMEOUT_MS"),  # a scoped setting, not a secret
                "openbao_token_in_env": "BAO_TOKEN" in os.environ or "VAULT_TOKEN" in os.environ,
                "withheld_present": [n for n in WITHHELD if n in os.environ],
            }
            data = (json.dumps(body, indent=2) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *a):  # quiet: no request log lines in the demo
            pass

    server = HTTPServer(("127.0.0.1", args.port), Handler)  # loopback only

    def stop(signum, _frame):
        print(f"tool-server: got {signal.Signals(signum).name}, shutting down", file=sys.stderr, flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"tool-server: listening on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
