# The README's commands as recipes.

# OpenBao dev server + PostgreSQL on loopback, demo topology: plan → apply → plan
demo:
    ./scripts/demo.sh

# The whole test suite (fmt, clippy, unit + integration tests, demo)
test:
    ./scripts/test.sh

# The benchmark of docs/benchmarks.md
bench *SIZES:
    ./scripts/bench.sh {{SIZES}}

fmt:
    cargo fmt

lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
