//! The machine-flow prose tests (support/machine.rs) against the test kit, one test per case
//! and token source.

mod support;

use support::{Layout, Source, Target, machine};

macro_rules! per_source {
    ($($case:ident),+ $(,)?) => {$(
        mod $case {
            use super::*;
            async fn run(source: Source) {
                machine::$case(&Target::kit(Layout::Single).await, source).await;
            }
            #[tokio::test(flavor = "multi_thread")] async fn callback() { run(Source::Callback).await }
            #[tokio::test(flavor = "multi_thread")] async fn test() { run(Source::Test).await }
            #[tokio::test(flavor = "multi_thread")] async fn azure() { run(Source::Azure).await }
            #[tokio::test(flavor = "multi_thread")] async fn gcp() { run(Source::Gcp).await }
            #[tokio::test(flavor = "multi_thread")] async fn k8s() { run(Source::K8s).await }
        }
    )+};
}

per_source!(
    case_1_1, case_1_2, case_3_1, case_3_3, case_4_1, case_4_4, case_4_5
);

macro_rules! once {
    ($($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            machine::$case(&Target::kit(Layout::Single).await).await;
        }
    )+};
}

once!(
    case_2_1, case_2_2, case_2_3, case_2_4, case_2_5, case_3_2, case_4_2, case_4_3, case_5_1,
    case_5_2
);

/// The case table (which the Docker suite runs) lists exactly the cases above.
#[test]
fn the_table_lists_every_case() {
    let names: Vec<&str> = machine::cases().iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5", "3.1", "3.2", "3.3", "4.1", "4.2",
            "4.3", "4.4", "4.5", "5.1", "5.2"
        ]
    );
}
