//! Benchmark, not a test (`#[ignore]`: `bash infra/bench.sh` runs it and prints the figures):
//! every packaged function's cold start, from process start to its first Runtime API `next`
//! (configuration read, keys in hand, clients built), next to a bare `lambda_http` function's
//! under the same stand-in; with the keys in the environment and from Secrets Manager (moto),
//! the latter next to the fetch alone: what of the start-up the fetch does not cover.
//! Then each function's peak resident memory after 100 sequential invocations, the hashing ones
//! hashing each time.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use backup_codes::{adapters::secrets, domain::codes::random_id};
use integration_tests::{
    cognito::verify_event,
    fresh_table,
    runtime_api::{emulated_aws, start, unpack},
    secrets_client, Call,
};
use serde_json::json;

const RUNS: usize = 61;
const TARGET_RATIO: f64 = 1.5;
const TARGET_PEAK_MIB: f64 = 64.0;

/// The functions with the keys they take.
const FUNCTIONS: [(&str, &[&str]); 11] = [
    ("enroll", &["ENCRYPTION_KEY"]),
    ("verify", &["ENCRYPTION_KEY"]),
    ("code-sets", &["ENCRYPTION_KEY"]),
    ("admin", &["ENCRYPTION_KEY", "SIGNING_KEY"]),
    ("public", &["SIGNING_KEY"]),
    ("audit", &[]),
    ("memberships", &[]),
    ("accounts", &["ENCRYPTION_KEY", "SIGNING_KEY"]),
    ("recovery", &["ENCRYPTION_KEY", "SIGNING_KEY"]),
    ("cognito-challenge", &["ENCRYPTION_KEY", "SIGNING_KEY"]),
    ("notify", &[]),
];

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// 64 random letters and digits, as the template's generated secrets are.
fn key() -> String {
    format!("{}{}", random_id(), random_id())
}

/// Environment variables, as a function is started with them.
type Env = Vec<(&'static str, String)>;

fn secret_variable(key: &str) -> &'static str {
    match key {
        "ENCRYPTION_KEY" => "ENCRYPTION_KEY_SECRET_ID",
        _ => "SIGNING_KEY_SECRET_ID",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bash infra/bench.sh runs it"]
async fn cold_starts_and_peak_memory() {
    let (_, table) = fresh_table().await;
    let secrets = secrets_client().await;
    let mut secret_ids = vec![];
    for purpose in ["ENCRYPTION_KEY", "SIGNING_KEY"] {
        let arn = secrets
            .create_secret()
            .name(format!("bench-{purpose}-{}", random_id()))
            .secret_string(key())
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        secret_ids.push((purpose, arn));
    }
    let base = emulated_aws(&table, "security@bench.example");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cold-{}", random_id()));
    std::fs::create_dir_all(&work).unwrap();
    // Unpacked once, before any is timed: the start is the process's, not the unzip's.
    unpack("hello-lambda", &work);
    for (name, _) in FUNCTIONS {
        unpack(name, &work);
    }

    // Every configuration, round-robin: a machine that is slower for a while slows all alike.
    let mut configurations: Vec<(&'static str, &str, Env)> =
        vec![("hello-lambda", "", base.clone())];
    let mut in_env_keys: Vec<(&str, Env)> = vec![];
    for (name, keys) in FUNCTIONS {
        let mut given = base.clone();
        given.extend(keys.iter().map(|k| (*k, key())));
        configurations.push((name, "in the environment", given.clone()));
        in_env_keys.push((name, given));
        if !keys.is_empty() {
            let mut fetched = base.clone();
            for k in keys.iter() {
                let id = &secret_ids.iter().find(|(p, _)| p == k).unwrap().1;
                fetched.push((secret_variable(k), id.clone()));
            }
            configurations.push((name, "from Secrets Manager", fetched));
        }
    }
    let mut samples = vec![vec![]; configurations.len()];
    let mut fetches = vec![vec![]; configurations.len()];
    for _ in 0..RUNS {
        for (i, (name, _, env)) in configurations.iter().enumerate() {
            let lambda = start(name, &work, env).await;
            samples[i].push(lambda.ready().await);
            // Stopped before the fetch alone is timed, so the two do not share the machine.
            drop(lambda);
            let ids: Vec<&String> = env
                .iter()
                .filter(|(k, _)| k.ends_with("_SECRET_ID"))
                .map(|(_, id)| id)
                .collect();
            if !ids.is_empty() {
                fetches[i].push(fetch_alone(&ids).await);
            }
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let baseline = medians[0];
    println!(
        "cold start, process start to first `next` (median of {RUNS}, round-robin); \
         target {TARGET_RATIO}x the bare lambda_http function's"
    );
    println!("{:<20} {:>9.2} ms", "hello-lambda", ms(baseline));
    for (((name, keys, _), took), fetch) in configurations.iter().zip(&medians).zip(fetches).skip(1)
    {
        if !fetch.is_empty() {
            // The fetch is moto's round trips, not start-up work: what matters is how much of
            // the start-up it leaves outside it.
            let fetch = median(fetch);
            println!(
                "{name:<20} {:>9.2} ms  keys {keys}: the fetch alone {:.2} ms, the start-up \
                 beyond it {:.2} ms",
                ms(*took),
                ms(fetch),
                ms(took.saturating_sub(fetch))
            );
            continue;
        }
        let ratio = ms(*took) / ms(baseline);
        let verdict = if ratio <= TARGET_RATIO {
            "within"
        } else {
            "OVER"
        };
        let keys = if keys.is_empty() {
            String::new()
        } else {
            format!(", keys {keys}")
        };
        println!(
            "{name:<20} {:>9.2} ms  {ratio:>5.2}x ({verdict} target){keys}",
            ms(*took)
        );
    }

    println!("peak resident memory after 100 sequential invocations; target {TARGET_PEAK_MIB} MiB");
    for (name, env) in in_env_keys {
        let mut lambda = start(name, &work, &env).await;
        lambda.ready().await;
        for n in 0..100 {
            // An unknown user's backup-code-shaped guess: each costs the one argon2id hash a
            // real check does, and never fills a ledger.
            let ghost = format!("ghost-{n}-{}", random_id());
            match name {
                "verify" => {
                    let call = Call::new("POST", "/v1/verify")
                        .json(json!({ "user_id": ghost, "code": "abcde-fghij" }));
                    lambda.invoke(call).await;
                }
                "cognito-challenge" => {
                    lambda.invoke_raw(verify_event(&ghost, "abcde-fghij")).await;
                }
                "notify" => {
                    lambda.invoke_raw(json!({ "Records": [] })).await;
                }
                "public" => {
                    lambda
                        .invoke(Call::new("GET", "/v1/backup-codes/download"))
                        .await;
                }
                "audit" => {
                    lambda
                        .invoke(Call::new("GET", "/v1/audit").user(&ghost))
                        .await;
                }
                "memberships" => {
                    let path = format!("/v1/accounts/bench/members/{ghost}");
                    lambda
                        .invoke(Call::new("PUT", &path).json(json!({ "role": "member" })))
                        .await;
                }
                "accounts" => {
                    let path = format!("/v1/accounts/bench/members/{ghost}/audit");
                    lambda.invoke(Call::new("GET", &path).user(&ghost)).await;
                }
                "recovery" => {
                    // A filing for nobody: the same reads as for anyone, and nothing mailed.
                    lambda
                        .invoke(
                            Call::new("POST", "/v1/recovery-requests")
                                .json(json!({ "user_id": ghost })),
                        )
                        .await;
                }
                "admin" => {
                    let path = format!("/v1/admin/users/{ghost}/backup-codes");
                    lambda
                        .invoke(Call::new("POST", &path).user(&ghost).json(json!({})))
                        .await;
                }
                _ => {
                    lambda
                        .invoke(Call::new("GET", "/v1/backup-codes").user(&ghost))
                        .await;
                }
            }
        }
        let peak = lambda.peak_rss_kib() as f64 / 1024.0;
        let verdict = if peak <= TARGET_PEAK_MIB {
            "within"
        } else {
            "OVER"
        };
        println!("{name:<20} {peak:>7.1} MiB ({verdict} target)");
    }
}

/// The function's own fetch of its keyrings, side by side as it sends them, over a new
/// connection: what a cold start waits for when its keys are in Secrets Manager.
async fn fetch_alone(ids: &[&String]) -> Duration {
    let client = secrets_client().await;
    let started = Instant::now();
    let fetches = ids.iter().map(|id| secrets::keyring(&client, id));
    futures::future::try_join_all(fetches)
        .await
        .expect("the keys from moto");
    started.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
