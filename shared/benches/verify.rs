//! Prints what one verify costs next to one argon2id hash, at the production (OWASP) cost.
//! `bash infra/bench.sh` runs it with dynalite up, so the DynamoDB figures are included.

use std::{
    sync::{atomic::AtomicI64, atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use backup_codes::{
    adapters::{dynamodb, memory::MemoryStore},
    app::{enroll, verify},
    config::Config,
    domain::events::Source,
    domain::{
        codes::{BackupCode, CodeHasher, HashCost},
        sealing::{Keyring, SecretKey},
        totp::{step_at, TotpSecret},
        user::UserId,
    },
    ports::{Clock, MailError, Mailer, OutgoingMail, Storage},
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

/// Mail costs nothing here: the figures are the store's and the hashing's.
struct Discard;

#[async_trait::async_trait]
impl Mailer for Discard {
    async fn send(&self, _: &OutgoingMail) -> Result<(), MailError> {
        Ok(())
    }
}

async fn bench_store(label: &str, store: Arc<dyn Storage>) {
    let clock = Arc::new(SteppingClock(AtomicI64::new(1_800_000_000)));
    // Production's wiring and defaults: the OWASP cost, 10 codes, the default lockout.
    let config = Config::from_lookup(|_| None).unwrap();
    let wiring = Wiring {
        config: &config,
        store: store.clone(),
        audit: store,
        clock: clock.clone(),
        mailer: Arc::new(Discard),
        bus: None,
    };
    let svc = wiring
        .factor_services(Keyring::new(SecretKey::generate(), vec![]))
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
        let user = UserId::parse(&format!("bench-{user_n}")).unwrap();
        let started = enroll::start(&svc, &user, None, None, &source)
            .await
            .unwrap();
        let secret = TotpSecret::from_base32(&started.secret_base32).unwrap();
        let code = secret.code_at_step(step_at(clock.now()));
        let enroll::Confirmed::Enrolled(issued) =
            enroll::confirm(&svc, &user, None, &code, &source)
                .await
                .unwrap()
        else {
            panic!("a first enrollment issues codes")
        };
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
                "dynalite",
                Arc::new(dynamodb::DynamoStore::new(client, table)),
            )
            .await;
        }
        Err(_) => println!(
            "DynamoDB figures skipped: AWS_ENDPOINT_URL_DYNAMODB is not set (use infra/bench.sh)"
        ),
    }
}
