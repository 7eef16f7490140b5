//! `cargo bench -p mongodb-oidc` (or `just bench`): this crate against the plain driver with an
//! equivalent closure callback (an IMDS GET, as the driver's own azure integration does: no
//! status check, no retry, no cache), both against the test kit in this process.
//! Prints a Markdown table of ratios ours / baseline.

use std::time::{Duration, Instant};

use mongodb::Client;
use mongodb::bson::{Document, doc};
use mongodb::options::oidc::{Callback, IdpServerResponse};
use mongodb::options::{AuthMechanism, ClientOptions, Credential};
use mongodb_oidc::{OidcOptions, ProviderConfig};
use mongodb_oidc_testkit::http::Fault;
use mongodb_oidc_testkit::server::FailPoint;
use mongodb_oidc_testkit::{DEFAULT_AUDIENCE, TestKit};

/// Clients and connections per client in the fetch-count scenario.
const CLIENTS: usize = 10;
const CONNECTIONS: usize = 20;
/// IMDS latency in the latency scenarios.
const IMDS_LATENCY: Duration = Duration::from_millis(200);
/// Token lifetime in the reauthentication scenario: short, so that several expire in a run.
const SHORT_LIFETIME: Duration = Duration::from_secs(3);
const REAUTH_SAMPLES: usize = 6;
/// Steady-state load: tasks × finds.
const TASKS: usize = 8;
const FINDS_PER_TASK: usize = 1500;
const CONNECT_SAMPLES: usize = 30;
const THROUGHPUT_ROUNDS: usize = 5;
const WARM_UP_FINDS: usize = 300;

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ours,
    Baseline,
}

fn uri(kit: &TestKit, app: &str, extra: &str) -> String {
    format!(
        "{}?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}&appName={app}&retryReads=false{extra}",
        kit.uri()
    )
}

/// The baseline: what a user writes with the driver alone.
fn baseline_callback(imds: String) -> Callback {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Callback::machine(move |_ctx| {
        let (http, url) = (
            http.clone(),
            format!("{imds}?api-version=2018-02-01&resource={DEFAULT_AUDIENCE}"),
        );
        Box::pin(async move {
            let custom = |e: String| mongodb::error::Error::custom(e);
            let response = http
                .get(url)
                .header("Metadata", "true")
                .send()
                .await
                .map_err(|e| custom(e.to_string()))?;
            let body: serde_json::Value =
                response.json().await.map_err(|e| custom(e.to_string()))?;
            let token = body["access_token"]
                .as_str()
                .ok_or_else(|| custom("no access_token".into()))?;
            Ok(IdpServerResponse::builder()
                .access_token(token.to_owned())
                .build())
        })
    })
}

async fn client(
    kit: &TestKit,
    side: Side,
    app: &str,
    extra: &str,
) -> (Client, Option<OidcOptions>) {
    let uri = uri(kit, app, extra);
    match side {
        Side::Ours => {
            let options = OidcOptions::builder()
                .provider_config(ProviderConfig::new().azure_imds_endpoint(kit.azure().endpoint()))
                .build();
            (options.client(&uri).await.unwrap(), Some(options))
        }
        Side::Baseline => {
            let plain = uri.replace(
                &format!(
                    "&authMechanismProperties=ENVIRONMENT:azure,TOKEN_RESOURCE:{DEFAULT_AUDIENCE}"
                ),
                "",
            );
            let mut options = ClientOptions::parse(plain).await.unwrap();
            options.credential = Some(
                Credential::builder()
                    .mechanism(AuthMechanism::MongoDbOidc)
                    .oidc_callback(baseline_callback(kit.azure().endpoint()))
                    .build(),
            );
            (Client::with_options(options).unwrap(), None)
        }
    }
}

async fn find(client: &Client) -> mongodb::error::Result<Option<Document>> {
    client
        .database("bench")
        .collection::<Document>("c")
        .find_one(doc! {})
        .await
}

/// Token fetches (IMDS requests) for 10 clients that each open 20 connections.
async fn fetch_count(side: Side) -> usize {
    let kit = TestKit::start().await.unwrap();
    kit.server().set_fail_point(Some(
        FailPoint::delay(&["find"], 100, u64::MAX / 2).for_app("fetches"),
    ));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, _) = client(
            &kit,
            side,
            "fetches",
            &format!("&maxPoolSize={CONNECTIONS}"),
        )
        .await;
        for _ in 0..CONNECTIONS {
            let client = client.clone();
            tasks.push(tokio::spawn(async move { find(&client).await.unwrap() }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(kit.server().stats().connections >= (CLIENTS * CONNECTIONS) as u64);
    kit.azure().http().log().count()
}

/// Time to the first successful find with a slow IMDS that fails once.
async fn first_find(side: Side) -> Result<Duration, String> {
    let kit = TestKit::start().await.unwrap();
    kit.azure().http().faults().set_latency(IMDS_LATENCY);
    kit.azure()
        .http()
        .faults()
        .push(Fault::status(500, r#"{"error":"server_error"}"#));
    let started = Instant::now();
    let (client, _) = client(&kit, side, "first", "").await;
    match find(&client).await {
        Ok(_) => Ok(started.elapsed()),
        Err(e) => Err(mongodb_oidc::Error::from(e)
            .to_string()
            .chars()
            .take(60)
            .collect()),
    }
}

/// Latencies of the finds that met an expired token (one connection, real-time expiry).
async fn reauth_latencies(side: Side) -> Vec<Duration> {
    let kit = TestKit::start().await.unwrap();
    kit.azure().http().faults().set_latency(IMDS_LATENCY);
    kit.azure().set_token_lifetime(SHORT_LIFETIME);
    let (client, _) = client(&kit, side, "reauth", "&maxPoolSize=1").await;
    find(&client).await.unwrap();
    let mut samples = Vec::new();
    while samples.len() < REAUTH_SAMPLES {
        let before = kit.server().stats().reauthentication_required;
        let started = Instant::now();
        find(&client).await.unwrap();
        let took = started.elapsed();
        if kit.server().stats().reauthentication_required > before {
            samples.push(took);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    samples
}

/// The slowest find made by 8 tasks on one pooled client while tokens expire in real time.
async fn pooled_slowest(side: Side) -> Duration {
    let kit = TestKit::start().await.unwrap();
    kit.azure().http().faults().set_latency(IMDS_LATENCY);
    kit.azure().set_token_lifetime(SHORT_LIFETIME);
    let (client, _) = client(&kit, side, "pooled", "&maxPoolSize=8").await;
    find(&client).await.unwrap();
    let until = Instant::now() + SHORT_LIFETIME * 3;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    find(&client).await.unwrap();
                    samples.push(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.into_iter().max().unwrap_or_default()
}

/// Finds per second with 8 tasks on one client, tokens already cached.
async fn throughput(side: Side) -> f64 {
    let kit = TestKit::start().await.unwrap();
    kit.server().insert("bench", "c", vec![doc! { "x": 1 }]);
    let (client, _) = client(&kit, side, "throughput", "").await;
    for _ in 0..WARM_UP_FINDS {
        find(&client).await.unwrap();
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..FINDS_PER_TASK {
                    find(&client).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (TASKS * FINDS_PER_TASK) as f64 / started.elapsed().as_secs_f64()
}

/// Median time from a new client to its first find (connect, fetch, authenticate).
async fn connect_latency(side: Side) -> Duration {
    let kit = TestKit::start().await.unwrap();
    let mut samples = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..CONNECT_SAMPLES {
        let started = Instant::now();
        let (client, options) = client(&kit, side, "connect", "").await;
        find(&client).await.unwrap();
        samples.push(started.elapsed());
        keep.push((client, options));
    }
    percentile(&mut samples, 0.5)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[tokio::main]
async fn main() {
    println!("mongodb-oidc benchmark on {}\n", machine());
    let (ours_fetches, base_fetches) = (
        fetch_count(Side::Ours).await,
        fetch_count(Side::Baseline).await,
    );
    let (ours_first, base_first) = (
        first_find(Side::Ours).await,
        first_find(Side::Baseline).await,
    );
    let (mut ours_reauth, mut base_reauth) = tokio::join!(
        reauth_latencies(Side::Ours),
        reauth_latencies(Side::Baseline)
    );
    let (ours_pooled, base_pooled) =
        tokio::join!(pooled_slowest(Side::Ours), pooled_slowest(Side::Baseline));
    // Interleaved rounds, median of each: the two sides differ by less than the machine's noise.
    let (mut ours_runs, mut base_runs) = (Vec::new(), Vec::new());
    for round in 0..THROUGHPUT_ROUNDS {
        // Alternate who goes first, and let the previous run's clients shut down.
        for side in if round % 2 == 0 {
            [Side::Baseline, Side::Ours]
        } else {
            [Side::Ours, Side::Baseline]
        } {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let runs = if side == Side::Ours {
                &mut ours_runs
            } else {
                &mut base_runs
            };
            runs.push(throughput(side).await);
        }
    }
    eprintln!("throughput runs: ours {ours_runs:.0?}, baseline {base_runs:.0?}");
    let median = |runs: &mut Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    let (ours_tp, base_tp) = (median(&mut ours_runs), median(&mut base_runs));
    let (ours_connect, base_connect) = (
        connect_latency(Side::Ours).await,
        connect_latency(Side::Baseline).await,
    );

    let show = |r: &Result<Duration, String>| match r {
        Ok(d) => format!("{} (succeeded)", ms(*d)),
        Err(e) => format!("failed: {e}"),
    };
    let ratio = |a: f64, b: f64| match a / b {
        r if r < 0.1 => format!("{r:.3}"),
        r => format!("{r:.2}"),
    };
    let (o50, o99) = (
        percentile(&mut ours_reauth, 0.5),
        percentile(&mut ours_reauth, 0.99),
    );
    let (b50, b99) = (
        percentile(&mut base_reauth, 0.5),
        percentile(&mut base_reauth, 0.99),
    );
    println!("| scenario | mongodb-oidc | driver + closure callback | ours / baseline | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| IMDS fetches, {CLIENTS} clients × {CONNECTIONS} connections | {ours_fetches} | {base_fetches} | {} | 1 vs {CLIENTS} |",
        ratio(ours_fetches as f64, base_fetches as f64)
    );
    println!(
        "| first find, IMDS {} latency + one HTTP 500 | {} | {} | — | ours succeeds |",
        ms(IMDS_LATENCY),
        show(&ours_first),
        show(&base_first)
    );
    println!(
        "| find that meets an expired token, p50 ({REAUTH_SAMPLES} expiries, IMDS {}) | {} | {} | {} | ≤ 0.1 |",
        ms(IMDS_LATENCY),
        ms(o50),
        ms(b50),
        ratio(o50.as_secs_f64(), b50.as_secs_f64())
    );
    println!(
        "| find that meets an expired token, p99 | {} | {} | {} | ≤ 0.1 |",
        ms(o99),
        ms(b99),
        ratio(o99.as_secs_f64(), b99.as_secs_f64())
    );
    println!(
        "| slowest find, {TASKS} tasks on a pool of 8 through 3 expiries | {} | {} | {} | — |",
        ms(ours_pooled),
        ms(base_pooled),
        ratio(ours_pooled.as_secs_f64(), base_pooled.as_secs_f64())
    );
    println!(
        "| steady-state finds/s ({TASKS} tasks, median of {THROUGHPUT_ROUNDS}) | {ours_tp:.0} | {base_tp:.0} | {} | ≥ 0.98 |",
        ratio(ours_tp, base_tp)
    );
    println!(
        "| new client to first find, median | {} | {} | {} | ≤ 1.02 |",
        ms(ours_connect),
        ms(base_connect),
        ratio(ours_connect.as_secs_f64(), base_connect.as_secs_f64())
    );
}
