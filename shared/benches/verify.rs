//! Prints what one verify costs next to one argon2id hash, at the production (OWASP) cost.
//! `bash infra/bench.sh` runs it with DynamoDB (ministack's) up, so its figures are included.

use std::{
    sync::{atomic::AtomicI64, atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use backup_codes::{
    adapters::{dynamodb, memory::MemoryStore},
    app::{enroll, redeem, verify, FactorServices, LinkSettings},
    config::Config,
    domain::events::Source,
    domain::{
        codes::{random_id, BackupCode, CodeHasher, HashCost, IssuedCodes},
        link_token::{DownloadGrant, LinkSigner},
        sealing::{Keyring, SecretKey},
        totp::{step_at, TotpSecret},
        user::UserId,
    },
    ports::{Clock, Storage},
    wiring::Wiring,
};
use time::OffsetDateTime;

const SAMPLES: usize = 30;

/// Moves one TOTP step per call to `tick`, so every TOTP sample is fresh.
struct SteppingClock(AtomicI64);

impl Clock for SteppingClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<46} median {:>8.3} ms   p90 {:>8.3} ms   min {:>8.3} ms   (n={})",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
        ms(samples[0]),
        samples.len()
    );
}

/// A user enrolled as a person would be: their id, authenticator secret and first codes.
async fn enrolled(
    svc: &FactorServices<dyn Storage>,
    clock: &dyn Clock,
    name: &str,
) -> (UserId, TotpSecret, IssuedCodes) {
    let source = Source::default();
    let user = UserId::parse(name).unwrap();
    let started = enroll::start(svc, &user, None, None, &source, false)
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(&started.secret_base32).unwrap();
    let code = secret.code_at_step(step_at(clock.now()));
    let enroll::Confirmed::Enrolled(issued) = enroll::confirm(svc, &user, None, &code, &source)
        .await
        .unwrap()
    else {
        panic!("a first enrollment issues codes")
    };
    (user, secret, issued)
}

/// CPU seconds this process has used (user and system), from /proc: coarse (10 ms ticks) but
/// enough for bursts that each hash whole sets.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let after_name: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat names the command in parentheses")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are the 14th and 15th fields; 12th and 13th after the name.
    let ticks: f64 =
        after_name[11].parse::<f64>().unwrap() + after_name[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Racing redemptions of one live link: one holds it at a time, and the rest must be refused
/// before they hash a set, so a burst costs at most `DownloadGrant::MAX_REDEMPTIONS` sets of CPU
/// however large it is (the link may be redeemed again once a redemption has stored its set).
async fn bench_racing_redemptions(
    label: &str,
    svc: FactorServices<dyn Storage>,
    clock: Arc<SteppingClock>,
) {
    let signer = LinkSigner::new(Keyring::new(SecretKey::generate(), vec![]));
    let links = Arc::new(LinkSettings {
        signer: signer.clone(),
        ttl: time::Duration::hours(1),
    });
    let svc = Arc::new(svc);
    let mut one_set = None;
    for (n, burst) in [1usize, 1, 10, 30, 100].into_iter().enumerate() {
        let (user, _, _) = enrolled(&svc, &*clock, &format!("race-{label}-{n}")).await;
        let grant = DownloadGrant {
            id: random_id(),
            expires_at: clock.now() + time::Duration::hours(1),
        };
        svc.store.grant_download(&user, &grant, &[]).await.unwrap();
        let token = signer.sign(&user, &grant);
        let (cpu, started) = (cpu_seconds(), Instant::now());
        let tasks: Vec<_> = (0..burst)
            .map(|_| {
                let (svc, links, token) = (svc.clone(), links.clone(), token.clone());
                tokio::spawn(async move {
                    redeem::redeem(&svc, &links, &token, &Source::default())
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut issued = 0;
        for task in tasks {
            issued += usize::from(task.await.unwrap());
        }
        let (cpu, wall) = (cpu_seconds() - cpu, started.elapsed());
        // The first single redemption warms up; the second is the unit.
        if n == 1 {
            one_set = Some(cpu);
        }
        if n >= 1 {
            let sets = one_set.map_or(0.0, |one| cpu / one.max(0.01));
            println!(
                "racing redemptions of one link ({label}): {burst:>3} at once   {issued} issued   \
                 CPU {cpu:.2} s ({sets:.1} sets' worth)   wall {:.0} ms",
                wall.as_secs_f64() * 1000.0
            );
        }
    }
}

/// The CPU of whole backup-code verifies (reserve, hash, use, record) next to the CPU of as many
/// bare argon2id hashes, in one run: what the verify adds to its one hash.
async fn bench_cpu_ratio(svc: &FactorServices<dyn Storage>, clock: &SteppingClock) {
    const N: usize = 60;
    let mut codes = vec![];
    let mut user_n = 0;
    while codes.len() < N {
        user_n += 1;
        let (user, _, issued) = enrolled(svc, clock, &format!("cpu-{user_n}")).await;
        codes.extend(issued.display().into_iter().map(|c| (user.clone(), c)));
    }
    let source = Source::default();
    let hasher = CodeHasher::new(HashCost::default()).unwrap();
    let code = BackupCode::parse("abcde-12345").unwrap();
    let (mut verify_cpu, mut hash_cpu) = (0.0, 0.0);
    // Alternating halves, so neither side always runs on a warmer machine.
    for half in codes.chunks(N / 2) {
        let before = cpu_seconds();
        for (user, code) in half {
            verify::verify(svc, user, code, &source).await.unwrap();
        }
        verify_cpu += cpu_seconds() - before;
        let before = cpu_seconds();
        for _ in half {
            hasher.hash(&code, &[7u8; 16]).unwrap();
        }
        hash_cpu += cpu_seconds() - before;
    }
    let ratio = verify_cpu / hash_cpu.max(0.001);
    println!(
        "CPU per backup-code verify {:.1} ms, per argon2id hash {:.1} ms: {ratio:.2}x \
         (target <= 1.10x, {})",
        verify_cpu * 1000.0 / N as f64,
        hash_cpu * 1000.0 / N as f64,
        if ratio <= 1.10 { "within" } else { "OVER" }
    );
}

/// Counts the requests a DynamoDB client sends.
#[derive(Clone, Debug, Default)]
struct RequestCount(Arc<std::sync::atomic::AtomicUsize>);

impl RequestCount {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for RequestCount {
    fn name(&self) -> &'static str {
        "RequestCount"
    }

    fn read_before_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// DynamoDB requests per verify, by outcome, next to the targets.
async fn bench_requests(
    svc: &FactorServices<dyn Storage>,
    clock: &SteppingClock,
    count: &RequestCount,
) {
    let source = Source::default();
    let (user, secret, issued) = enrolled(svc, clock, "requests").await;
    let codes = issued.display();
    let row = |what: &str, target: &str, n: usize| {
        let within = target
            .trim_start_matches("<= ")
            .parse::<usize>()
            .is_ok_and(|t| n <= t);
        println!(
            "DynamoDB requests, {what:<34} {n}  (target {target}, {})",
            if within { "within" } else { "OVER" }
        );
    };
    count.take();
    verify::verify(svc, &user, &codes[0], &source)
        .await
        .unwrap();
    row("backup code accepted", "<= 2", count.take());
    clock.0.fetch_add(30, Ordering::SeqCst);
    let totp = secret.code_at_step(step_at(clock.now()));
    verify::verify(svc, &user, &totp, &source).await.unwrap();
    row("TOTP code accepted", "<= 2", count.take());
    verify::verify(svc, &user, &codes[0], &source)
        .await
        .unwrap_err();
    row("used code refused", "<= 1", count.take());
    let ghost = UserId::parse("requests-ghost").unwrap();
    verify::verify(svc, &ghost, &codes[1], &source)
        .await
        .unwrap_err();
    row("unknown user refused", "<= 1", count.take());
    for _ in 0..8 {
        verify::verify(svc, &user, &codes[0], &source)
            .await
            .unwrap_err();
    }
    count.take();
    verify::verify(svc, &user, &codes[0], &source)
        .await
        .unwrap_err();
    row("refusal that locks (+ locked_out)", "<= 2", count.take());
    verify::verify(svc, &user, &codes[1], &source)
        .await
        .unwrap_err();
    row("locked user refused", "<= 1", count.take());
}

fn wired(store: Arc<dyn Storage>, clock: Arc<SteppingClock>) -> FactorServices<dyn Storage> {
    // Production's wiring and defaults: the OWASP cost, 10 codes, the default lockout.
    let config = Config::from_lookup(|_| None).unwrap();
    let wiring = Wiring {
        config: &config,
        store: store.clone(),
        mail_budget: Arc::new(store.clone()),
        clock,
    };
    wiring
        .factor_services(store, Keyring::new(SecretKey::generate(), vec![]))
        .unwrap()
}

async fn bench_store(label: &str, store: Arc<dyn Storage>) {
    let clock = Arc::new(SteppingClock(AtomicI64::new(1_800_000_000)));
    // Production's wiring and defaults: the OWASP cost, 10 codes, the default lockout.
    let config = Config::from_lookup(|_| None).unwrap();
    let wiring = Wiring {
        config: &config,
        store: store.clone(),
        mail_budget: Arc::new(store.clone()),
        clock: clock.clone(),
    };
    let svc = wiring
        .factor_services(store, Keyring::new(SecretKey::generate(), vec![]))
        .unwrap();
    let mut backup = vec![];
    let mut totp = vec![];
    let mut refused = vec![];
    // Refusals that must cost the same whether or not the user exists.
    let (mut wrong_code_known, mut code_unknown) = (vec![], vec![]);
    let (mut wrong_totp_known, mut totp_unknown) = (vec![], vec![]);
    let source = Source::default();
    let mut user_n = 0;
    while backup.len() < SAMPLES {
        user_n += 1;
        let (user, secret, issued) = enrolled(&svc, &*clock, &format!("bench-{user_n}")).await;
        for code in issued.display() {
            let t = Instant::now();
            verify::verify(&svc, &user, &code, &source).await.unwrap();
            backup.push(t.elapsed());
            let t = Instant::now();
            verify::verify(&svc, &user, &code, &source)
                .await
                .unwrap_err();
            refused.push(t.elapsed());
            let ghost = UserId::parse(&format!("ghost-{user_n}-{}", backup.len())).unwrap();
            // Five steps ahead: outside the skew window, so certainly refused.
            let far = secret.code_at_step(step_at(clock.now()) + 5);
            // Each pair runs in alternating order, so neither side always follows an argon2id
            // hash that has just flushed the caches.
            let known_first = backup.len() % 2 == 0;
            for (guess, known, unknown) in [
                ("zzzzz-zzzzz", &mut wrong_code_known, &mut code_unknown),
                (far.as_str(), &mut wrong_totp_known, &mut totp_unknown),
            ] {
                let order = if known_first {
                    [(&user, known), (&ghost, unknown)]
                } else {
                    [(&ghost, unknown), (&user, known)]
                };
                for (who, samples) in order {
                    let t = Instant::now();
                    verify::verify(&svc, who, guess, &source).await.unwrap_err();
                    samples.push(t.elapsed());
                }
            }
            clock.0.fetch_add(30, Ordering::SeqCst);
            let code = secret.code_at_step(step_at(clock.now()));
            let t = Instant::now();
            verify::verify(&svc, &user, &code, &source).await.unwrap();
            totp.push(t.elapsed());
        }
    }
    report(&format!("verify backup code ({label})"), backup);
    report(&format!("verify used code, refused ({label})"), refused);
    report(&format!("verify TOTP code ({label})"), totp);
    report(
        &format!("wrong backup code, known user ({label})"),
        wrong_code_known,
    );
    report(
        &format!("backup code, unknown user ({label})"),
        code_unknown,
    );
    report(
        &format!("wrong TOTP code, known user ({label})"),
        wrong_totp_known,
    );
    report(&format!("TOTP code, unknown user ({label})"), totp_unknown);
    if label == "memory" {
        bench_cpu_ratio(&svc, &clock).await;
    }
    bench_racing_redemptions(label, svc, clock).await;
}

#[tokio::main]
async fn main() {
    let cost = HashCost::default();
    println!(
        "argon2id cost m={} KiB t={} p={}; {} cores",
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let hasher = CodeHasher::new(cost).unwrap();
    let code = BackupCode::parse("abcde-12345").unwrap();
    let salt = [7u8; 16];
    let hashes = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            hasher.hash(&code, &salt).unwrap();
            t.elapsed()
        })
        .collect();
    report("one argon2id hash", hashes);

    bench_store("memory", Arc::new(MemoryStore::new())).await;
    match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(_) => {
            let aws = aws_config::load_from_env().await;
            let client = dynamodb::client(&aws);
            let table = format!("bench-{}", backup_codes::domain::codes::random_id());
            dynamodb::ensure_table(&client, &table).await.unwrap();
            bench_store(
                "DynamoDB (ministack)",
                Arc::new(dynamodb::DynamoStore::new(client, table.clone())),
            )
            .await;
            let count = RequestCount::default();
            let counted = aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(count.clone())
                .build();
            let store =
                dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(counted), table);
            let clock = Arc::new(SteppingClock(AtomicI64::new(1_900_000_000)));
            let svc = wired(Arc::new(store), clock.clone());
            bench_requests(&svc, &clock, &count).await;
        }
        Err(_) => println!(
            "DynamoDB figures skipped: AWS_ENDPOINT_URL_DYNAMODB is not set (use infra/bench.sh)"
        ),
    }
}
