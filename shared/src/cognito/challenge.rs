//! Define, Create and Verify Auth Challenge: the password (SRP) first, then a TOTP code or a
//! backup code; for a user who must enroll first, the setup of an authenticator and its first
//! code. A passed challenge leaves the sign-in pass the token guard consumes.

use std::collections::HashMap;

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsChallengeResult, CognitoEventUserPoolsCreateAuthChallenge,
    CognitoEventUserPoolsDefineAuthChallenge, CognitoEventUserPoolsVerifyAuthChallenge,
};
use serde_json::Value;
use tracing::{info, warn};

use super::{app_client, source, sub, to_json, verified_email, CognitoTrigger, TriggerError};
use crate::{
    app::{
        enroll,
        errors::{EnrollError, Fault, FilingError, VerifyError},
        verify,
    },
    domain::{
        recovery,
        sealing::SealedSecret,
        sign_in::{after_password, next_step, Challenge, Next, Step, Unenrolled},
    },
    presentation::components::qr_modules,
};

/// The private parameter that names which challenge Create posed, and the one that holds the
/// enrollment it showed: its secret, sealed (Cognito gives private parameters to Verify alone).
const TYPE: &str = "type";
const ENROLLMENT: &str = "enrollment";
/// The public parameter that tells the client a recovery request of this user is open: after
/// its request answer, the sign-in's last step says their administrators were asked.
const RECOVERY_REQUEST: &str = "recovery_request";

impl CognitoTrigger {
    pub(super) async fn define(
        &self,
        mut event: CognitoEventUserPoolsDefineAuthChallenge,
    ) -> Result<Value, TriggerError> {
        let session: Vec<Step> = event.request.session.iter().map(step).collect();
        let mut next = next_step(&session);
        if next == Next::AfterPassword {
            // Cognito's password step fails a user it did not find, so none should get here;
            // if one does, it is refused rather than let through as "not enrolled".
            next = match sub(&event.request.user_attributes) {
                Some(user) if !event.request.user_not_found => {
                    let record = self
                        .services
                        .store
                        .get_user(&user)
                        .await
                        .map_err(Fault::from)?;
                    match record.is_some_and(|r| r.is_enrolled()) {
                        true => after_password(true, self.unenrolled),
                        false => after_password(false, self.unenrolled_rule(&user).await?),
                    }
                }
                _ => Next::Fail,
            };
        }
        info!(step = ?next, answers = session.len().saturating_sub(2), "define auth challenge");
        let response = &mut event.response;
        (
            response.challenge_name,
            response.issue_tokens,
            response.fail_authentication,
        ) = match next {
            Next::PasswordVerifier => (Some("PASSWORD_VERIFIER".into()), false, false),
            Next::AskForCode => (Some("CUSTOM_CHALLENGE".into()), false, false),
            // Tokens only where the password alone is enough for this user; the token guard
            // checks the same again when Cognito generates them.
            Next::IssueTokens => (None, true, false),
            Next::Fail | Next::AfterPassword => (None, false, true),
        };
        Ok(to_json(&event))
    }

    /// A code, or, where the pool requires two-factor and the user has no authenticator yet,
    /// its setup: a pending enrollment whose secret the client shows as a QR or for typing in.
    pub(super) async fn create(
        &self,
        mut event: CognitoEventUserPoolsCreateAuthChallenge,
    ) -> Result<Value, TriggerError> {
        let request = &event.request;
        let user = sub(&request.user_attributes).filter(|_| !request.user_not_found);
        let rule = match &user {
            Some(user) => self.unenrolled_rule(user).await?,
            None => self.unenrolled,
        };
        let enrollment = match (user.clone(), rule) {
            (Some(user), Unenrolled::Require) => {
                let shown = last_enrollment_shown(&request.session);
                let email = verified_email(&request.user_attributes);
                enroll::challenge_at_sign_in(&self.services, &user, email.as_ref(), shown.as_ref())
                    .await?
            }
            // An unenrolled user of a pool that allows them never reaches a challenge.
            _ => None,
        };
        let response = &mut event.response;
        match enrollment {
            None => {
                let name = Challenge::Code.name().to_owned();
                let mut public: HashMap<String, String> = [(TYPE.to_owned(), name.clone())].into();
                let open = match &user {
                    Some(user) => self.open_request(user, &event.request.session).await?,
                    None => false,
                };
                if open {
                    public.insert(RECOVERY_REQUEST.to_owned(), "open".to_owned());
                }
                let response = &mut event.response;
                response.public_challenge_parameters = public;
                response.private_challenge_parameters = HashMap::new();
                response.challenge_metadata = Some(name);
            }
            Some(started) => {
                let name = Challenge::Enrollment.name();
                response.public_challenge_parameters = [
                    (TYPE.to_owned(), name.to_owned()),
                    (
                        "qr".to_owned(),
                        qr_modules(&started.otpauth_uri).unwrap_or_default(),
                    ),
                    ("otpauth_uri".to_owned(), started.otpauth_uri),
                    ("secret".to_owned(), started.secret_base32),
                ]
                .into();
                response.private_challenge_parameters = [
                    (TYPE.to_owned(), name.to_owned()),
                    (ENROLLMENT.to_owned(), started.sealed.to_text()),
                ]
                .into();
                // The session keeps metadata for the next Create, which shows the same secret
                // after a wrong answer; sealed, like everything of it we keep.
                response.challenge_metadata = Some(format!("{name}:{}", started.sealed.to_text()));
            }
        }
        Ok(to_json(&event))
    }

    /// A code challenge runs the same verify as `POST /v1/verify` (the attempt ledger, single
    /// use, TOTP replay, the audit trail and the user's mail); an enrollment challenge the same
    /// confirm as `POST /v1/totp/enrollment/confirm`. Locked and wrong are both a wrong answer
    /// to Cognito; a right one also leaves the sign-in pass, in the write that accepts it.
    pub(super) async fn verify(
        &self,
        mut event: CognitoEventUserPoolsVerifyAuthChallenge,
    ) -> Result<Value, TriggerError> {
        event.response.answer_correct = self.check_answer(&event).await?;
        Ok(to_json(&event))
    }

    async fn check_answer(
        &self,
        event: &CognitoEventUserPoolsVerifyAuthChallenge,
    ) -> Result<bool, TriggerError> {
        let request = &event.request;
        let answer = request.challenge_answer.as_ref().and_then(Value::as_str);
        let (Some(user), Some(answer)) = (sub(&request.user_attributes), answer) else {
            return Ok(false);
        };
        if request.user_not_found {
            return Ok(false);
        }
        let private = &request.private_challenge_parameters;
        let posed = match private.get(TYPE) {
            None => Some(Challenge::Code),
            Some(name) => Challenge::from_name(name),
        };
        let source = source(&request.client_metadata);
        // Lost phone and codes: the answer files a recovery request, never checked as a code,
        // and the sign-in goes on without tokens (Create says the request is open).
        if recovery::is_request_answer(answer) {
            if posed == Some(Challenge::Code) {
                self.file_recovery(&user, &source).await?;
            }
            return Ok(false);
        }
        // A pass is left for the app client whose sign-in passed; Cognito always names it.
        let Some(client) = app_client(&event.cognito_event_user_pools_header) else {
            return Ok(false);
        };
        match posed {
            Some(Challenge::Code) => {
                match verify::verify_sign_in(&self.services, &user, answer, &source, client).await {
                    Ok(_) => Ok(true),
                    Err(VerifyError::InvalidCode) => Ok(false),
                    // The code is still unspent: the prompt comes again, and the same code works.
                    Err(VerifyError::Contended) => {
                        info!("sign-in answer not spent: other requests raced it; asked again");
                        Ok(false)
                    }
                    Err(VerifyError::Locked(locked)) => {
                        info!(
                            retry_after = locked.retry_after_seconds,
                            "sign-in refused: locked"
                        );
                        Ok(false)
                    }
                    Err(VerifyError::Fault(fault)) => Err(fault.into()),
                }
            }
            Some(Challenge::Enrollment) => {
                let Some(shown) = private
                    .get(ENROLLMENT)
                    .and_then(|text| SealedSecret::from_text(text))
                else {
                    return Ok(false);
                };
                let email = verified_email(&request.user_attributes);
                let confirmed = enroll::confirm_at_sign_in(
                    &self.services,
                    &user,
                    email.as_ref(),
                    answer,
                    &shown,
                    &source,
                    client,
                )
                .await;
                match confirmed {
                    Ok(()) => Ok(true),
                    Err(EnrollError::Fault(fault)) => Err(fault.into()),
                    Err(refused) => {
                        info!(reason = %refused, "sign-in enrollment refused");
                        Ok(false)
                    }
                }
            }
            None => Ok(false),
        }
    }
}

impl CognitoTrigger {
    /// Files a recovery request for `user`, whose password passed in this sign-in. A request
    /// that cannot be filed (no link address configured, the mail not sent) is logged, and the
    /// next challenge says no request is open.
    async fn file_recovery(
        &self,
        user: &crate::domain::user::UserId,
        source: &crate::domain::events::Source,
    ) -> Result<(), TriggerError> {
        let Some((desk, base_url)) = &self.recovery else {
            warn!("a recovery request at sign-in, but LINK_BASE_URL is not set: nothing filed");
            return Ok(());
        };
        match desk.file(&self.services, user, source, base_url).await {
            Ok(_) => Ok(()),
            Err(FilingError::Fault(fault)) => Err(fault.into()),
            Err(refused) => {
                warn!(reason = %refused, "a recovery request at sign-in was not filed");
                Ok(())
            }
        }
    }

    /// Whether `user` has a recovery request open, asked only after an answer of this sign-in
    /// failed (a request is such an answer), so a first challenge costs no read.
    async fn open_request(
        &self,
        user: &crate::domain::user::UserId,
        session: &[Option<CognitoEventUserPoolsChallengeResult>],
    ) -> Result<bool, TriggerError> {
        let answered_wrong = session.iter().flatten().any(|entry| {
            entry.challenge_name.as_deref() == Some("CUSTOM_CHALLENGE") && !entry.challenge_result
        });
        if !answered_wrong {
            return Ok(false);
        }
        let now = self.services.clock.now();
        let request = self
            .services
            .store
            .request_of(user)
            .await
            .map_err(Fault::from)?;
        Ok(request.is_some_and(|r| r.is_open(now)))
    }
}

/// The enrollment this sign-in showed in its latest challenge, from the metadata Create left.
fn last_enrollment_shown(
    session: &[Option<CognitoEventUserPoolsChallengeResult>],
) -> Option<SealedSecret> {
    let last = session.iter().rev().flatten().next()?;
    let metadata = last.challenge_metadata.as_deref()?;
    let (name, sealed) = metadata.split_once(':')?;
    (Challenge::from_name(name) == Some(Challenge::Enrollment))
        .then(|| SealedSecret::from_text(sealed))
        .flatten()
}

fn step(entry: &Option<CognitoEventUserPoolsChallengeResult>) -> Step {
    entry.as_ref().map_or(Step::Other, |entry| {
        Step::from_cognito(entry.challenge_name.as_deref(), entry.challenge_result)
    })
}
