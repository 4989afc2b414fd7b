//! Amazon Cognito `AdminUserGlobalSignOut`: a user's sessions end after their second factor
//! changed. Every refresh token Cognito issued them stops working; access and ID tokens already
//! issued stay valid until they expire (Cognito's own limit).

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::{
    operation::admin_user_global_sign_out::AdminUserGlobalSignOutError, Client,
};

use crate::{
    domain::{sign_in::UserPoolId, user::UserId},
    ports::{SessionEnder, SinkError},
};

pub struct CognitoSessions {
    client: std::sync::OnceLock<Client>,
    /// What the client is built from at the first change, when it was not given built.
    config: Option<aws_sdk_cognitoidentityprovider::config::Builder>,
    pool: UserPoolId,
}

impl CognitoSessions {
    pub fn new(client: Client, pool: UserPoolId) -> Self {
        Self {
            client: client.into(),
            config: None,
            pool,
        }
    }

    /// Sessions whose client is built at the first change (see `SesMailer::lazy`): most
    /// events end no session, so most cold starts never need it.
    pub fn lazy(
        config: aws_sdk_cognitoidentityprovider::config::Builder,
        pool: UserPoolId,
    ) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            config: Some(config),
            pool,
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            let config = self
                .config
                .clone()
                .expect("a lazy client keeps its configuration");
            Client::from_conf(config.build())
        })
    }
}

#[async_trait]
impl SessionEnder for CognitoSessions {
    /// Cognito takes a local user's `sub` as the user name, and our user is the `sub`.
    async fn end_sessions(&self, user: &UserId) -> Result<(), SinkError> {
        let signed_out = self
            .client()
            .admin_user_global_sign_out()
            .user_pool_id(self.pool.as_str())
            .username(user.as_str())
            .send()
            .await;
        match signed_out {
            Ok(_) => Ok(()),
            // Not a user of this pool (enrolled through another identity provider): no session
            // of theirs is here to end.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(AdminUserGlobalSignOutError::is_user_not_found_exception) =>
            {
                Ok(())
            }
            Err(err) => Err(SinkError(Box::new(err))),
        }
    }
}
