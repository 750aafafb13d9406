//! A PostgreSQL cluster of its own, for the tests and the bench that need a real shared store:
//! `initdb` in a temporary directory, `pg_ctl start` on a Unix socket in that directory (no
//! TCP port, so nothing collides with another cluster), stopped and removed when dropped.
//! Needs Debian's `postgresql` package (its server programs live in
//! /usr/lib/postgresql/<version>/bin; scripts/test installs it when missing).

use std::path::PathBuf;
use std::process::Command;

/// A running throwaway cluster; [`ThrowawayPostgres::url`] reaches it.
pub struct ThrowawayPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
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
        let cluster = ThrowawayPostgres { dir, bin };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "callwasm", "-A", "trust", "--no-sync"],
        )?;
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c fsync=off -c max_connections=200",
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("log").display().to_string();
        cluster.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        )?;
        Ok(cluster)
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
            "host={} user=callwasm dbname=postgres",
            self.dir.path().display()
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
