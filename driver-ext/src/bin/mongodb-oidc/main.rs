//! The mongodb-oidc CLI.
fn main() {}
