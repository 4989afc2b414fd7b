//! Amazon SES `SendEmail`, with a text and an HTML part.

use async_trait::async_trait;
use aws_sdk_ses::{
    types::{Body, Content, Destination, Message},
    Client,
};

use crate::ports::{MailError, Mailer, OutgoingMail};

pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
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
        self.client
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
