//! The download link's token: HMAC-SHA256 over version, key id, expiry, grant id and user id.
//! It is checked (signature, then expiry) before any storage call; single use is the store's job.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use super::{sealing::Keyring, user::UserId};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const GRANT_ID_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + 8 + GRANT_ID_LEN;
/// Separates these MACs from any other use of the same key: a download link's token is no
/// recovery request's cancel link, nor the other way round.
const DOWNLOAD: &[u8] = b"backup-codes download link v1";
const CANCEL_RECOVERY: &[u8] = b"backup-codes recovery cancel link v1";
/// Far above any real token; longer input is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 1024;

type HmacSha256 = Hmac<Sha256>;

/// A pending download of new codes: which grant, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadGrant {
    /// 32 hex characters (128 random bits).
    pub id: String,
    pub expires_at: OffsetDateTime,
}

impl DownloadGrant {
    /// How many redemptions one link may begin. Each shows a fresh pending set, so a dropped
    /// connection never loses the codes; the bound keeps a leaked link from hashing sets (and
    /// replacing the owner's pending one) without end.
    pub const MAX_REDEMPTIONS: u32 = 5;

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

/// A redemption in progress holds its grant until `until`: of racing redemptions of one link,
/// only the holder generates and hashes a set, and the rest are refused before any argon2id
/// work. The redemption's own write lets go of it; one that dies holding it frees the link at
/// `until`. A new grant clears any hold, and each hold counts against the grant's
/// `MAX_REDEMPTIONS`, so no one can keep a link held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantClaim {
    /// The grant held.
    pub grant_id: String,
    /// The redemption holding it (random).
    pub id: String,
    pub until: OffsetDateTime,
}

impl GrantClaim {
    /// Far longer than hashing a set takes (well under a second), short enough that a dead
    /// holder costs the user only a moment.
    pub const LIFETIME: time::Duration = time::Duration::seconds(15);

    pub fn new(grant_id: &str, now: OffsetDateTime) -> Self {
        Self {
            grant_id: grant_id.to_owned(),
            id: super::codes::random_id(),
            until: now + Self::LIFETIME,
        }
    }

    /// Whether this claim still holds `grant_id` at `now`.
    pub fn holds(&self, grant_id: &str, now: OffsetDateTime) -> bool {
        self.grant_id == grant_id && now < self.until
    }
}

/// What a valid token proves.
#[derive(Debug, PartialEq, Eq)]
pub struct LinkClaims {
    pub user: UserId,
    pub grant: DownloadGrant,
}

/// Why a token was refused; never shown to the client, which only learns "no longer valid".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenRejected {
    #[error("token is malformed")]
    Malformed,
    #[error("token names an unknown key")]
    UnknownKey,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token has expired")]
    Expired,
}

#[derive(Clone, Debug)]
pub struct LinkSigner {
    keys: Keyring,
    context: &'static [u8],
}

impl LinkSigner {
    /// Signs and checks download links.
    pub fn new(keys: Keyring) -> Self {
        Self {
            keys,
            context: DOWNLOAD,
        }
    }

    /// The same keys for the link that cancels a recovery request: the grant is the request
    /// (its id, and its expiry), so the link lives as long as the request and names only it.
    pub fn for_recovery_cancel(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            context: CANCEL_RECOVERY,
        }
    }

    pub fn sign(&self, user: &UserId, grant: &DownloadGrant) -> String {
        let key = self.keys.current();
        let grant_bytes = hex_to_bytes(&grant.id).expect("grant ids are 32 hex characters");
        let mut payload = Vec::with_capacity(HEADER_LEN + user.as_str().len());
        payload.push(VERSION);
        payload.extend_from_slice(&key.id());
        payload.extend_from_slice(&grant.expires_at.unix_timestamp().to_be_bytes());
        payload.extend_from_slice(&grant_bytes);
        payload.extend_from_slice(user.as_str().as_bytes());
        let tag = mac(key.material(), self.context, &payload)
            .finalize()
            .into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<LinkClaims, TokenRejected> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenRejected::Malformed);
        }
        let (payload, tag) = token
            .trim()
            .split_once('.')
            .ok_or(TokenRejected::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenRejected::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenRejected::Malformed)?;
        if payload.len() <= HEADER_LEN || payload[0] != VERSION {
            return Err(TokenRejected::Malformed);
        }
        let key = self
            .keys
            .by_id(&payload[1..1 + KEY_ID_LEN])
            .ok_or(TokenRejected::UnknownKey)?;
        // `verify_slice` compares in constant time.
        mac(key.material(), self.context, &payload)
            .verify_slice(&tag)
            .map_err(|_| TokenRejected::BadSignature)?;
        let expiry_bytes: [u8; 8] = payload[1 + KEY_ID_LEN..1 + KEY_ID_LEN + 8]
            .try_into()
            .expect("length checked above");
        let expires_at = OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(expiry_bytes))
            .map_err(|_| TokenRejected::Malformed)?;
        if now >= expires_at {
            return Err(TokenRejected::Expired);
        }
        let grant_id: String = payload[1 + KEY_ID_LEN + 8..HEADER_LEN]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let user = std::str::from_utf8(&payload[HEADER_LEN..])
            .ok()
            .and_then(|u| UserId::parse(u).ok())
            .ok_or(TokenRejected::Malformed)?;
        Ok(LinkClaims {
            user,
            grant: DownloadGrant {
                id: grant_id,
                expires_at,
            },
        })
    }
}

fn mac(key: &[u8; 32], context: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(context);
    mac.update(payload);
    mac
}

fn hex_to_bytes(hex: &str) -> Option<[u8; GRANT_ID_LEN]> {
    if hex.len() != GRANT_ID_LEN * 2 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; GRANT_ID_LEN];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{codes::random_id, sealing::SecretKey};

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    fn grant() -> DownloadGrant {
        DownloadGrant {
            id: random_id(),
            expires_at: at(2_000),
        }
    }

    fn signer() -> LinkSigner {
        LinkSigner::new(Keyring::new(SecretKey::generate(), vec![]))
    }

    #[test]
    fn round_trips_until_expiry() {
        let signer = signer();
        let grant = grant();
        let user = UserId::parse("auth0|ana").unwrap();
        let token = signer.sign(&user, &grant);
        assert!(
            token.len() < 200 && !token.contains(['+', '/', '=', '#', '&']),
            "{token}"
        );
        let claims = signer.verify(&token, at(1_999)).unwrap();
        assert_eq!(claims, LinkClaims { user, grant });
        assert_eq!(
            signer.verify(&token, at(2_000)),
            Err(TokenRejected::Expired)
        );
    }

    #[test]
    fn a_cancel_link_is_no_download_link_and_no_download_link_cancels() {
        let download = signer();
        let cancel = download.for_recovery_cancel();
        let user = UserId::parse("ana").unwrap();
        let grant = grant();
        let cancel_token = cancel.sign(&user, &grant);
        assert_ne!(cancel_token, download.sign(&user, &grant));
        assert_eq!(cancel.verify(&cancel_token, at(0)).unwrap().grant, grant);
        assert_eq!(
            download.verify(&cancel_token, at(0)),
            Err(TokenRejected::BadSignature)
        );
        assert_eq!(
            cancel.verify(&download.sign(&user, &grant), at(0)),
            Err(TokenRejected::BadSignature)
        );
    }

    #[test]
    fn tampering_truncation_and_foreign_keys_are_refused() {
        let signer = signer();
        let token = signer.sign(&UserId::parse("ana").unwrap(), &grant());
        let (payload, tag) = token.split_once('.').unwrap();
        // Changing the user inside the payload breaks the signature.
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        *bytes.last_mut().unwrap() = b'b';
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            signer.verify(&forged, at(0)),
            Err(TokenRejected::BadSignature)
        );
        assert_eq!(
            signer.verify(&token[..token.len() - 3], at(0)),
            Err(TokenRejected::BadSignature)
        );
        assert_eq!(signer.verify(payload, at(0)), Err(TokenRejected::Malformed));
        assert_eq!(signer.verify("", at(0)), Err(TokenRejected::Malformed));
        assert_eq!(
            signer.verify(&"a.b".repeat(500), at(0)),
            Err(TokenRejected::Malformed)
        );
        assert_eq!(
            self::signer().verify(&token, at(0)),
            Err(TokenRejected::UnknownKey)
        );
    }

    #[test]
    fn the_previous_key_still_verifies_after_rotation() {
        let old = SecretKey::generate();
        let token = LinkSigner::new(Keyring::new(old.clone(), vec![]))
            .sign(&UserId::parse("ana").unwrap(), &grant());
        let rotated = LinkSigner::new(Keyring::new(SecretKey::generate(), vec![old]));
        assert!(rotated.verify(&token, at(0)).is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Mutation {
            FlipBit { position: usize, bit: u8 },
            Replace { position: usize, with: char },
            Truncate { keep: usize },
            Append(String),
            Insert { position: usize, text: String },
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (any::<usize>(), 0u8..8)
                    .prop_map(|(position, bit)| Mutation::FlipBit { position, bit }),
                (any::<usize>(), any::<char>())
                    .prop_map(|(position, with)| Mutation::Replace { position, with }),
                any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
                "\\PC{1,8}".prop_map(Mutation::Append),
                (any::<usize>(), "\\PC{1,8}")
                    .prop_map(|(position, text)| Mutation::Insert { position, text }),
            ]
        }

        /// Applies `m` to the token's bytes (the decoded payload and tag for bit flips), so
        /// every mutation yields a different string than the token itself.
        fn mutate(token: &str, m: &Mutation) -> String {
            match m {
                Mutation::FlipBit { position, bit } => {
                    let (payload, tag) = token.split_once('.').unwrap();
                    let mut payload = URL_SAFE_NO_PAD.decode(payload).unwrap();
                    let mut tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
                    let total = payload.len() + tag.len();
                    let at = position % total;
                    if at < payload.len() {
                        payload[at] ^= 1 << bit;
                    } else {
                        tag[at - payload.len()] ^= 1 << bit;
                    }
                    format!(
                        "{}.{}",
                        URL_SAFE_NO_PAD.encode(payload),
                        URL_SAFE_NO_PAD.encode(tag)
                    )
                }
                Mutation::Replace { position, with } => {
                    let mut chars: Vec<char> = token.chars().collect();
                    let at = position % chars.len();
                    chars[at] = if chars[at] == *with { '!' } else { *with };
                    chars.into_iter().collect()
                }
                Mutation::Truncate { keep } => token[..keep % token.len()].to_owned(),
                Mutation::Append(text) => format!("{token}{text}"),
                Mutation::Insert { position, text } => {
                    let at = position % token.len();
                    format!("{}{text}{}", &token[..at], &token[at..])
                }
            }
        }

        proptest! {
            #[test]
            fn any_mutation_of_a_token_is_refused(user in "[a-z0-9|-]{1,40}", m in mutation()) {
                let signer = signer();
                let user = UserId::parse(&user).unwrap();
                let token = signer.sign(&user, &grant());
                let mutated = mutate(&token, &m);
                // Whitespace around the token is trimmed on purpose (mail clients add it).
                prop_assume!(mutated.trim() != token);
                prop_assert!(signer.verify(&mutated, at(0)).is_err(), "{:?} accepted: {}", m, mutated);
            }
        }
    }
}
