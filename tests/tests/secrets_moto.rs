//! Keys read from Secrets Manager (moto): the current version signs, the previous one still
//! verifies after a rotation, and a secret that is not a key (short, patterned, typed) stops the
//! cold start with its name.

use backup_codes::{
    adapters::secrets,
    domain::{
        codes::random_id,
        link_token::{DownloadGrant, LinkSigner},
        user::UserId,
    },
};
use integration_tests::secrets_client;
use time::OffsetDateTime;

/// 64 alphanumeric characters, the shape the template's GenerateSecretString produces.
fn generated_secret() -> String {
    format!("{}{}", random_id(), random_id())
}

/// A new signing secret as the template makes it, and a link for ria signed with it:
/// (client, secret name, signer, user, grant, link).
async fn a_link_signed_with_a_new_secret() -> (
    aws_sdk_secretsmanager::Client,
    String,
    LinkSigner,
    UserId,
    DownloadGrant,
    String,
) {
    let client = secrets_client().await;
    let name = format!("signing-{}", random_id());
    client
        .create_secret()
        .name(&name)
        .secret_string(generated_secret())
        .send()
        .await
        .unwrap();
    let before = LinkSigner::new(secrets::keyring(&client, &name).await.unwrap());
    let user = UserId::parse("ria").unwrap();
    let grant = DownloadGrant {
        id: random_id(),
        expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    let link = before.sign(&user, &grant);
    (client, name, before, user, grant, link)
}

#[tokio::test]
async fn a_rotated_signing_key_still_verifies_links_made_before_the_rotation() {
    let (client, name, before, user, grant, old_link) = a_link_signed_with_a_new_secret().await;

    // What the deploy guide says to run: a new version becomes AWSCURRENT, the old AWSPREVIOUS.
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(generated_secret())
        .send()
        .await
        .unwrap();
    let after = LinkSigner::new(secrets::keyring(&client, &name).await.unwrap());
    let now = OffsetDateTime::now_utc();
    let claims = after
        .verify(&old_link, now)
        .expect("a link signed before the rotation still works");
    assert_eq!(claims.user, user);
    let new_link = after.sign(&user, &grant);
    assert_ne!(new_link, old_link, "new links use the new key");
    assert!(
        before.verify(&new_link, now).is_err(),
        "the old keyring does not know the new key"
    );
}

/// Creates a secret holding `value` and reads it as a keyring: (its name, the error).
async fn refusal_of(client: &aws_sdk_secretsmanager::Client, value: &str) -> (String, String) {
    let name = format!("refused-{}", random_id());
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    let err = secrets::keyring(client, &name)
        .await
        .expect_err("not a key")
        .to_string();
    (name, err)
}

#[tokio::test]
async fn a_secret_that_is_not_a_key_is_refused_by_name() {
    let client = secrets_client().await;
    let (name, err) = refusal_of(&client, "too short").await;
    assert!(err.contains(&name) && err.contains("32"), "{err}");

    // The patterned keys a security review started the service with, and typed strings: each
    // stops the start, naming the secret.
    for weak in [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &"a".repeat(44),
        &"password".repeat(6),
        "01234567890123456789012345678901234567890123",
        &"/".repeat(48),
        "qwertyuiop[]asdfghjkl;'zxcvbnm,./1234567890-=!QWE",
        "Password1!Password2!Password3!Password4!Password5!Password6!Password7!Password8!",
    ] {
        let (name, err) = refusal_of(&client, weak).await;
        assert!(err.contains(&name), "{weak}: {err}");
        assert!(
            err.contains("not random") || err.contains("256 bits"),
            "{weak}: {err}"
        );
    }

    let missing = format!("missing-{}", random_id());
    let err = secrets::keyring(&client, &missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing), "{err}");
}

#[tokio::test]
async fn a_key_rotated_to_another_generator_keeps_working() {
    let (client, name, _, user, grant, old_link) = a_link_signed_with_a_new_secret().await;

    // Secrets Manager's own generator with punctuation, at the length the README names: not
    // base64, still 256+ bits.
    let punctuated = client
        .get_random_password()
        .password_length(64)
        .require_each_included_type(true)
        .send()
        .await
        .unwrap()
        .random_password
        .unwrap();
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(&punctuated)
        .send()
        .await
        .unwrap();
    let after = LinkSigner::new(secrets::keyring(&client, &name).await.unwrap());
    let now = OffsetDateTime::now_utc();
    assert!(
        after.verify(&old_link, now).is_ok(),
        "the base64 key still verifies"
    );
    let new_link = after.sign(&user, &grant);
    assert_eq!(after.verify(&new_link, now).unwrap().user, user);
    let again = LinkSigner::new(secrets::keyring(&client, &name).await.unwrap());
    assert!(
        again.verify(&new_link, now).is_ok(),
        "the stretched key is the same on the next cold start"
    );
}
