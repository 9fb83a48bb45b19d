//! A private PostgreSQL cluster under the data directory, for `favcrm serve` with no
//! `DATABASE_URL` and for the test suite.
//!
//! It listens only on a Unix socket in a directory only its OS user can enter (no TCP port
//! to collide with, nobody else can connect), so local connections use `trust`. PostgreSQL
//! refuses to run as root; as root the cluster runs as `postgres` (or `nobody`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// The superuser initdb creates; only reachable through the private socket.
pub const SUPERUSER: &str = "postgres";
const PORT: u16 = 5432;
/// Longest socket path we allow (the kernel limit is about 107 bytes).
const MAX_SOCKET_PATH: usize = 100;

/// Settings that trade durability for speed; only the test suite uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Durable,
    Ephemeral,
}

#[derive(Debug)]
pub struct EmbeddedCluster {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<String>,
    /// Stopped by [`EmbeddedCluster::stop`]: this process started it, or (a server) adopted it.
    owned: bool,
    /// A server's hold on the data directory, for as long as it runs.
    _serve_lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// The file a running `favcrm serve` keeps locked in its data directory.
const SERVE_LOCK: &str = "serve.lock";

impl EmbeddedCluster {
    /// Creates the cluster on first use, starts it unless it is already running (a server
    /// or another command may have it up), and returns a handle.
    pub fn start(data_dir: &Path, durability: Durability) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let pgdata = data_dir.join("pg");
        let run_as = if nix::unistd::geteuid().is_root() { Some(unprivileged_user()?) } else { None };
        let socket_dir = socket_dir_for(&data_dir);
        let cluster = Self { pgdata, socket_dir, bin_dir, run_as, owned: false, _serve_lock: None };
        cluster.prepare_dirs(&data_dir)?;
        if !cluster.pgdata.join("PG_VERSION").exists() {
            cluster.initdb(durability)?;
        }
        if cluster.is_running() {
            tracing::info!(pgdata = %cluster.pgdata.display(), "reusing the running embedded PostgreSQL");
            return Ok(cluster);
        }
        cluster.pg_ctl_start(&data_dir)?;
        Ok(Self { owned: true, ..cluster })
    }

    /// For `favcrm serve`: creates the cluster on first use and owns it, whether it starts it
    /// or finds it left running by a server that died (killed, or the machine's power), and
    /// stops it when it stops. A second server on the same data directory is refused.
    pub fn serve(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(data_dir.join(SERVE_LOCK))
            .with_context(|| format!("opening {}", data_dir.join(SERVE_LOCK).display()))?;
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
            anyhow::anyhow!(
                "another favcrm server is running on the data directory {}: stop it first, or give this one \
                 its own FAVCRM_DATA_DIR",
                absolute(data_dir).display()
            )
        })?;
        let cluster = Self::start(data_dir, Durability::Durable)?;
        if !cluster.owned {
            tracing::warn!(
                pgdata = %cluster.pgdata.display(),
                "adopting the embedded PostgreSQL left running by a server that did not stop it; it stops with this one"
            );
        }
        Ok(Self { owned: true, _serve_lock: Some(lock), ..cluster })
    }

    /// For commands beside a server (`admin`, `migrate`, `policies`): the cluster must exist
    /// already (a command run from the wrong folder would otherwise make a new, empty one and
    /// hand out keys the server never sees). Starts it if no server has it up, and then stops
    /// it again; a running one is left alone.
    pub fn existing(data_dir: &Path) -> anyhow::Result<Self> {
        if !data_dir.join("pg/PG_VERSION").exists() {
            bail!(
                "there is no favcrm database in {}: `favcrm serve` creates it there on its first start. Run this \
                 command from the folder the server runs in, set FAVCRM_DATA_DIR to the server's data directory \
                 (by default ./.favcrm where it was started), or set DATABASE_URL.",
                absolute(data_dir).display()
            );
        }
        Self::start(data_dir, Durability::Durable)
    }

    /// A connection config for `user` on `dbname` through the private socket.
    pub fn config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config.host_path(&self.socket_dir).port(PORT).user(user).dbname(dbname);
        config
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Stops the cluster if this handle owns it. A cluster that was already running when we
    /// came (for example the server's, during `favcrm admin`) is left alone.
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.owned {
            return Ok(());
        }
        self.stop_now()
    }

    /// Stops the cluster whoever started it.
    pub fn stop_now(&self) -> anyhow::Result<()> {
        let status = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-t", "60"])
            .stdout(Stdio::null())
            .status()
            .context("running pg_ctl stop")?;
        if !status.success() && self.is_running() {
            bail!("pg_ctl stop failed for {}", self.pgdata.display());
        }
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.pgdata)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn prepare_dirs(&self, data_dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.socket_dir)?;
        std::fs::set_permissions(&self.socket_dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &self.run_as {
            let account = nix::unistd::User::from_name(user)?.context("user vanished")?;
            for dir in [data_dir, self.socket_dir.as_path()] {
                nix::unistd::chown(dir, Some(account.uid), Some(account.gid))
                    .with_context(|| format!("giving {} to {user}", dir.display()))?;
            }
            if self.pgdata.exists() {
                nix::unistd::chown(&self.pgdata, Some(account.uid), Some(account.gid))?;
            }
            // Every parent must be enterable by that user (a checkout under /root is not).
            let probe = Command::new("runuser")
                .args(["-u", user, "--", "test", "-w"])
                .arg(data_dir)
                .status()
                .context("running runuser (util-linux) to check the data directory")?;
            if !probe.success() {
                bail!(
                    "PostgreSQL cannot run as root, so the embedded cluster runs as the OS user '{user}', \
                     who cannot reach {}: one of its parent folders is closed to other users (for example /root is 0700). \
                     Set FAVCRM_DATA_DIR to a folder '{user}' can enter, such as /var/lib/favcrm or /tmp/favcrm, \
                     or set DATABASE_URL to use an existing PostgreSQL server.",
                    data_dir.display()
                );
            }
        }
        Ok(())
    }

    fn initdb(&self, durability: Durability) -> anyhow::Result<()> {
        tracing::info!(pgdata = %self.pgdata.display(), "creating the embedded PostgreSQL cluster");
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.pgdata).args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"]);
        if durability == Durability::Ephemeral {
            cmd.arg("--no-sync");
        }
        let out = cmd.output().context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut conf = String::from(
            "\n# favcrm: private cluster, Unix socket only\nlisten_addresses = ''\nunix_socket_permissions = 0700\nmax_connections = 200\ntimezone = 'UTC'\n",
        );
        if durability == Durability::Ephemeral {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.pgdata.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&path)?;
        existing.push_str(&conf);
        std::fs::write(&path, existing)?;
        Ok(())
    }

    fn pg_ctl_start(&self, data_dir: &Path) -> anyhow::Result<()> {
        let log = data_dir.join("postgres.log");
        if let Some(user) = &self.run_as {
            // The log file must be writable by the cluster's user.
            std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
            let account = nix::unistd::User::from_name(user)?.context("user vanished")?;
            nix::unistd::chown(&log, Some(account.uid), Some(account.gid))?;
        }
        let options = format!("-k '{}' -p {PORT}", self.socket_dir.display());
        let out = self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options])
            // Its own process group: Ctrl-C reaches us, and we stop the cluster in order.
            .process_group(0)
            .stdout(Stdio::null())
            .output()
            .context("running pg_ctl start")?;
        if !out.status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(15).collect();
            bail!(
                "PostgreSQL did not start ({}):\n{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tracing::info!(socket = %self.socket_dir.display(), "embedded PostgreSQL started");
        Ok(())
    }

    /// Stops the cluster (immediately) and removes `remove` once process `pid` has exited.
    /// The test suite uses this so that a run leaves no cluster behind, however it ends.
    pub fn stop_when_process_exits(&self, pid: u32, remove: &Path) -> anyhow::Result<()> {
        let runuser = self.run_as.as_ref().map(|u| format!("runuser -u {u} -- ")).unwrap_or_default();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runuser}'{pg_ctl}' stop -D '{pgdata}' -m immediate; rm -rf '{remove}' '{socket}'",
            pg_ctl = self.bin_dir.join("pg_ctl").display(),
            pgdata = self.pgdata.display(),
            remove = remove.display(),
            socket = self.socket_dir.display(),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the cluster watchdog")?;
        Ok(())
    }

    /// A command for one of the PostgreSQL programs, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }
}

/// Where the PostgreSQL server programs are: on PATH, from `pg_config --bindir`, or the
/// newest under /usr/lib/postgresql/*/bin.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_all = |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|p| dir.join(p).is_file());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                // Resolve a symlinked initdb so that pg_ctl finds its postgres beside it.
                let real = dir.join("initdb").canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf));
                return Ok(real.filter(|d| has_all(d)).unwrap_or(dir));
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_all(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has_all(dir))
        .collect();
    candidates.sort();
    if let Some((_, dir)) = candidates.pop() {
        return Ok(dir);
    }
    bail!(
        "No PostgreSQL server programs (initdb, pg_ctl, postgres) were found on PATH, through pg_config, \
         or under /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`; \
         macOS: `brew install postgresql@16`), or set DATABASE_URL to use an existing server."
    )
}

fn unprivileged_user() -> anyhow::Result<String> {
    for name in ["postgres", "nobody"] {
        if nix::unistd::User::from_name(name)?.is_some() {
            return Ok(name.to_string());
        }
    }
    bail!("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `<data>/run` when the socket path fits, else a short folder under /tmp named by a hash of
/// the data directory (so every command that uses the same data directory finds it).
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let preferred = data_dir.join("run");
    if preferred.join(format!(".s.PGSQL.{PORT}")).as_os_str().len() <= MAX_SOCKET_PATH {
        return preferred;
    }
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    std::env::temp_dir().join(format!("favcrm-{}", &hex::encode(digest)[..16]))
}
