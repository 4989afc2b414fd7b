//! Every setting, read once at cold start. A bad or missing value is an error naming the variable.

use std::collections::BTreeSet;

use crate::{
    app::{LockoutPolicy, Settings},
    domain::{
        codes::HashCost,
        display_text,
        events::EventKind,
        mail_budget::MailCeilings,
        sealing::{Keyring, SecretKey},
        sign_in::{Unenrolled, UserPoolId},
        user::Email,
    },
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where identity comes from in API Gateway's JWT claims.
#[derive(Clone, Debug)]
pub struct IdentitySettings {
    /// Claim holding the caller's groups; Cognito's is `cognito:groups`.
    pub groups_claim: String,
    /// Group whose members may regenerate other users' codes.
    pub admin_group: String,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: Option<String>,
    pub keys: Option<Keyring>,
    /// Secrets Manager secret holding the encryption key (`ENCRYPTION_KEY_SECRET_ID`), the
    /// deployed alternative to `ENCRYPTION_KEY`.
    pub keys_secret_id: Option<String>,
    /// Keys that sign download links (`SIGNING_KEY`, `PREVIOUS_SIGNING_KEY`).
    pub signing_keys: Option<Keyring>,
    /// Secrets Manager secret holding the signing key (`SIGNING_KEY_SECRET_ID`).
    pub signing_keys_secret_id: Option<String>,
    pub from_address: Option<String>,
    pub link_base_url: Option<String>,
    pub link_ttl: time::Duration,
    /// The time between filing a recovery request and its earliest approval
    /// (`RECOVERY_WAIT_HOURS`): at most 6 days, so a request may be approved before it expires.
    pub recovery_wait: time::Duration,
    pub hash_cost: HashCost,
    pub settings: Settings,
    pub identity: IdentitySettings,
    /// How long audit events are kept (`AUDIT_RETENTION_DAYS`).
    pub audit_retention: time::Duration,
    /// The events the user is mailed about (`NOTIFY`: `all`, `none` or a comma list).
    pub notify: BTreeSet<EventKind>,
    /// The EventBridge bus every event is also put on (`EVENT_BUS_NAME`), if any.
    pub event_bus: Option<String>,
    /// The SES sending quota the stack's mail stays below (`SES_QUOTA_PER_DAY`), and each
    /// customer account's share of it (`ACCOUNT_MAIL_SHARE`, percent).
    pub mail_ceilings: MailCeilings,
    /// What the Cognito trigger does with a user who has not enrolled TOTP (`UNENROLLED_USERS`).
    pub unenrolled_users: Unenrolled,
    /// The user pool whose sessions of a user end when their second factor changes
    /// (`USER_POOL_ID`; the template sets it unless `SignOutOnFactorChange` is false or the stack
    /// knows no pool). Unset: no session is ended, and the bus says so.
    pub sign_out_pool: Option<UserPoolId>,
}

pub const MAX_CODE_COUNT: usize = 50;

/// The longest product name or issuer: it heads every mail subject and page title.
pub const MAX_NAME_CHARS: usize = 64;

/// A configured text that people read (a mail's subject, a page's title, an authenticator's
/// list): printable, no control, bidi, zero-width or line-separator character, at most `max`
/// characters. A CR/LF here would be a header of its own in a mail.
fn shown_text(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
    max: usize,
) -> Result<String, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(default.to_owned());
    };
    let text = raw.trim();
    display_text::check(text).map_err(|e| ConfigError::Invalid {
        name,
        reason: e.to_string(),
    })?;
    if text.chars().count() > max {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("must be at most {max} characters"),
        });
    }
    Ok(text.to_owned())
}

/// A configured name the service passes on (a table, a claim, a group, a bus): no white space
/// (so it is compared exactly as written) and nothing hidden, at most `max` characters.
fn identifier(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(None);
    };
    let value = raw.trim();
    if value
        .chars()
        .any(|c| c.is_whitespace() || display_text::is_hidden(c))
    {
        return Err(ConfigError::Invalid {
            name,
            reason: "must not contain white space or control characters".to_owned(),
        });
    }
    if value.chars().count() > max {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("must be at most {max} characters"),
        });
    }
    Ok(Some(value.to_owned()))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply values without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let number =
            |name: &'static str, default: u32, min: u32, max: u32| -> Result<u32, ConfigError> {
                match get(name) {
                    None => Ok(default),
                    Some(raw) => raw
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|v| (min..=max).contains(v))
                        .ok_or_else(|| ConfigError::Invalid {
                            name,
                            reason: format!(
                                "expected a whole number from {min} to {max}, got {raw:?}"
                            ),
                        }),
                }
            };
        let ranged = |name: &'static str, default: u32, range: std::ops::RangeInclusive<u32>| {
            number(name, default, *range.start(), *range.end())
        };
        let key = |name: &'static str| {
            get(name)
                .map(|raw| {
                    SecretKey::from_base64(&raw).map_err(|e| ConfigError::Invalid {
                        name,
                        reason: e.to_string(),
                    })
                })
                .transpose()
        };
        let defaults = HashCost::default();
        let hash_cost = HashCost {
            memory_kib: ranged(
                "ARGON2_MEMORY_KIB",
                defaults.memory_kib,
                HashCost::MEMORY_KIB,
            )?,
            iterations: ranged(
                "ARGON2_ITERATIONS",
                defaults.iterations,
                HashCost::ITERATIONS,
            )?,
            parallelism: ranged(
                "ARGON2_PARALLELISM",
                defaults.parallelism,
                HashCost::PARALLELISM,
            )?,
        };
        let keyring =
            |current: &'static str, previous: &'static str| match (key(current)?, key(previous)?) {
                (Some(current), previous) => {
                    Ok(Some(Keyring::new(current, previous.into_iter().collect())))
                }
                (None, Some(_)) => Err(ConfigError::Missing(current)),
                (None, None) => Ok(None),
            };
        // A key given twice, directly and as a secret, is ambiguous; refuse rather than guess.
        let secret_id = |name: &'static str, direct: &'static str, given: bool| match get(name) {
            Some(_) if given => Err(ConfigError::Invalid {
                name,
                reason: format!("set either {direct} or {name}, not both"),
            }),
            other => Ok(other.map(|id| id.trim().to_owned())),
        };
        let keys = keyring("ENCRYPTION_KEY", "PREVIOUS_ENCRYPTION_KEY")?;
        let keys_secret_id =
            secret_id("ENCRYPTION_KEY_SECRET_ID", "ENCRYPTION_KEY", keys.is_some())?;
        let signing_keys = keyring("SIGNING_KEY", "PREVIOUS_SIGNING_KEY")?;
        let signing_keys_secret_id = secret_id(
            "SIGNING_KEY_SECRET_ID",
            "SIGNING_KEY",
            signing_keys.is_some(),
        )?;
        let link_base_url = get("LINK_BASE_URL")
            .map(|url| {
                let url = url.trim().trim_end_matches('/').to_owned();
                if url
                    .chars()
                    .any(|c| c.is_whitespace() || display_text::is_hidden(c))
                {
                    Err(ConfigError::Invalid {
                        name: "LINK_BASE_URL",
                        reason: "must not contain spaces or control characters".to_owned(),
                    })
                } else if url.starts_with("https://") || url.starts_with("http://") {
                    Ok(url)
                } else {
                    Err(ConfigError::Invalid {
                        name: "LINK_BASE_URL",
                        reason: format!("expected an http(s) URL, got {url:?}"),
                    })
                }
            })
            .transpose()?;
        let link_ttl = number("LINK_TTL_SECONDS", 86_400, 60, 30 * 86_400)?;
        let sign_out_pool = get("USER_POOL_ID")
            .map(|raw| {
                UserPoolId::parse(raw.trim()).ok_or_else(|| ConfigError::Invalid {
                    name: "USER_POOL_ID",
                    reason: "expected a user pool id, like eu-west-1_AbC123xyZ".to_owned(),
                })
            })
            .transpose()?;
        let recovery_wait = number(
            "RECOVERY_WAIT_HOURS",
            crate::domain::recovery::DEFAULT_WAIT.whole_hours() as u32,
            0,
            144,
        )?;
        let product = shown_text(&get, "PRODUCT_NAME", "Backup Codes", MAX_NAME_CHARS)?;
        let issuer = shown_text(&get, "TOTP_ISSUER", &product, MAX_NAME_CHARS)?;
        if issuer.contains(':') {
            // An otpauth label is `issuer:account`; a colon would move part of it.
            return Err(ConfigError::Invalid {
                name: if get("TOTP_ISSUER").is_some() {
                    "TOTP_ISSUER"
                } else {
                    "PRODUCT_NAME"
                },
                reason: "must not contain a colon (authenticator apps split the label on it)"
                    .to_owned(),
            });
        }
        let retention_days = number("AUDIT_RETENTION_DAYS", 400, 1, 3650)?;
        let notify = notify_list(get("NOTIFY").as_deref())?;
        Ok(Self {
            table_name: identifier(&get, "TABLE_NAME", 1024)?,
            keys,
            keys_secret_id,
            signing_keys,
            signing_keys_secret_id,
            from_address: get("FROM_ADDRESS")
                .map(|raw| {
                    let address = raw.trim();
                    Email::parse(address)
                        .map(|_| address.to_owned())
                        .ok_or_else(|| ConfigError::Invalid {
                            name: "FROM_ADDRESS",
                            reason: "expected one plain email address, like \
                                     no-reply@example.com"
                                .to_owned(),
                        })
                })
                .transpose()?,
            link_base_url,
            link_ttl: time::Duration::seconds(i64::from(link_ttl)),
            recovery_wait: time::Duration::hours(i64::from(recovery_wait)),
            hash_cost,
            settings: Settings {
                code_count: number("BACKUP_CODE_COUNT", 10, 1, MAX_CODE_COUNT as u32)? as usize,
                issuer,
                product,
                low_codes_threshold: number("LOW_CODES_THRESHOLD", 2, 0, MAX_CODE_COUNT as u32)?
                    as usize,
                sessions_end_on_change: sign_out_pool.is_some(),
                lockout: LockoutPolicy {
                    // At least 1: every code check goes through the ledger; there is no "off".
                    threshold: number("LOCKOUT_THRESHOLD", 10, 1, 1000)?,
                    duration: time::Duration::seconds(i64::from(number(
                        "LOCKOUT_SECONDS",
                        900,
                        1,
                        86_400,
                    )?)),
                },
            },
            identity: IdentitySettings {
                groups_claim: identifier(&get, "GROUPS_CLAIM", 256)?
                    .unwrap_or_else(|| "cognito:groups".to_owned()),
                admin_group: identifier(&get, "ADMIN_GROUP", 256)?
                    .unwrap_or_else(|| "backup-codes-admins".to_owned()),
            },
            audit_retention: time::Duration::days(i64::from(retention_days)),
            notify,
            event_bus: identifier(&get, "EVENT_BUS_NAME", 1600)?,
            mail_ceilings: MailCeilings {
                quota_per_day: number("SES_QUOTA_PER_DAY", 50_000, 200, 1_000_000_000)?,
                account_share_percent: number("ACCOUNT_MAIL_SHARE", 20, 1, 80)?,
            },
            unenrolled_users: unenrolled(get("UNENROLLED_USERS").as_deref())?,
            sign_out_pool,
        })
    }

    pub fn require_table(&self) -> Result<&str, ConfigError> {
        self.table_name
            .as_deref()
            .ok_or(ConfigError::Missing("TABLE_NAME"))
    }

    pub fn require_keys(&self) -> Result<&Keyring, ConfigError> {
        self.keys
            .as_ref()
            .ok_or(ConfigError::Missing("ENCRYPTION_KEY"))
    }

    pub fn require_signing_keys(&self) -> Result<&Keyring, ConfigError> {
        self.signing_keys
            .as_ref()
            .ok_or(ConfigError::Missing("SIGNING_KEY"))
    }

    pub fn require_from_address(&self) -> Result<&str, ConfigError> {
        self.from_address
            .as_deref()
            .ok_or(ConfigError::Missing("FROM_ADDRESS"))
    }
}

/// `UNENROLLED_USERS`: `allow` (the default) or `require`; `deny`, its former name, still
/// means `require` (a denied user had no way to enroll; now the sign-in is where they do).
fn unenrolled(raw: Option<&str>) -> Result<Unenrolled, ConfigError> {
    match raw.map(str::trim) {
        None | Some("allow") => Ok(Unenrolled::Allow),
        Some("require" | "deny") => Ok(Unenrolled::Require),
        Some(other) => Err(ConfigError::Invalid {
            name: "UNENROLLED_USERS",
            reason: format!("expected allow or require, got {other:?}"),
        }),
    }
}

fn notify_list(raw: Option<&str>) -> Result<BTreeSet<EventKind>, ConfigError> {
    let raw = raw.map(str::trim).unwrap_or("all");
    match raw {
        "all" => return Ok(EventKind::MAILED.into_iter().collect()),
        "none" => return Ok(BTreeSet::new()),
        _ => {}
    }
    raw.split(',')
        .map(str::trim)
        .map(|name| {
            name.parse::<EventKind>()
                .ok()
                .filter(|kind| EventKind::MAILED.contains(kind))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "NOTIFY",
                    reason: format!(
                        "{name:?} is not an event users are mailed about; expected all, none or \
                         a comma list of {}",
                        EventKind::MAILED.map(EventKind::name).join(", ")
                    ),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_owasp_and_cognito() {
        let c = config(&[]).unwrap();
        assert_eq!(c.hash_cost, HashCost::default());
        assert_eq!(c.settings.code_count, 10);
        assert_eq!(c.identity.groups_claim, "cognito:groups");
        assert_eq!(c.require_table(), Err(ConfigError::Missing("TABLE_NAME")));
        assert!(c.require_keys().is_err());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = config(&[("BACKUP_CODE_COUNT", "0")]).unwrap_err();
        assert!(err.to_string().contains("BACKUP_CODE_COUNT"), "{err}");
        let err = config(&[("ENCRYPTION_KEY", "not-base64!")]).unwrap_err();
        assert!(err.to_string().contains("ENCRYPTION_KEY"), "{err}");
        let err = config(&[(
            "PREVIOUS_ENCRYPTION_KEY",
            "Q8K4vT0SjfkDbOB7sXchy1T4OK8wARqdW7iiC3LLRQc=",
        )])
        .unwrap_err();
        assert_eq!(err, ConfigError::Missing("ENCRYPTION_KEY"));
        let err = config(&[("LINK_BASE_URL", "example.com")]).unwrap_err();
        assert!(err.to_string().contains("LINK_BASE_URL"), "{err}");
        let err = config(&[
            (
                "SIGNING_KEY",
                "Q8K4vT0SjfkDbOB7sXchy1T4OK8wARqdW7iiC3LLRQc=",
            ),
            ("SIGNING_KEY_SECRET_ID", "backup-codes/signing-key"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let err = config(&[("LINK_TTL_SECONDS", "5")]).unwrap_err();
        assert!(err.to_string().contains("LINK_TTL_SECONDS"), "{err}");
    }

    /// The weak keys a security review started the service with: each is refused, naming the
    /// setting it was given in.
    #[test]
    fn weak_keys_stop_the_start() {
        for name in ["ENCRYPTION_KEY", "SIGNING_KEY"] {
            for weak in [
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                &"a".repeat(44),
                &"password".repeat(6),
                "01234567890123456789012345678901234567890123",
                &"/".repeat(48),
            ] {
                let err = config(&[(name, weak)]).unwrap_err();
                assert!(
                    matches!(&err, ConfigError::Invalid { name: n, reason }
                        if *n == name && reason.contains("not random")),
                    "{name}={weak}: {err}"
                );
            }
        }
        assert!(config(&[(
            "SIGNING_KEY",
            "oZ8fItfwb3HRIR9iAyKpoIj1Ve9XqJfl1CwNetGsVuU="
        )])
        .is_ok());
    }

    #[test]
    fn shown_texts_are_printable_and_short() {
        for (name, bad) in [
            ("PRODUCT_NAME", "Acme\r\nBcc: eve@attacker.example"),
            ("PRODUCT_NAME", "Acme\u{202E}lanigiro"),
            ("PRODUCT_NAME", "Acme\u{2028}Security"),
            ("PRODUCT_NAME", "Acme\u{200B}"),
            ("TOTP_ISSUER", "Acme\nInc"),
            ("TOTP_ISSUER", "Acme:Inc"),
        ] {
            let err = config(&[(name, bad)]).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name),
                "{name}={bad:?}: {err}"
            );
        }
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(config(&[("PRODUCT_NAME", &long)]).is_err());
        let c = config(&[("PRODUCT_NAME", " Acme Café ")]).unwrap();
        assert_eq!(c.settings.product, "Acme Café");
        assert_eq!(c.settings.issuer, "Acme Café");
    }

    #[test]
    fn names_passed_on_are_exact() {
        for (name, bad) in [
            ("ADMIN_GROUP", "ops backup-codes-admins"),
            ("ADMIN_GROUP", "admins\u{200B}"),
            ("GROUPS_CLAIM", "cognito:groups\tx"),
            ("TABLE_NAME", "backup codes"),
            ("EVENT_BUS_NAME", "bus\nname"),
            (
                "FROM_ADDRESS",
                "no-reply@example.com\r\nBcc: eve@attacker.example",
            ),
            ("FROM_ADDRESS", "not an address"),
            ("LINK_BASE_URL", "https://api.example.com/\u{202E}x"),
        ] {
            let err = config(&[(name, bad)]).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name),
                "{name}={bad:?}: {err}"
            );
        }
        let c = config(&[
            ("ADMIN_GROUP", " ops-admins "),
            ("FROM_ADDRESS", "no-reply@example.com"),
        ])
        .unwrap();
        assert_eq!(c.identity.admin_group, "ops-admins");
        assert_eq!(c.from_address.as_deref(), Some("no-reply@example.com"));
    }

    #[test]
    fn link_settings_are_read_and_tidied() {
        let c = config(&[
            ("LINK_BASE_URL", "https://api.example.com/"),
            ("LINK_TTL_SECONDS", "600"),
        ])
        .unwrap();
        assert_eq!(c.link_base_url.as_deref(), Some("https://api.example.com"));
        assert_eq!(c.link_ttl, time::Duration::minutes(10));
        assert_eq!(config(&[]).unwrap().link_ttl, time::Duration::days(1));
    }

    #[test]
    fn unenrolled_users_are_allowed_unless_two_factor_is_required() {
        use crate::domain::sign_in::Unenrolled;
        assert_eq!(config(&[]).unwrap().unenrolled_users, Unenrolled::Allow);
        for required in ["require", "deny"] {
            let got = config(&[("UNENROLLED_USERS", required)]).unwrap();
            assert_eq!(got.unenrolled_users, Unenrolled::Require, "{required}");
        }
        let err = config(&[("UNENROLLED_USERS", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("UNENROLLED_USERS"), "{err}");
    }
}
