//! Amazon SES `SendEmail`, with a text and an HTML part.

use async_trait::async_trait;
use aws_sdk_ses::{
    types::{Body, Content, Destination, Message},
    Client,
};

use crate::ports::{MailError, Mailer, OutgoingMail};

pub struct SesMailer {
    client: std::sync::OnceLock<Client>,
    /// What the client is built from at the first mail, when it was not given built.
    config: Option<aws_config::SdkConfig>,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            config: None,
            from: from.into(),
        }
    }

    /// A mailer whose client is built at its first mail: most functions never mail, and a cold
    /// start should not pay for a client it does not use.
    pub fn lazy(config: &aws_config::SdkConfig, from: impl Into<String>) -> Self {
        Self {
            client: std::sync::OnceLock::new(),
            config: Some(config.clone()),
            from: from.into(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| {
            Client::new(
                self.config
                    .as_ref()
                    .expect("a lazy mailer keeps its configuration"),
            )
        })
    }
}

fn content(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError(Box::new(e)))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.text)?)
                    .html(content(&mail.html)?)
                    .build(),
            )
            .build();
        self.client()
            .send_email()
            .source(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(mail.to.as_str())
                    .build(),
            )
            .message(message)
            .send()
            .await
            .map_err(|e| MailError(Box::new(e)))?;
        Ok(())
    }
}
