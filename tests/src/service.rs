//! A tickbar service binary (`producer`, `consumer`, `query-api`) run as a child process on a free
//! HTTP port with its log in a file: signalled, killed and asked over HTTP by the tests; or a
//! service's work run in-process as a task ([`InProcess`]), asked through its monitor.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, http_get};

/// A tickbar service binary run as a child process with its own HTTP port; killed on drop.
pub struct ServiceProcess {
    pub child: Child,
    pub http: u16,
    name: String,
    log: PathBuf,
    _temp_log: Option<tempfile::NamedTempFile>,
}

impl ServiceProcess {
    /// Runs `binary` with `args`, the environment `env` and `TICKBAR__HTTP__LISTEN` on a free port;
    /// logs at `warn` to a temp file that [`Self::assert_running`] shows when it died.
    pub fn spawn(binary: &str, args: &[&str], env: &[(&str, &str)]) -> ServiceProcess {
        let temp = tempfile::NamedTempFile::new().expect("a log file");
        let mut service = ServiceProcess::spawn_logging(binary, args, env, temp.path(), "warn");
        service._temp_log = Some(temp);
        service
    }

    /// As [`Self::spawn`], logging at `level` (`RUST_LOG`) to the file `log`.
    pub fn spawn_logging(binary: &str, args: &[&str], env: &[(&str, &str)], log: &Path, level: &str) -> ServiceProcess {
        ServiceProcess::spawn_logging_at(binary, args, env, log, level, 0)
    }

    /// [`Self::spawn_logging`] serving HTTP on `port` when it is free (0, or a port taken: a free
    /// one; [`Self::http`] says which).
    pub fn spawn_logging_at(
        binary: &str,
        args: &[&str],
        env: &[(&str, &str)],
        log: &Path,
        level: &str,
        port: u16,
    ) -> ServiceProcess {
        let http = port_or_free(port);
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .env("TICKBAR__HTTP__LISTEN", format!("127.0.0.1:{http}"))
            .env("RUST_LOG", level)
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{binary}: {e}"));
        let name = Path::new(binary).file_name().map_or(binary.into(), |n| n.to_string_lossy().into_owned());
        ServiceProcess { child, http, name, log: log.to_owned(), _temp_log: None }
    }

    /// Panics with the service's log when it has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("a child's status") {
            panic!("the {} exited ({status}): {}", self.name, self.log());
        }
    }

    /// What the service has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and wait for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the service, as `kill -SIGNAL` does.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} {}", self.child.id());
    }

    /// SIGTERM, and the exit status once it has stopped.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("a child's status")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path).await
    }

    /// Waits until `path` answers 200 (panics with the log when the service exits, or after 20 s).
    pub async fn answering(&mut self, path: &str) {
        let started = Instant::now();
        while self.get(path).await.0 != 200 {
            self.assert_running();
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{path} of the {} did not answer: {}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A process's peak resident set (`VmHWM` in /proc, Linux), in MiB, as the load benchmarks print it.
pub fn peak_rss_mib(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok());
    kib.map_or_else(|| "unknown (no /proc)".to_owned(), |kib| format!("{:.1} MiB", kib / 1024.0))
}

/// `port` when it is free on 127.0.0.1, else (or for 0) a free port.
pub fn port_or_free(port: u16) -> u16 {
    let free = port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    if free {
        port
    } else {
        free_port().expect("a free port")
    }
}

/// A service's work run in-process as a task, with the monitor it reports to: stopped as SIGTERM
/// stops the binary, or ended where it stands as SIGKILL does.
pub struct InProcess<M> {
    pub monitor: std::sync::Arc<M>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl<M: runtime::ops::Ops> InProcess<M> {
    /// Spawns `work`, given the stop flag, beside `monitor`.
    pub fn spawn<W: std::future::Future<Output = ()> + Send + 'static>(
        monitor: std::sync::Arc<M>,
        work: impl FnOnce(tokio::sync::watch::Receiver<bool>) -> W,
    ) -> InProcess<M> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        InProcess { monitor, stop, task: tokio::spawn(work(stopped)) }
    }

    /// The monitor's `/api/status` figures, probed now.
    pub async fn status(&self) -> serde_json::Value {
        self.monitor.probe().await;
        serde_json::to_value(self.monitor.status()).expect("a status serializes")
    }

    /// Stops it as SIGTERM does, and waits until it has.
    pub async fn stop(self) {
        self.stop.send(true).expect("the service listens for its stop");
        self.task.await.expect("the service ended without a panic");
    }

    /// Ends it where it stands, as SIGKILL does: nothing more is written.
    pub fn kill(self) {
        self.task.abort();
    }
}
