# The README's commands as recipes. Each calls a script, so everything works without `just`.

# OpenBao dev server, PostgreSQL and Keycloak on loopback, demo topology: plan → apply → plan ("No changes."), the SDK client's login with its secret from OpenBao
demo:
    ./scripts/demo.sh

# The whole test suite (fmt, clippy, unit + integration tests against real OpenBao, PostgreSQL and Keycloak, the demo)
test:
    ./scripts/test.sh

# The benchmark of docs/benchmarks.md (sizes default to the script's own)
bench *SIZES:
    ./scripts/bench.sh {{SIZES}}

# Format the code in place
fmt:
    cargo fmt

# Formatting check, clippy with warnings as errors, and shellcheck of the scripts when installed
lint:
    cargo fmt --check
    cargo clippy --all-targets --quiet -- -D warnings
    if command -v shellcheck >/dev/null; then shellcheck scripts/bao-dev.sh scripts/pg-dev.sh scripts/keycloak-dev.sh scripts/demo.sh scripts/test.sh .ci/run; fi
