//! A PostgreSQL primary and a streaming replica of it, each in a directory
//! of its own on loopback, for the read-replica tests: `initdb`, then
//! `pg_basebackup -R` (which writes the standby's connection settings), as
//! an operator sets one up.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{free_port, is_root};

pub struct PgPair {
    dir: tempfile::TempDir,
    bin: PathBuf,
    primary_port: u16,
    replica_port: u16,
    replica_running: bool,
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/setup-test.sh installs it)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_basebackup").exists())
        .collect();
    found.sort();
    found.pop().expect("a PostgreSQL with pg_basebackup")
}

impl PgPair {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            // PostgreSQL refuses to run as root: its own user runs it.
            assert!(Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success());
        }
        let mut pair = Self {
            bin: pg_bin(),
            primary_port: free_port(),
            replica_port: free_port(),
            dir,
            replica_running: false,
        };
        let primary = pair.data("primary");
        pair.run(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pair.pg_ctl("primary", pair.primary_port, "start");
        let port = pair.primary_port.to_string();
        pair.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &pair.data("replica"),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        pair.resume_replica();
        pair
    }

    fn data(&self, which: &str) -> String {
        self.dir.path().join(which).display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .current_dir(Path::new("/"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, which: &str, port: u16, action: &str) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=100",
            self.dir.path().display()
        );
        let log = self
            .dir
            .path()
            .join(format!("{which}.log"))
            .display()
            .to_string();
        let data = self.data(which);
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-t", "60"];
        if action == "start" {
            args.extend(["-o", &options]);
        } else {
            args.extend(["-m", "immediate"]);
        }
        args.push(action);
        self.run("pg_ctl", &args);
    }

    /// The primary's `postgres` database.
    pub fn primary_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.primary_port
        )
    }

    pub fn replica_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.replica_port
        )
    }

    /// Stops the replica at once, as a crash would.
    pub fn stop_replica(&mut self) {
        self.pg_ctl("replica", self.replica_port, "stop");
        self.replica_running = false;
    }

    /// Starts the replica (again); it streams what it missed.
    pub fn resume_replica(&mut self) {
        self.pg_ctl("replica", self.replica_port, "start");
        self.replica_running = true;
    }

    /// Runs one statement on the replica (pausing or resuming its replay).
    pub async fn on_replica(&self, sql: &str) {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.replica_url())
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.ok();
    }

    /// Waits until the replica has replayed everything the primary wrote.
    pub async fn caught_up(&self) {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let mut primary = sqlx::AnyConnection::connect(&self.primary_url())
            .await
            .unwrap();
        let mut replica = sqlx::AnyConnection::connect(&self.replica_url())
            .await
            .unwrap();
        let target: String = sqlx::query_scalar("select pg_current_wal_lsn()::text")
            .fetch_one(&mut primary)
            .await
            .unwrap();
        for _ in 0..300 {
            let behind: bool = sqlx::query_scalar(
                "select pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn()) > 0",
            )
            .bind(&target)
            .fetch_one(&mut replica)
            .await
            .unwrap();
            if !behind {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the replica did not catch up with the primary within 15 s");
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        if self.replica_running {
            let _ = self
                .command("pg_ctl")
                .args(["-D", &self.data("replica"), "-m", "immediate", "stop"])
                .output();
        }
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data("primary"), "-m", "immediate", "stop"])
            .output();
    }
}
