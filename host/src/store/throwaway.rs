//! A PostgreSQL cluster of its own, for the tests and the bench that need a real shared store:
//! `initdb` in a temporary directory, `pg_ctl start` on a free loopback port (routers reach
//! their database over TCP in production too; the socket lives in that directory), stopped and
//! removed when dropped.
//! Needs Debian's `postgresql` package (its server programs live in
//! /usr/lib/postgresql/<version>/bin; scripts/test installs it when missing).

use std::path::PathBuf;
use std::process::Command;

/// A running throwaway cluster; [`ThrowawayPostgres::url`] reaches it.
pub struct ThrowawayPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl ThrowawayPostgres {
    /// Creates and starts the cluster (`fsync=off`: it holds test data only).
    pub fn start() -> Result<ThrowawayPostgres, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(|v| v.ok())
                    .map(|v| v.path().join("bin"))
                    .filter(|b| b.join("initdb").exists())
                    .max()
            })
            .ok_or(
                "PostgreSQL's server programs (initdb, pg_ctl) are not installed: \
                 apt-get install postgresql (scripts/test does)",
            )?;
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        if Self::as_root() {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !owned.success() {
                return Err("cannot give the cluster's directory to the postgres user".into());
            }
        }
        let mut cluster = ThrowawayPostgres { dir, bin, port: 0 };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "callwasm", "-A", "trust", "--no-sync"],
        )?;
        let log = cluster.dir.path().join("log").display().to_string();
        // A port the system just handed out and took back; another process may take it
        // meanwhile, so a start that fails is tried again on another.
        let mut last = String::new();
        for _ in 0..3 {
            cluster.port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let options = format!(
                "-c listen_addresses='127.0.0.1' -c port={} -c unix_socket_directories='{}' \
                 -c fsync=off -c max_connections=200",
                cluster.port,
                cluster.dir.path().display()
            );
            match cluster.run(
                "pg_ctl",
                &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
            ) {
                Ok(()) => return Ok(cluster),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn as_root() -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// The cluster's directory (its socket and its log live there).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// One of PostgreSQL's programs, run as the postgres user when this runs as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if Self::as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// libpq's connection string for the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=callwasm dbname=postgres",
            self.port
        )
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
