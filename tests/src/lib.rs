//! Test kit for MONGODB-OIDC clients.
#![warn(missing_docs)]
