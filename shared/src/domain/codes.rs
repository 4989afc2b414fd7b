//! Backup codes: how they look, how they are generated, and how they are hashed.
//!
//! A set shares one random salt, so a candidate code is hashed once with argon2id and then
//! compared against every stored hash. Verify therefore costs one argon2id computation whatever
//! the set size, unlike per-code salts, which cost one hash per stored code.

use std::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::{rngs::OsRng, Rng, RngCore};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Crockford base32: no I, L, O or U, so nothing reads as another character.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 10 characters of 5 bits each: 50 bits per code.
pub const CODE_LEN: usize = 10;
pub const HASH_LEN: usize = 32;
pub const SALT_LEN: usize = 16;

/// A plaintext backup code, normalised to upper case without separators. Wiped when dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct BackupCode(String);

impl BackupCode {
    /// Accepts any case and ignores spaces and hyphens; reads the look-alikes I, L as 1 and O as 0
    /// the way Crockford's alphabet intends, so a code copied by hand still works.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut normalised = String::with_capacity(CODE_LEN);
        for c in raw.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' => continue,
                'I' | 'L' => '1',
                'O' => '0',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || normalised.len() == CODE_LEN {
                return None;
            }
            normalised.push(c);
        }
        (normalised.len() == CODE_LEN).then_some(Self(normalised))
    }

    fn generate() -> Self {
        let mut rng = OsRng;
        let code = (0..CODE_LEN)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        Self(code)
    }

    /// The form shown to people: `xxxxx-xxxxx`, lower case as GitHub's recovery codes are.
    pub fn display(&self) -> String {
        let lower = self.0.to_ascii_lowercase();
        format!("{}-{}", &lower[..5], &lower[5..])
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(<redacted>)")
    }
}

/// argon2id cost; defaults are OWASP's recommendation (m=19456 KiB, t=2, p=1). Each set keeps
/// the cost it was hashed with, so changing the configured cost never invalidates stored codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    pub const MEMORY_KIB: std::ops::RangeInclusive<u32> = 8..=4 * 1024 * 1024;
    pub const ITERATIONS: std::ops::RangeInclusive<u32> = 1..=100;
    pub const PARALLELISM: std::ops::RangeInclusive<u32> = 1..=16;

    /// The PHC-style form a set stores: `m=19456,t=2,p=1`.
    pub fn encode(&self) -> String {
        format!(
            "m={},t={},p={}",
            self.memory_kib, self.iterations, self.parallelism
        )
    }

    /// Reads `encode`'s form; anything else, or a cost outside the configurable ranges (a
    /// damaged record must not make a function allocate gigabytes), is `None`.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split(',');
        let mut field = |name: &str, range: std::ops::RangeInclusive<u32>| {
            let value: u32 = parts.next()?.strip_prefix(name)?.parse().ok()?;
            range.contains(&value).then_some(value)
        };
        let cost = Self {
            memory_kib: field("m=", Self::MEMORY_KIB)?,
            iterations: field("t=", Self::ITERATIONS)?,
            parallelism: field("p=", Self::PARALLELISM)?,
        };
        parts.next().is_none().then_some(cost)
    }
}

impl Default for HashCost {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Hashes backup codes with argon2id: new sets under the configured cost, stored sets under theirs.
#[derive(Clone)]
pub struct CodeHasher {
    cost: HashCost,
}

#[derive(Debug, thiserror::Error)]
#[error("argon2 rejected its parameters: {0}")]
pub struct HashCostError(argon2::Error);

#[derive(Debug, thiserror::Error)]
#[error("argon2 failed to hash: {0}")]
pub struct HashingFailed(argon2::Error);

impl CodeHasher {
    pub fn new(cost: HashCost) -> Result<Self, HashCostError> {
        params(cost).map_err(HashCostError)?;
        Ok(Self { cost })
    }

    pub fn cost(&self) -> HashCost {
        self.cost
    }

    /// The hasher a stored set is checked with: the cost it was made under, or the configured
    /// one for a set stored before sets recorded their cost.
    pub fn for_set(&self, set: Option<&BackupCodeSet>) -> Self {
        Self {
            cost: set.and_then(|s| s.cost).unwrap_or(self.cost),
        }
    }

    pub fn hash(
        &self,
        code: &BackupCode,
        salt: &[u8; SALT_LEN],
    ) -> Result<CodeHash, HashingFailed> {
        self.hash_in(code, salt, &mut Vec::new())
    }

    /// As `hash`, computing in `memory`, which is grown to the cost's size once and reused:
    /// every block is overwritten before it is read, so what a previous hash left is never used.
    pub fn hash_in(
        &self,
        code: &BackupCode,
        salt: &[u8; SALT_LEN],
        memory: &mut Vec<Block>,
    ) -> Result<CodeHash, HashingFailed> {
        let params = params(self.cost).map_err(HashingFailed)?;
        memory.resize(params.block_count(), Block::default());
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut out = [0u8; HASH_LEN];
        argon
            .hash_password_into_with_memory(code.0.as_bytes(), salt, &mut out, &mut memory[..])
            .map_err(HashingFailed)?;
        Ok(CodeHash(out))
    }
}

fn params(cost: HashCost) -> Result<Params, argon2::Error> {
    Params::new(
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
        Some(HASH_LEN),
    )
}

/// The argon2id output for one code under its set's salt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeHash(pub [u8; HASH_LEN]);

impl CodeHash {
    /// Stable text form used as the storage key of the code inside its set.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != HASH_LEN * 2 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; HASH_LEN];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHash(..)")
    }
}

/// One stored code of a set: its hash, its line on the sheet the user saved, and when it was
/// used if it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCode {
    pub hash: CodeHash,
    /// From 1, in the order the codes were shown, downloaded and printed; so a user can cross
    /// out "code 3" on their sheet. Says nothing about the code itself. `None` for a set stored
    /// before sets kept their lines.
    pub number: Option<usize>,
    pub used_at: Option<OffsetDateTime>,
}

/// A user's current set of backup codes, as stored: hashes only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupCodeSet {
    pub id: String,
    pub salt: [u8; SALT_LEN],
    /// The argon2id cost the codes were hashed with; `None` for a set stored before sets
    /// recorded it, which was hashed under the configured cost.
    pub cost: Option<HashCost>,
    pub generated_at: OffsetDateTime,
    pub codes: Vec<StoredCode>,
}

impl BackupCodeSet {
    pub fn remaining(&self) -> usize {
        self.codes.iter().filter(|c| c.used_at.is_none()).count()
    }

    /// Compares against every stored hash in constant time, so timing says nothing about which matched.
    pub fn find(&self, candidate: &CodeHash) -> Option<&StoredCode> {
        let mut found = None;
        for stored in &self.codes {
            if bool::from(stored.hash.0.ct_eq(&candidate.0)) {
                found = Some(stored);
            }
        }
        found
    }
}

/// A freshly generated set: the stored form plus the plaintext, which is shown once and never kept.
pub struct IssuedCodes {
    pub set: BackupCodeSet,
    pub plaintext: Vec<BackupCode>,
}

impl IssuedCodes {
    /// Draws `count` distinct codes from the OS CSPRNG and hashes them under a new salt.
    pub fn generate(
        hasher: &CodeHasher,
        count: usize,
        now: OffsetDateTime,
    ) -> Result<Self, HashingFailed> {
        Self::generate_in(hasher, count, now, &mut Vec::new())
    }

    /// As `generate`, hashing in `memory` (see `CodeHasher::hash_in`).
    pub fn generate_in(
        hasher: &CodeHasher,
        count: usize,
        now: OffsetDateTime,
        memory: &mut Vec<Block>,
    ) -> Result<Self, HashingFailed> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut plaintext: Vec<BackupCode> = Vec::with_capacity(count);
        while plaintext.len() < count {
            let code = BackupCode::generate();
            // A repeat is a 2^-50 event, but two equal codes would make one of them unusable.
            if !plaintext.contains(&code) {
                plaintext.push(code);
            }
        }
        let codes = plaintext
            .iter()
            .zip(1..)
            .map(|(code, number)| {
                Ok(StoredCode {
                    hash: hasher.hash_in(code, &salt, memory)?,
                    number: Some(number),
                    used_at: None,
                })
            })
            .collect::<Result<_, HashingFailed>>()?;
        let set = BackupCodeSet {
            id: random_id(),
            salt,
            cost: Some(hasher.cost()),
            generated_at: now,
            codes,
        };
        Ok(Self { set, plaintext })
    }

    pub fn display(&self) -> Vec<String> {
        self.plaintext.iter().map(BackupCode::display).collect()
    }
}

/// 128 random bits as hex: identifiers that must not be guessable or collide.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap_hasher() -> CodeHasher {
        CodeHasher::new(HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn reused_memory_hashes_as_fresh_memory_does() {
        let hasher = cheap_hasher();
        let bigger = CodeHasher::new(HashCost {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let salt = [7u8; SALT_LEN];
        let (first, second) = (BackupCode::generate(), BackupCode::generate());
        let mut memory = Vec::new();
        hasher.hash_in(&first, &salt, &mut memory).unwrap();
        bigger.hash_in(&first, &salt, &mut memory).unwrap();
        for cost in [&hasher, &bigger] {
            assert_eq!(
                cost.hash_in(&second, &salt, &mut memory).unwrap(),
                cost.hash(&second, &salt).unwrap(),
                "what an earlier hash left in the memory changes nothing"
            );
        }
    }

    #[test]
    fn parse_ignores_case_spaces_and_hyphens() {
        let a = BackupCode::parse("abcde-12345").unwrap();
        let b = BackupCode::parse(" AB CDE12-345 ").unwrap();
        assert!(a == b);
        assert_eq!(a.display(), "abcde-12345");
    }

    #[test]
    fn parse_reads_look_alikes_as_digits() {
        let a = BackupCode::parse("0000011111").unwrap();
        let b = BackupCode::parse("oOoOo-iIlLl").unwrap();
        assert!(a == b);
    }

    #[test]
    fn parse_rejects_wrong_length_and_foreign_characters() {
        assert!(BackupCode::parse("abcde-1234").is_none());
        assert!(BackupCode::parse("abcde-123456").is_none());
        assert!(BackupCode::parse("abcde-1234u").is_none());
        assert!(BackupCode::parse("abcde-1234é").is_none());
        assert!(BackupCode::parse("").is_none());
    }

    #[test]
    fn generated_set_has_distinct_well_formed_codes() {
        let issued =
            IssuedCodes::generate(&cheap_hasher(), 10, OffsetDateTime::UNIX_EPOCH).unwrap();
        let shown = issued.display();
        assert_eq!(shown.len(), 10);
        let mut unique = shown.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        for code in &shown {
            assert_eq!(code.len(), 11);
            assert_eq!(&code[5..6], "-");
            assert!(BackupCode::parse(code).is_some(), "{code} must parse back");
        }
        assert_eq!(issued.set.remaining(), 10);
        let numbers: Vec<_> = issued.set.codes.iter().map(|c| c.number).collect();
        assert_eq!(
            numbers,
            (1..=10).map(Some).collect::<Vec<_>>(),
            "numbered as shown"
        );
    }

    #[test]
    fn a_code_is_found_in_its_own_set_and_not_in_another() {
        let hasher = cheap_hasher();
        let first = IssuedCodes::generate(&hasher, 3, OffsetDateTime::UNIX_EPOCH).unwrap();
        let second = IssuedCodes::generate(&hasher, 3, OffsetDateTime::UNIX_EPOCH).unwrap();
        let code = &first.plaintext[1];
        let in_first = hasher.hash(code, &first.set.salt).unwrap();
        assert_eq!(
            first.set.find(&in_first).unwrap().hash,
            first.set.codes[1].hash
        );
        let in_second = hasher.hash(code, &second.set.salt).unwrap();
        assert!(second.set.find(&in_second).is_none());
    }

    #[test]
    fn a_set_is_checked_under_the_cost_it_was_made_with() {
        let old = cheap_hasher();
        let issued = IssuedCodes::generate(&old, 2, OffsetDateTime::UNIX_EPOCH).unwrap();
        let raised = CodeHasher::new(HashCost {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        let code = &issued.plaintext[0];
        let under_new = raised.hash(code, &issued.set.salt).unwrap();
        assert!(issued.set.find(&under_new).is_none(), "costs differ");
        let under_set = raised
            .for_set(Some(&issued.set))
            .hash(code, &issued.set.salt);
        assert!(issued.set.find(&under_set.unwrap()).is_some());
    }

    #[test]
    fn cost_round_trips_and_refuses_what_config_would() {
        let cost = HashCost::default();
        assert_eq!(cost.encode(), "m=19456,t=2,p=1");
        assert_eq!(HashCost::decode(&cost.encode()), Some(cost));
        for bad in [
            "",
            "m=19456,t=2",
            "m=19456,t=2,p=1,x=1",
            "m=99999999,t=2,p=1",
            "t=2,m=1,p=1",
        ] {
            assert_eq!(HashCost::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn hash_hex_round_trips_and_rejects_garbage() {
        let hash = CodeHash([7u8; HASH_LEN]);
        assert!(CodeHash::from_hex(&hash.to_hex()) == Some(hash));
        assert!(CodeHash::from_hex("zz").is_none());
        assert!(CodeHash::from_hex(&"g".repeat(64)).is_none());
    }

    #[test]
    fn generated_codes_cover_the_whole_alphabet() {
        // 2000 codes give 20000 characters; missing any of 32 symbols would mean a biased generator.
        let mut seen = [false; 32];
        for _ in 0..2000 {
            for b in BackupCode::generate().0.bytes() {
                seen[ALPHABET.iter().position(|a| *a == b).unwrap()] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn normalisation_is_idempotent(raw in "\\PC{0,24}") {
                if let Some(code) = BackupCode::parse(&raw) {
                    let again = BackupCode::parse(&code.display()).expect("a shown code parses");
                    prop_assert!(again == code);
                    prop_assert_eq!(again.display(), code.display());
                }
            }

            #[test]
            fn any_spelling_of_a_code_is_the_same_code(
                index in 0usize..10,
                upper in any::<[bool; 10]>(),
                separators in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-")], 11),
            ) {
                let code = BackupCode::generate();
                let shown = code.display().replace('-', "");
                let spelled: String = shown
                    .chars()
                    .zip(upper)
                    .enumerate()
                    .map(|(i, (c, up))| {
                        let c = if up { c.to_ascii_uppercase() } else { c };
                        format!("{}{c}", separators[i])
                    })
                    .collect::<String>()
                    + separators[10];
                prop_assert!(BackupCode::parse(&spelled) == Some(code), "{} (index {})", spelled, index);
            }
        }
    }
}
