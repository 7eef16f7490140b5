//! The human-flow prose tests (support/human.rs) against the test kit.

mod support;

use support::{Layout, Target, human};

macro_rules! cases {
    ($($case:ident => $layout:expr),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            human::$case(&Target::kit($layout).await).await;
        }
    )+};
}

cases!(
    h1_1 => Layout::Single,
    h1_2 => Layout::Single,
    h1_3_and_1_4 => Layout::Multi,
    h1_5 => Layout::Multi,
    h1_6 => Layout::Single,
    h1_8 => Layout::Single,
    h2_1 => Layout::Single,
    h2_2 => Layout::Single,
    h2_3 => Layout::Single,
    h3_1 => Layout::Single,
    h3_2 => Layout::Single,
    h4_1 => Layout::Single,
    h4_2 => Layout::Single,
    h4_3 => Layout::Single,
    h4_4 => Layout::Single,
);

#[tokio::test]
async fn h1_7() {
    human::h1_7().await;
}

/// Kit-only checks the shared cases leave out because a real server has no counters.
#[tokio::test]
async fn kit_counters_confirm_speculative_and_client_side_rejections() {
    let target = Target::kit(Layout::Single).await;
    human::h3_1(&target).await;
    assert_eq!(target.stats().unwrap().speculative_succeeded, 1);
    target.reset_stats();
    human::h1_6(&target).await;
    let stats = target.stats().unwrap();
    assert_eq!(
        stats.sasl_start_principal + stats.sasl_start_jwt,
        0,
        "blocked hosts fail client-side: {stats:?}"
    );
}
