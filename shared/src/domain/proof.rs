//! Step-up proofs: what a user (or an administrator, for themselves) shows to change a second
//! factor. A current TOTP code or an unused backup code proves it, so a user who lost the phone
//! can still act with a backup code; either way the proof is spent by the same write that acts
//! on it, so it works once, across every route.

use super::{codes::CodeHash, record::UserRecord};

/// A step-up code that checked out, and what the acting write must spend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A TOTP code for this step: the write records it as the last step used.
    Totp { step: u64 },
    /// An unused backup code of this set: the write marks it used (or removes the set holding
    /// it), conditional on it being unused still.
    BackupCode { set_id: String, hash: CodeHash },
}

impl Proof {
    /// The proof can still be spent on `record`: a TOTP step later than the last one used, or
    /// a backup code still unused in the active set. What every spending write's condition
    /// checks, besides the ledger.
    pub fn is_unspent_in(&self, record: &UserRecord) -> bool {
        match self {
            Proof::Totp { step } => record.totp.last_step < *step,
            Proof::BackupCode { set_id, hash } => record.codes.as_ref().is_some_and(|set| {
                set.id == *set_id && set.find(hash).is_some_and(|c| c.used_at.is_none())
            }),
        }
    }

    /// For a backup code: its line on the sheet of `record`'s active set.
    pub fn code_number(&self, record: &UserRecord) -> Option<usize> {
        match self {
            Proof::Totp { .. } => None,
            Proof::BackupCode { hash, .. } => record
                .codes
                .as_ref()
                .and_then(|set| set.find(hash))
                .and_then(|code| code.number),
        }
    }
}

/// What a step-up proof authorised: named on the `backup_code_used` event a backup code leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepUp {
    RegenerateCodes,
    RemoveCodes,
    ReplaceAuthenticator,
    DisableTwoFactor,
    AdminReset,
    AdminDisableTwoFactor,
    SetTwoFactorRule,
    ApproveRecovery,
}

impl StepUp {
    pub const ALL: [StepUp; 8] = [
        StepUp::RegenerateCodes,
        StepUp::RemoveCodes,
        StepUp::ReplaceAuthenticator,
        StepUp::DisableTwoFactor,
        StepUp::AdminReset,
        StepUp::AdminDisableTwoFactor,
        StepUp::SetTwoFactorRule,
        StepUp::ApproveRecovery,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StepUp::RegenerateCodes => "regenerate_codes",
            StepUp::RemoveCodes => "remove_codes",
            StepUp::ReplaceAuthenticator => "replace_authenticator",
            StepUp::DisableTwoFactor => "disable_two_factor",
            StepUp::AdminReset => "admin_reset",
            StepUp::AdminDisableTwoFactor => "admin_disable_two_factor",
            StepUp::SetTwoFactorRule => "set_two_factor_rule",
            StepUp::ApproveRecovery => "approve_recovery",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The change leaves the proving user with no backup codes at all.
    pub fn removes_the_codes(self) -> bool {
        matches!(self, StepUp::RemoveCodes | StepUp::DisableTwoFactor)
    }

    /// How the user's mail says what the code was used for.
    pub fn described(self) -> &'static str {
        match self {
            StepUp::RegenerateCodes => "to make a new set of backup codes",
            StepUp::RemoveCodes => "to remove your backup codes",
            StepUp::ReplaceAuthenticator => "to set up a new authenticator app",
            StepUp::DisableTwoFactor => "to turn two-factor authentication off",
            StepUp::AdminReset => "to reset another user's backup codes (you are an administrator)",
            StepUp::AdminDisableTwoFactor => {
                "to turn off another user's two-factor authentication (you are an administrator)"
            }
            StepUp::SetTwoFactorRule => {
                "to change an account's two-factor rule (you are its administrator)"
            }
            StepUp::ApproveRecovery => {
                "to approve a user's request to reset their two-factor (you are an administrator)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StepUp;

    #[test]
    fn step_ups_round_trip_through_their_names() {
        for step_up in StepUp::ALL {
            assert_eq!(StepUp::parse(step_up.name()), Some(step_up));
        }
        assert_eq!(StepUp::parse("Regenerate_Codes"), None);
    }
}
