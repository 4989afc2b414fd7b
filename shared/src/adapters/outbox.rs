//! The local server's mailer: each message becomes a file in an outbox folder.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::{
    domain::codes::random_id,
    ports::{MailError, Mailer, OutgoingMail},
};

pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let io = |e: std::io::Error| MailError(Box::new(e));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let path = self.dir.join(format!("{stamp}-{}.eml", &random_id()[..8]));
        let boundary = random_id();
        let file = format!(
            "To: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n\
             --{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n{html}\r\n--{boundary}--\r\n",
            to = mail.to.as_str(),
            subject = mail.subject,
            text = mail.text,
            html = mail.html,
        );
        tokio::fs::write(&path, file).await.map_err(io)?;
        // Local use only: the developer needs the link, which would otherwise sit in a file.
        println!("mail to {} written to {}", mail.to.as_str(), path.display());
        for line in mail.text.lines().filter(|l| l.contains("://")) {
            println!("  link: {}", line.trim());
        }
        Ok(())
    }
}
