//! Outgoing mail: over real SMTP to a server on loopback, and into the mailbox folder.

use favcrm::effects::mail::{Delivery, Email, Mailer};

use crate::common::start_smtp;

fn email() -> Email {
    Email {
        to: "Amy Chan <amy@example.com>".into(),
        subject: "Your favcrm code".into(),
        text: "Your code is 123456".into(),
        html: "<p>Your code is <b>123456</b></p>".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn mail_goes_out_over_smtp_with_text_and_html_parts() {
    let (port, messages) = start_smtp();
    let dir = std::env::temp_dir();
    let mailer = Mailer::new(Some(&format!("smtp://127.0.0.1:{port}")), "favcrm <no-reply@example.com>", &dir).unwrap();
    let id = uuid::Uuid::now_v7();
    assert_eq!(mailer.send(id, &email()).await.unwrap(), Delivery::Smtp);
    let received = String::from_utf8(messages.lock().unwrap().pop().expect("one message")).unwrap();
    assert!(
        received.contains(&format!("Message-ID: <{id}@favcrm>")),
        "the delivery's id names the message: {received}"
    );
    assert!(received.contains("Subject: Your favcrm code"), "{received}");
    assert!(
        received.contains("To: \"Amy Chan\" <amy@example.com>") || received.contains("To: Amy Chan <amy@example.com>"),
        "{received}"
    );
    assert!(received.contains("text/plain") && received.contains("text/html"), "{received}");
    assert!(received.contains("Your code is 123456"));
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_a_private_mailbox_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("favcrm-mail-{}", uuid::Uuid::new_v4().simple()));
    let mailer = Mailer::new(None, "favcrm <no-reply@example.com>", &dir).unwrap();
    let id = uuid::Uuid::now_v7();
    let Delivery::File(path) = mailer.send(id, &email()).await.unwrap() else { panic!("expected a file") };
    // The same message again (a retry after a crash) writes no second file.
    assert_eq!(mailer.send(id, &email()).await.unwrap(), Delivery::File(path.clone()));
    assert_eq!(std::fs::read_dir(dir.join("mail")).unwrap().count(), 1);
    assert!(path.starts_with(dir.join("mail")) && path.extension().is_some_and(|e| e == "eml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Subject: Your favcrm code") && text.contains("text/html"));
    assert_eq!(std::fs::metadata(dir.join("mail")).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_permanent_smtp_refusal_is_refused_and_an_unreachable_server_is_a_failure_to_retry() {
    use favcrm::effects::mail::MailError;
    let dir = std::env::temp_dir();
    // Nothing listens on this port: not known to have failed for good.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mailer = Mailer::new(Some(&format!("smtp://127.0.0.1:{port}")), "favcrm <no-reply@example.com>", &dir).unwrap();
    assert!(matches!(mailer.send(uuid::Uuid::now_v7(), &email()).await, Err(MailError::Failed(_))));
    let bad = Email { to: "not an address".into(), ..email() };
    assert!(matches!(mailer.send(uuid::Uuid::now_v7(), &bad).await, Err(MailError::Refused(_))));
}

#[test]
fn a_bad_smtp_url_or_sender_is_refused_at_start() {
    let dir = std::env::temp_dir();
    assert!(Mailer::new(Some("ftp://nowhere"), "favcrm <no-reply@example.com>", &dir).is_err());
    assert!(Mailer::new(None, "not an address", &dir).is_err());
}
