//! A throwaway PostgreSQL server for the tests: `initdb` into a temporary
//! folder, started on a free loopback port with `wal_level = logical` and
//! SCRAM passwords, stopped and removed on drop. PostgreSQL refuses to run as
//! root, so as root it runs as the `postgres` user (`runuser`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The superuser's password of every test server.
pub const PASSWORD: &str = "weir-test";

pub struct PgServer {
    dir: tempfile::TempDir,
    port: u16,
    /// The server's command-line options, to start it again.
    options: String,
}

/// `cmd` as the `postgres` user when we are root, as ourselves otherwise.
fn as_postgres(cmd: &str, args: &[&str]) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", cmd]).args(args);
        c
    } else {
        let mut c = Command::new(cmd);
        c.args(args);
        c
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgServer {
    pub fn start() -> PgServer {
        let dir = tempfile::Builder::new()
            .prefix("weir-pg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let path = dir.path();
        std::fs::write(path.join("pw"), PASSWORD).expect("password file");
        // The server's user must own its folder.
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status();
        let data = path.join("data");
        let (data_s, pw) = (data.display().to_string(), path.join("pw"));
        run(
            as_postgres(
                "initdb",
                &[
                    "-D",
                    &data_s,
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    &format!("--pwfile={}", pw.display()),
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 -c fsync=off",
            path.display()
        );
        let log = path.join("server.log").display().to_string();
        run(
            as_postgres(
                "pg_ctl",
                &["-D", &data_s, "-o", &options, "-l", &log, "-w", "start"],
            ),
            "pg_ctl start",
        );
        let server = PgServer { dir, port, options };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "postgres did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// `postgres://postgres:…@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// Runs SQL with `psql` (an independent client); its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(db))
            .args(["-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stops the server at once (as a crash would: a fast shutdown waits for
    /// each replication client to confirm all it was sent, up to
    /// `wal_sender_timeout`) and starts it again on the same port.
    pub fn restart(&self) {
        let data = self.data().display().to_string();
        // With its log file: a server writing to our pipe would keep it open.
        let log = self.dir.path().join("server.log").display().to_string();
        run(
            as_postgres(
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-l", &log, "-w", "restart"],
            ),
            "pg_ctl restart",
        );
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        let data = self.data().display().to_string();
        run(
            as_postgres("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    /// Starts a stopped server again on its port.
    pub fn start_again(&self) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        run(
            as_postgres(
                "pg_ctl",
                &["-D", &data, "-o", &self.options, "-l", &log, "-w", "start"],
            ),
            "pg_ctl start",
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = as_postgres("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]).output();
    }
}
