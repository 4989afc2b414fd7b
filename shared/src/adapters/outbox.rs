//! The local server's mailer: each message becomes a MIME file (`.eml`) in an outbox folder,
//! built by `lettre`, so headers are encoded and long lines wrapped as a mail server would
//! need them.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{Mailbox, Message, MultiPart};

use crate::{
    domain::codes::random_id,
    ports::{MailError, Mailer, OutgoingMail},
};

pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
}

/// The sender when none is configured: the outbox is local, so no real domain is claimed.
pub const LOCAL_SENDER: &str = "backup-codes@localhost";

#[derive(Debug, thiserror::Error)]
#[error("the sender {0:?} is not an email address")]
pub struct BadSender(String);

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, BadSender> {
        Ok(Self {
            dir: dir.into(),
            from: from.parse().map_err(|_| BadSender(from.to_owned()))?,
        })
    }

    fn message(&self, mail: &OutgoingMail) -> Result<Vec<u8>, MailError> {
        let to: Mailbox = mail
            .to
            .as_str()
            .parse()
            .map_err(|e| MailError(Box::new(e)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError(Box::new(e)))?;
        Ok(message.formatted())
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let io = |e: std::io::Error| MailError(Box::new(e));
        let file = self.message(mail)?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let path = self.dir.join(format!("{stamp}-{}.eml", &random_id()[..8]));
        tokio::fs::write(&path, file).await.map_err(io)?;
        // Local use only: the developer needs the link, which would otherwise sit in a file.
        println!("mail to {} written to {}", mail.to.as_str(), path.display());
        for line in mail.text.lines().filter(|l| l.contains("://")) {
            println!("  link: {}", line.trim());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Email;

    #[test]
    fn headers_are_encoded_and_lines_wrapped() {
        let outbox = OutboxMailer::new("unused", LOCAL_SENDER).unwrap();
        let link = format!(
            "https://api.example.com/v1/backup-codes/download#token={}",
            "t".repeat(300)
        );
        let mail = OutgoingMail {
            to: Email::parse("ana@example.com").unwrap(),
            subject: "Café\r\nBcc: eve@attacker.example".to_owned(),
            text: format!("Hello,\n\n{link}\n"),
            html: format!("<p><a href=\"{link}\">{link}</a></p>"),
        };
        let file = String::from_utf8(outbox.message(&mail).unwrap()).unwrap();
        let (headers, _) = file.split_once("\r\n\r\n").unwrap();
        assert!(
            !file.lines().any(|l| l.starts_with("Bcc:")),
            "a CR/LF in a subject is never a header: {file}"
        );
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
        assert!(headers.contains("To: ana@example.com"), "{headers}");
        assert!(
            headers.contains("From: backup-codes@localhost"),
            "{headers}"
        );
        assert!(
            file.split("\r\n").all(|l| l.len() <= 78),
            "every line fits a mail server: {file}"
        );
        assert!(OutboxMailer::new("unused", "not an address").is_err());
    }
}
