# Recipes for the mongodb-oidc workspace. Every recipe is a plain cargo command underneath, so
# nothing here is needed on a fresh machine.

spec_dir := if path_exists("../shared/spec") == "true" { justfile_directory() / "../shared/spec" } else { "" }

# Run every test (with the official spec files when ../shared/spec exists).
test:
    MONGODB_SPEC_DIR={{spec_dir}} cargo test --workspace

# Lint as CI does.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# The quickstart: the test kit in-process and a client with ENVIRONMENT:azure.
demo:
    cargo run -p mongodb-oidc --example quickstart

# Benchmarks against the plain driver; prints a Markdown table.
bench:
    cargo bench -p mongodb-oidc --bench oidc
