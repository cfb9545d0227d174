//! Invitations and password links by email, through a real SMTP server on
//! loopback (aiosmtpd's, from `.venv-test`, storing what it receives in a
//! maildir): invitations and the password link an admin makes are also
//! emailed, "forgot your password?" emails one without telling who has an
//! account, and a mail server that is down never loses the admin's link.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    an_admin_link_is_emailed_and_a_forgotten_password_is_reset_by_mail,
    a_mail_server_that_is_down_leaves_the_admin_the_link,
);

const FROM: &str = "Larder <larder@college.example>";

/// aiosmtpd, installed by `scripts/setup-test.sh` into `.venv-test`.
struct Smtp {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    async fn start() -> Self {
        let bin = std::env::var("LARDER_TEST_AIOSMTPD").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-test/bin/aiosmtpd").into()
        });
        assert!(
            Path::new(&bin).exists(),
            "aiosmtpd is not at {bin}: run scripts/setup-test.sh (make test does)"
        );
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let child = Command::new(&bin)
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let smtp = Self {
            child,
            port,
            maildir,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return smtp;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not answer on port {port}");
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, decoded from quoted-printable.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .map(|raw| {
                raw.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .collect();
        out.sort();
        out
    }

    /// Waits for the `n`th message (mail may leave after the answer).
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} emails, got {:?}", self.messages());
    }
}

/// The reset token in an email's link.
fn token_in(message: &str) -> String {
    let at = message.find("/reset/").expect("a reset link") + "/reset/".len();
    message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn recipient(message: &str) -> &str {
    message
        .lines()
        .find_map(|l| l.strip_prefix("X-RcptTo: "))
        .expect("aiosmtpd records the recipient")
}

/// Invites lee@college.example as a viewer of `pantry`.
async fn invite_lee(app: &TestApp, admin: &reqwest::Client, pantry: &str) -> Reply {
    app.call(
        admin,
        "invite",
        &[
            ("email", "lee@college.example"),
            ("role", "viewer"),
            ("scope", &format!("pantry:{pantry}")),
        ],
    )
    .await
}

async fn membership_of(app: &TestApp, admin: &reqwest::Client, org: &str, email: &str) -> String {
    let people = app.call(admin, "people", &[("organization", org)]).await;
    people.body["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap()["membership_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn an_admin_link_is_emailed_and_a_forgotten_password_is_reset_by_mail(backend: Backend) {
    let smtp = Smtp::start().await;
    let app = spawn_with(
        backend,
        &[("LARDER_SMTP_URL", &smtp.url()), ("LARDER_MAIL_FROM", FROM)],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    app.join(
        &admin,
        "sam@college.example",
        "staff",
        &format!("pantry:{}", p.main),
    )
    .await;
    let session = app.call(&client(), "session", &[]).await;
    assert_eq!(session.body["password_email"], true);
    // Sam's invitation was emailed (and accepted through its link).
    let mail = smtp.wait_for(1).await;
    assert_eq!(recipient(&mail[0]), "sam@college.example");
    assert!(
        mail[0].contains("From: Larder <larder@college.example>"),
        "{}",
        mail[0]
    );
    assert!(
        mail[0].contains("Subject: You are invited to"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("/invitations/"), "{}", mail[0]);
    let r = invite_lee(&app, &admin, &p.main).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["emailed_to"], "lee@college.example");
    let mail = smtp.wait_for(2).await;
    let lee = mail
        .iter()
        .find(|m| recipient(m) == "lee@college.example")
        .unwrap();
    let link = r.body["link"].as_str().unwrap();
    assert!(lee.contains(link), "{lee}");

    // The admin's password link goes to Sam too, and the admin is told so.
    let sam = membership_of(&app, &admin, &p.org, "sam@college.example").await;
    let r = app
        .call(&admin, "create_reset_link", &[("membership", &sam)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["emailed_to"], "sam@college.example");
    assert!(r.body["mail_error"].is_null());
    let mail = smtp.wait_for(3).await;
    let reset = mail
        .iter()
        .find(|m| m.contains("Subject: Choose a new Larder password"))
        .expect("the password link email");
    assert_eq!(recipient(reset), "sam@college.example");
    let link = r.body["link"].as_str().unwrap();
    assert_eq!(token_in(reset), link.rsplit('/').next().unwrap());

    // "Forgot your password?" with an address nobody has: the same answer,
    // no link made, no email.
    let stranger = client();
    let links = app.count("select count(*) from password_resets").await;
    let r = app
        .call(
            &stranger,
            "request_password_reset",
            &[("email", "nobody@college.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &stranger,
            "request_password_reset",
            &[("email", "not an address")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field(), "email");
    assert_eq!(
        app.count("select count(*) from password_resets").await,
        links
    );

    // Sam asks (in other letters' case); the emailed link sets a new
    // password once and signs Sam in.
    let r = app
        .call(
            &stranger,
            "request_password_reset",
            &[("email", "Sam@College.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mail = smtp.wait_for(4).await;
    let asked = mail
        .iter()
        .find(|m| m.contains("asked for a link"))
        .expect("the asked-for email");
    assert_eq!(recipient(asked), "sam@college.example");
    let token = token_in(asked);
    let phone = client();
    let r = app
        .call(
            &phone,
            "reset_password",
            &[("token", &token), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.call(&phone, "account", &[]).await.status,
        StatusCode::OK
    );
    app.sign_in("sam@college.example", "a brand new password")
        .await;
    let again = app
        .call(
            &client(),
            "reset_password",
            &[("token", &token), ("password", "another new password")],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{:?}", again.body);

    // Asking again and again sends a few links, then nothing more.
    for _ in 0..5 {
        let r = app
            .call(
                &stranger,
                "request_password_reset",
                &[("email", "sam@college.example")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let sent = smtp.wait_for(6).await.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), sent);
    assert_eq!(
        sent, 6,
        "two invitations, the admin's link and three asked for in the hour"
    );
}

async fn a_mail_server_that_is_down_leaves_the_admin_the_link(backend: Backend) {
    // Nothing listens on this port.
    let url = format!("smtp://127.0.0.1:{}", free_port());
    let app = spawn_with(
        backend,
        &[("LARDER_SMTP_URL", &url), ("LARDER_MAIL_FROM", FROM)],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    app.join(
        &admin,
        "sam@college.example",
        "staff",
        &format!("pantry:{}", p.main),
    )
    .await;
    let sam = membership_of(&app, &admin, &p.org, "sam@college.example").await;
    let r = app
        .call(&admin, "create_reset_link", &[("membership", &sam)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["emailed_to"].is_null());
    let why = r.body["mail_error"].as_str().expect("says why");
    assert!(why.contains("could not be reached"), "{why}");

    // The link still works.
    let token = r.body["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let offer = app
        .call(&client(), "password_reset", &[("token", &token)])
        .await;
    assert_eq!(offer.body["email"], "sam@college.example");
    // An invitation made meanwhile keeps its link too.
    let r = invite_lee(&app, &admin, &p.main).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["emailed_to"].is_null());
    assert!(r.body["mail_error"]
        .as_str()
        .unwrap()
        .contains("could not be reached"));
    assert!(r.body["link"].as_str().unwrap().contains("/invitations/"));

    // Without mail set up, "forgot your password?" points to an admin.
    let plain = spawn_app(backend).await;
    let r = plain
        .call(
            &client(),
            "request_password_reset",
            &[("email", "sam@college.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.to_string().contains("Ask an admin"), "{:?}", r.body);
}
