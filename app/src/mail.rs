//! Email through the operator's SMTP server (lettre), when one is
//! configured (`LARDER_SMTP_URL`, `LARDER_MAIL_FROM`). Larder sends little
//! mail: the one-time links that let someone choose a new password.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

use crate::error::{AppError, AppResult};

/// How long one delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// What the configuration says; checked at start-up by [`Mailer::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`,
    /// or plain `smtp://host:25` (a relay on the same machine).
    pub url: String,
    /// The sender, `Larder <larder@college.edu>`.
    pub from: String,
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    // The URL may carry the relay's password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

/// An email to one person: plain text, as a link-bearing notice should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub body: String,
}

impl Mailer {
    /// Parses the settings; the message names what is wrong.
    pub fn new(settings: &MailSettings) -> Result<Self, MailConfigError> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailConfigError::From(e.to_string()))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|e| MailConfigError::Url(e.to_string()))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }

    /// Sends one email. A refusal or an unreachable server comes back as a
    /// sentence fit to show the admin who asked for it.
    pub async fn send(&self, mail: &Mail) -> AppResult<()> {
        let to = Mailbox::new(
            Some(mail.to_name.clone()).filter(|n| !n.trim().is_empty()),
            mail.to_email
                .parse()
                .map_err(|_| AppError::invalid("email", "That email address cannot be mailed."))?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| AppError::internal(&e))?;
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => {
                tracing::info!(subject = %mail.subject, "email sent");
                Ok(())
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "email not sent");
                Err(unsent(if e.is_permanent() {
                    "the mail server refused it"
                } else {
                    "the mail server could not be reached"
                }))
            }
            Err(_) => {
                tracing::warn!("email not sent: the mail server took too long");
                Err(unsent("the mail server took too long"))
            }
        }
    }
}

/// Sends `mail` when mail is set up, for a notice that is also shown to
/// the person who caused it: the address it went to, or why it did not go.
/// Without a mailer, neither.
pub async fn send_if_configured(
    mailer: Option<&Mailer>,
    mail: &Mail,
) -> (Option<String>, Option<String>) {
    match mailer {
        None => (None, None),
        Some(m) => match m.send(mail).await {
            Ok(()) => (Some(mail.to_email.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        },
    }
}

fn unsent(why: &str) -> AppError {
    AppError::Busy {
        message: format!("The email was not sent: {why}. Try again later."),
        retry_after_secs: 60,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailConfigError {
    #[error("{0}")]
    Url(String),
    #[error("{0}")]
    From(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, from: &str) -> MailSettings {
        MailSettings {
            url: url.into(),
            from: from.into(),
        }
    }

    #[test]
    fn settings_are_checked_before_the_first_email() {
        assert!(Mailer::new(&settings(
            "smtp://127.0.0.1:2525",
            "Larder <larder@college.example>"
        ))
        .is_ok());
        assert!(Mailer::new(&settings(
            "smtps://u:p@mail.college.example",
            "larder@college.example"
        ))
        .is_ok());
        assert!(matches!(
            Mailer::new(&settings(
                "http://mail.college.example",
                "larder@college.example"
            )),
            Err(MailConfigError::Url(_))
        ));
        assert!(matches!(
            Mailer::new(&settings("smtp://127.0.0.1", "not an address")),
            Err(MailConfigError::From(_))
        ));
    }
}
