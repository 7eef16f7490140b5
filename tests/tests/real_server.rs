//! The same machine and human prose tests, against MongoDB Enterprise in Docker trusting the
//! test kit's identity providers. Opt in with `MONGODB_OIDC_E2E=docker` and the `docker`
//! feature:
//!
//! ```sh
//! MONGODB_OIDC_E2E=docker cargo test -p mongodb-oidc-testkit --features docker --test real_server
//! ```
//!
//! Otherwise, or without a Docker engine or the image, it says why it skipped and passes.

mod support;

/// A plain `main` (the test target has `harness = false`) so that the reason for a skip is
/// always printed, not captured.
fn main() {
    if std::env::var("MONGODB_OIDC_E2E").as_deref() != Ok("docker") {
        println!(
            "real-server suite skipped: set MONGODB_OIDC_E2E=docker and build with --features docker to run the prose tests against MongoDB Enterprise in Docker"
        );
        return;
    }
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(run());
}

#[cfg(not(feature = "docker"))]
async fn run() {
    println!(
        "real-server suite skipped: MONGODB_OIDC_E2E=docker is set, but the test kit was built without the `docker` feature; run `cargo test -p mongodb-oidc-testkit --features docker --test real_server`"
    );
}

#[cfg(feature = "docker")]
async fn run() {
    use std::panic::AssertUnwindSafe;

    use futures_util::FutureExt;
    use support::{Layout, Target, human, machine};

    let (mut passed, mut failed, mut skipped) = (0, Vec::new(), Vec::new());
    for layout in [Layout::Single, Layout::Multi] {
        let target = match Target::docker(layout).await {
            Ok(target) => target,
            Err(why) => {
                println!("real-server suite skipped: {why}");
                return;
            }
        };
        let tables = [("machine", machine::cases()), ("human", human::cases())];
        for (flow, cases) in tables {
            for case in cases.into_iter().filter(|c| c.layout == layout) {
                if case.needs_kit {
                    skipped.push(format!(
                        "{flow} {}: needs the kit's counters or clock",
                        case.name
                    ));
                    continue;
                }
                for source in case.sources {
                    let name = format!("{flow} {} ({source:?})", case.name);
                    match AssertUnwindSafe((case.run)(&target, *source))
                        .catch_unwind()
                        .await
                    {
                        Ok(()) => passed += 1,
                        Err(panic) => {
                            let why = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                            failed.push(format!("{name}: {}", why.unwrap_or_default()));
                        }
                    }
                }
            }
        }
    }
    println!(
        "real server: {passed} passed, {} failed, {} skipped",
        failed.len(),
        skipped.len()
    );
    for line in skipped.iter().chain(failed.iter()) {
        println!("  {line}");
    }
    assert!(
        failed.is_empty(),
        "{} prose test(s) failed against the real server",
        failed.len()
    );
}
