//! TOTP secrets must be readable by us later, so they are encrypted (AES-256-GCM), not hashed.
//! The user id is the associated data: a sealed secret copied onto another user's record fails to open.
//! Each sealed value names its key id, so a previous key still opens old values during rotation.

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{totp::TotpSecret, user::UserId};

const NONCE_LEN: usize = 12;
const KEY_ID_LEN: usize = 4;
const FORMAT_V1: u8 = 1;

/// A 256-bit key and the id derived from it, so no separate key-id setting can drift from the key.
#[derive(Clone)]
pub struct SecretKey {
    id: [u8; KEY_ID_LEN],
    material: Zeroizing<[u8; 32]>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretKeyError {
    #[error("must be base64 of at least 32 random bytes (for example `openssl rand -base64 32`)")]
    Malformed,
    #[error(
        "is base64 of bytes that are not random ({0}); make one with `openssl rand -base64 32`"
    )]
    NotRandom(&'static str),
    #[error(
        "must hold at least 256 bits: base64 of 32 random bytes, or a generated random string \
         of at least {MIN_SECRET_CHARS} characters; words, keyboard runs, sequences and \
         repeats count for almost nothing"
    )]
    TooWeak,
}

/// The shortest secret string accepted when it is not base64 of a key.
const MIN_SECRET_CHARS: usize = 40;

/// Why decoded key bytes are not what a random generator makes, if they are not. Each test
/// refuses a random 32-byte key with a chance far below 2^-60, and each refuses a kind of
/// key people type: one byte repeated, a short pattern repeated, a counting sequence, or text
/// (a passphrase or a digit string run through base64).
fn not_random(bytes: &[u8]) -> Option<&'static str> {
    let distinct = bytes
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if distinct == 1 {
        return Some("every byte is the same");
    }
    let half = bytes.len() / 2;
    if (1..=half).any(|period| bytes.iter().zip(&bytes[period..]).all(|(a, b)| a == b)) {
        return Some("a short pattern repeats");
    }
    let steps: Vec<u8> = bytes.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    if steps.windows(2).all(|w| w[0] == w[1]) {
        return Some("the bytes count up or down");
    }
    // 32 random bytes hold about 30 distinct values; fewer than 20 is a pattern.
    if distinct < 20.min(bytes.len()) {
        return Some("too few distinct bytes");
    }
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Some("the bytes are text, not random");
    }
    None
}

/// A test for one class of characters.
type CharClass = fn(&char) -> bool;

/// A keyboard's rows, for telling runs like `qwerty` or `1q2w` from random text.
const KEYBOARD_ROWS: [&str; 4] = [
    "`1234567890-=",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
];

/// Each ASCII character's (row, column) in `KEYBOARD_ROWS`, worked out when compiling: every
/// cold start estimates its keys, and searching the rows for each character was most of that.
const KEY_POSITIONS: [Option<(i32, i32)>; 128] = {
    let mut positions = [None; 128];
    let mut row = 0;
    while row < KEYBOARD_ROWS.len() {
        let keys = KEYBOARD_ROWS[row].as_bytes();
        let mut column = 0;
        while column < keys.len() {
            positions[keys[column] as usize] = Some((row as i32, column as i32));
            column += 1;
        }
        row += 1;
    }
    positions
};

fn key_position(c: char) -> Option<(i32, i32)> {
    let c = c.to_ascii_lowercase();
    if c.is_ascii() {
        KEY_POSITIONS[c as usize]
    } else {
        None
    }
}

/// True when `b` follows `a` the way typed or counted text does: the same character, the next
/// or previous one, or a neighbouring key.
fn follows(a: char, b: char) -> bool {
    let (a_low, b_low) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    if (a_low as i64 - b_low as i64).abs() <= 1 {
        return true;
    }
    match (key_position(a), key_position(b)) {
        (Some((ra, ca)), Some((rb, cb))) => (ra - rb).abs() <= 1 && (ca - cb).abs() <= 1,
        _ => false,
    }
}

/// An honest estimate of a secret string's entropy: each character is worth the bits of the
/// alphabet its classes span, except one that continues a run (a repeat, a sequence, a
/// keyboard run: the third character of three that each follow the one before), ends a three-character run seen before in the string (a repeated word or
/// pattern), or continues a run of four or more lowercase letters (a word): those are worth
/// one bit. A generator's output loses a few characters to chance; typed text loses most.
fn estimated_bits(text: &str) -> f64 {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < MIN_SECRET_CHARS {
        return 0.0;
    }
    let classes: [(CharClass, u32); 5] = [
        (char::is_ascii_lowercase, 26),
        (char::is_ascii_uppercase, 26),
        (char::is_ascii_digit, 10),
        (char::is_ascii_punctuation, 32),
        (|c| !c.is_ascii(), 128),
    ];
    let alphabet: u32 = classes
        .iter()
        .filter(|(is, _)| chars.iter().any(is))
        .map(|(_, size)| size)
        .sum();
    let full = f64::from(alphabet.max(2)).log2();
    // Ordered, not hashed: a cold start parses every key, and a hash set would seed itself first.
    let mut seen = std::collections::BTreeSet::new();
    let mut lowercase_run = 0;
    let mut bits = 0.0;
    for (i, &c) in chars.iter().enumerate() {
        lowercase_run = if c.is_ascii_lowercase() {
            lowercase_run + 1
        } else {
            0
        };
        // One neighbour happens by chance; two in a row is a run.
        let follows_previous =
            i >= 2 && follows(chars[i - 1], c) && follows(chars[i - 2], chars[i - 1]);
        let repeated = i >= 2 && !seen.insert(&chars[i - 2..=i]);
        let in_word = lowercase_run >= 4;
        bits += if follows_previous || repeated || in_word {
            1.0
        } else {
            full
        };
    }
    bits
}

impl SecretKey {
    /// Accepts base64 of 32 or more random bytes; longer input is condensed with SHA-256.
    /// Bytes that are not what a generator makes (see `not_random`), or base64 text that reads
    /// as typed (words, runs, repeats), are refused.
    pub fn from_base64(text: &str) -> Result<Self, SecretKeyError> {
        use base64::Engine;
        let text = text.trim();
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| SecretKeyError::Malformed)?,
        );
        if raw.len() < 32 {
            return Err(SecretKeyError::Malformed);
        }
        if let Some(reason) = not_random(&raw) {
            return Err(SecretKeyError::NotRandom(reason));
        }
        // Base64 of 32 random bytes scores 184 or more on this estimate (200,000 tried); typed text that happens
        // to be valid base64 ("Password1Password2...") scores under 140.
        if estimated_bits(text) < 160.0 {
            return Err(SecretKeyError::NotRandom("it reads as typed text"));
        }
        let mut material = Zeroizing::new([0u8; 32]);
        if raw.len() == 32 {
            material.copy_from_slice(&raw);
        } else {
            material.copy_from_slice(&Sha256::digest(&*raw));
        }
        Ok(Self::from_material(material))
    }

    /// A key from a secret string as any generator makes it. Base64 of 32 or more bytes (what
    /// `openssl rand -base64 32` and Secrets Manager's alphanumeric generator give) is read as
    /// `from_base64` reads it, so existing keys keep their meaning, and is refused as it
    /// refuses; any other string of at least 256 honestly estimated bits (`estimated_bits`) is
    /// stretched into a key with HKDF-SHA256.
    pub fn from_secret_string(text: &str) -> Result<Self, SecretKeyError> {
        match Self::from_base64(text) {
            Err(SecretKeyError::Malformed) => {}
            read => return read,
        }
        let text = text.trim();
        if estimated_bits(text) < 256.0 {
            return Err(SecretKeyError::TooWeak);
        }
        let mut material = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<Sha256>::new(Some(b"backup-codes"), text.as_bytes())
            .expand(b"backup-codes secret string key v1", material.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(Self::from_material(material))
    }

    pub fn generate() -> Self {
        let mut material = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(material.as_mut());
        Self::from_material(material)
    }

    fn from_material(material: Zeroizing<[u8; 32]>) -> Self {
        let digest = Sha256::new()
            .chain_update(b"backup-codes key id v1")
            .chain_update(material.as_ref())
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self { id, material }
    }

    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    pub fn material(&self) -> &[u8; 32] {
        &self.material
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(id={:02x?})", self.id)
    }
}

/// The current key, which seals, and older keys, which only open.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    pub fn new(current: SecretKey, previous: Vec<SecretKey>) -> Self {
        Self { current, previous }
    }

    pub fn current(&self) -> &SecretKey {
        &self.current
    }

    pub fn by_id(&self, id: &[u8]) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

/// A TOTP secret as stored: format byte, key id, nonce, ciphertext with tag.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub Vec<u8>);

impl SealedSecret {
    /// As text (URL-safe base64), for a place that holds only strings: a Cognito sign-in's
    /// private challenge parameters and metadata, which never reach the client.
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// Reads `to_text`'s form; anything else (or too long to be a sealed TOTP secret) is `None`.
    pub fn from_text(text: &str) -> Option<Self> {
        const LONGEST: usize = 128;
        if text.len() > LONGEST {
            return None;
        }
        URL_SAFE_NO_PAD.decode(text).ok().map(Self)
    }
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsealError {
    #[error("sealed secret is malformed")]
    Malformed,
    #[error("sealed secret names a key this deployment does not have")]
    UnknownKey,
    #[error("sealed secret failed authentication (wrong key, wrong user or tampered)")]
    Forged,
}

#[derive(Clone, Debug)]
pub struct SecretSealer {
    keys: Keyring,
    /// A secret sealed at start-up for nobody; see `open_decoy`.
    decoy: SealedSecret,
}

/// The additional data the decoy is sealed under; never a real user's id, which is a token's `sub`.
const DECOY_USER: &str = "backup-codes decoy";

impl SecretSealer {
    pub fn new(keys: Keyring) -> Self {
        let mut sealer = Self {
            keys,
            decoy: SealedSecret(vec![]),
        };
        sealer.decoy = sealer.seal(&decoy_user(), &TotpSecret::generate());
        sealer
    }

    /// Opens the decoy: the same AES-GCM work as opening a user's secret, so checking a code
    /// for a user who does not exist costs what checking one for a user who does costs.
    pub fn open_decoy(&self) -> Result<TotpSecret, UnsealError> {
        self.open(&decoy_user(), &self.decoy)
    }

    pub fn seal(&self, user: &UserId, secret: &TotpSecret) -> SealedSecret {
        let key = self.keys.current();
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(key.material().into());
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: user.as_str().as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a 20-byte secret cannot exceed its length limit");
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&key.id());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        SealedSecret(out)
    }

    pub fn open(&self, user: &UserId, sealed: &SealedSecret) -> Result<TotpSecret, UnsealError> {
        let bytes = &sealed.0;
        let header = 1 + KEY_ID_LEN + NONCE_LEN;
        if bytes.len() <= header || bytes[0] != FORMAT_V1 {
            return Err(UnsealError::Malformed);
        }
        let key = self
            .keys
            .by_id(&bytes[1..1 + KEY_ID_LEN])
            .ok_or(UnsealError::UnknownKey)?;
        let cipher = Aes256Gcm::new(key.material().into());
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&bytes[1 + KEY_ID_LEN..header]),
                Payload {
                    msg: &bytes[header..],
                    aad: user.as_str().as_bytes(),
                },
            )
            .map_err(|_| UnsealError::Forged)?;
        Ok(TotpSecret::from_bytes(plain))
    }
}

fn decoy_user() -> UserId {
    UserId::parse(DECOY_USER).expect("a plain id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn every_key_is_found_where_it_sits_on_the_keyboard() {
        for c in (0u8..128).map(char::from).chain(['é', 'Ω']) {
            let searched = KEYBOARD_ROWS.iter().enumerate().find_map(|(row, keys)| {
                keys.find(c.to_ascii_lowercase())
                    .map(|column| (row as i32, column as i32))
            });
            assert_eq!(key_position(c), searched, "{c:?}");
        }
        assert_eq!(key_position('Q'), Some((1, 0)));
        assert_eq!(key_position(' '), None);
    }

    #[test]
    fn base64_keys_read_as_before_and_other_strong_strings_are_stretched() {
        // What Secrets Manager's generator made with ExcludePunctuation: still base64.
        let alphanumeric = "Q7hZk2mP9vX4cR8tL1nB6wY3jF5sD0gH2aK7eU9iO4pM8qT1yV6xC3zN5bW0rJ2u";
        assert_eq!(
            SecretKey::from_secret_string(alphanumeric).unwrap().id(),
            SecretKey::from_base64(alphanumeric).unwrap().id(),
            "an existing key keeps its meaning"
        );
        let b64 = "Q8K4vT0SjfkDbOB7sXchy1T4OK8wARqdW7iiC3LLRQc=";
        assert_eq!(
            SecretKey::from_secret_string(b64).unwrap().id(),
            SecretKey::from_base64(b64).unwrap().id()
        );
        // What another generator makes: punctuation, not base64.
        let punctuated = "k#8Qz!v2R@p5^Lm&9tW*x3(Yc)7_Hn-4+Fb=6{Jd}1[Gs]0;Xe%Ut<Kw>Zr?Vi|Oa";
        assert!(SecretKey::from_base64(punctuated).is_err());
        let stretched = SecretKey::from_secret_string(punctuated).unwrap();
        assert_eq!(
            stretched.id(),
            SecretKey::from_secret_string(punctuated).unwrap().id(),
            "the same string is the same key on every cold start"
        );
        let sealer = SecretSealer::new(Keyring::new(stretched, vec![]));
        let secret = TotpSecret::generate();
        let sealed = sealer.seal(&user("ana"), &secret);
        assert_eq!(
            sealer.open(&user("ana"), &sealed).unwrap().as_bytes(),
            secret.as_bytes()
        );
        for weak in [
            "short!",
            &"ab#".repeat(30),
            "correct horse battery staple!!",
            "",
        ] {
            assert_eq!(
                SecretKey::from_secret_string(weak).err(),
                Some(SecretKeyError::TooWeak),
                "{weak:?}"
            );
        }
    }

    #[test]
    fn seals_and_opens_for_the_same_user_only() {
        let sealer = SecretSealer::new(Keyring::new(SecretKey::generate(), vec![]));
        let secret = TotpSecret::generate();
        let sealed = sealer.seal(&user("ana"), &secret);
        assert!(!sealed
            .0
            .windows(secret.as_bytes().len())
            .any(|w| w == secret.as_bytes()));
        assert_eq!(
            sealer.open(&user("ana"), &sealed).unwrap().as_bytes(),
            secret.as_bytes()
        );
        assert_eq!(
            sealer.open(&user("bob"), &sealed).err(),
            Some(UnsealError::Forged)
        );
    }

    #[test]
    fn tampering_and_unknown_keys_are_refused() {
        let sealer = SecretSealer::new(Keyring::new(SecretKey::generate(), vec![]));
        let mut sealed = sealer.seal(&user("ana"), &TotpSecret::generate());
        let last = sealed.0.len() - 1;
        sealed.0[last] ^= 1;
        assert_eq!(
            sealer.open(&user("ana"), &sealed).err(),
            Some(UnsealError::Forged)
        );
        let other = SecretSealer::new(Keyring::new(SecretKey::generate(), vec![]));
        let sealed = other.seal(&user("ana"), &TotpSecret::generate());
        assert_eq!(
            sealer.open(&user("ana"), &sealed).err(),
            Some(UnsealError::UnknownKey)
        );
        assert_eq!(
            sealer.open(&user("ana"), &SealedSecret(vec![1, 2])).err(),
            Some(UnsealError::Malformed)
        );
    }

    #[test]
    fn previous_key_still_opens_after_rotation() {
        let old = SecretKey::generate();
        let before = SecretSealer::new(Keyring::new(old.clone(), vec![]));
        let sealed = before.seal(&user("ana"), &TotpSecret::generate());
        let after = SecretSealer::new(Keyring::new(SecretKey::generate(), vec![old]));
        assert!(after.open(&user("ana"), &sealed).is_ok());
    }

    #[test]
    fn key_text_must_be_base64_of_32_bytes_or_more() {
        assert_eq!(
            SecretKey::from_base64("short").err(),
            Some(SecretKeyError::Malformed)
        );
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").err(),
            Some(SecretKeyError::Malformed)
        );
        let a = SecretKey::from_base64("oZ8fItfwb3HRIR9iAyKpoIj1Ve9XqJfl1CwNetGsVuU=").unwrap();
        let b = SecretKey::from_base64("oZ8fItfwb3HRIR9iAyKpoIj1Ve9XqJfl1CwNetGsVuU=").unwrap();
        assert_eq!(a.id(), b.id());
    }

    /// Every weak key a security review started the service with, in the form it was given.
    #[test]
    fn patterned_keys_are_refused_in_every_form() {
        let not_random = [
            (
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "32 zero bytes",
            ),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "44 x a"),
            (
                "passwordpasswordpasswordpasswordpasswordpassword",
                "a repeated word",
            ),
            ("01234567890123456789012345678901234567890123", "digits"),
            ("////////////////////////////////////////////////", "48 x /"),
            (
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "bytes 0 to 31",
            ),
            (
                "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
                "base64 of a digit string",
            ),
            (
                "Password1Password2Password3Password4Password5Pas",
                "typed, valid base64",
            ),
        ];
        for (key, what) in not_random {
            assert!(
                matches!(
                    SecretKey::from_base64(key),
                    Err(SecretKeyError::NotRandom(_))
                ),
                "{what}: {key}"
            );
            assert!(
                matches!(
                    SecretKey::from_secret_string(key),
                    Err(SecretKeyError::NotRandom(_))
                ),
                "{what}, as a secret: {key}"
            );
        }
        let typed = [
            "qwertyuiop[]asdfghjkl;'zxcvbnm,./1234567890-=!QWE",
            "Password1!Password2!Password3!Password4!Password5!Password6!Password7!Password8!",
            "correct horse battery staple correct horse battery staple!!",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$",
            "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3",
        ];
        for key in typed {
            assert_eq!(
                SecretKey::from_secret_string(key).err(),
                Some(SecretKeyError::TooWeak),
                "{key}"
            );
        }
    }

    /// What generators make is accepted every time, not just usually.
    #[test]
    fn generated_keys_are_accepted() {
        use base64::Engine;
        let printable: Vec<char> = (33u8..=126).map(char::from).collect();
        let alphanumeric: Vec<char> = ('0'..='9').chain('a'..='z').chain('A'..='Z').collect();
        let pick = |alphabet: &[char], len: usize| -> String {
            (0..len)
                .map(|_| alphabet[(OsRng.next_u32() as usize) % alphabet.len()])
                .collect()
        };
        for _ in 0..2_000 {
            let mut bytes = [0u8; 32];
            OsRng.fill_bytes(&mut bytes);
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            assert!(SecretKey::from_base64(&b64).is_ok(), "{b64}");
            // Secrets Manager's generator, as the template asks it: 64, no punctuation.
            let generated = pick(&alphanumeric, 64);
            assert!(
                SecretKey::from_secret_string(&generated).is_ok(),
                "{generated}"
            );
            // Its default alphabet, punctuation included, at the length the README names.
            let punctuated = pick(&printable, 64);
            assert!(
                SecretKey::from_secret_string(&punctuated).is_ok(),
                "{punctuated}"
            );
        }
    }
}
