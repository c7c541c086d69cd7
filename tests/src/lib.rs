//! The real-server test harness: each test starts its own `redis-server` and `clickhouse-server`
//! on free loopback ports with data in a temp dir, waits until they answer, and tears them down on
//! drop. Nothing touches the shared default ports, so tests run in parallel.
//!
//! It also generates seed-era history bars for the consumer's tests and load benchmark, and writes
//! bars where the producer (Redis) and the consumer (ClickHouse) would, for the query API's tests.
//!
//! [`clock::SetClock`] is the clock live tests set for the services and their feeders.
//!
//! Binaries come from `PATH`, or from `TICKBAR_REDIS_SERVER` / `TICKBAR_CLICKHOUSE_SERVER`.
//! Current ClickHouse ships one `clickhouse` binary; it is run as `clickhouse server`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::keys::Keys;
use common::time::day_number;
use common::{Bar, Period, Sessions, TradingCalendar};
use runtime::clickhouse::BarRow;
use tempfile::TempDir;

pub mod clock;
pub mod stack;

/// Why a test server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{binary} not found: install it (Debian: apt-get install -y {package}) or set {env} to its path")]
    MissingBinary { binary: &'static str, package: &'static str, env: &'static str },
    #[error("could not start {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{what} did not answer within {seconds} s; its log: {log}")]
    NotReady { what: &'static str, seconds: u64, log: String },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("writing bars: {0}")]
    Store(String),
}

type Result<T> = std::result::Result<T, HarnessError>;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("a free port"))?;
    Ok(listener.local_addr().map_err(io("a free port"))?.port())
}

/// A workspace binary (`producer`, `consumer`, `query-api`) built beside the running test, which
/// `cargo test --workspace` does: a test binary runs from `target/<profile>/deps`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe.parent().and_then(|deps| deps.parent()).expect("a target directory").join(name);
    assert!(path.is_file(), "{} is missing: run `cargo build --workspace` first", path.display());
    path
}

/// Finds `binary` on `PATH` (or the path in `env`).
fn locate(binary: &'static str, package: &'static str, env: &'static str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
        .ok_or(HarnessError::MissingBinary { binary, package, env })
}

/// Where a server keeps its data: a temp dir removed on drop, or a directory that stays.
enum DataDir {
    Temp(TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn new(kept: Option<&Path>) -> Result<DataDir> {
        match kept {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(io(dir.display().to_string()))?;
                Ok(DataDir::Kept(dir.to_owned()))
            }
            None => Ok(DataDir::Temp(tempfile::tempdir().map_err(io("a temp dir"))?)),
        }
    }

    fn path(&self) -> &Path {
        match self {
            DataDir::Temp(dir) => dir.path(),
            DataDir::Kept(dir) => dir,
        }
    }
}

/// A child process killed (and reaped) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `ready` until it answers or `limit` passes.
async fn wait_until<F, Fut>(what: &'static str, limit: Duration, log: &Path, mut ready: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(log).unwrap_or_else(|e| format!("(unreadable: {e})"));
    Err(HarnessError::NotReady { what, seconds: limit.as_secs(), log })
}

/// A private `redis-server`.
pub struct RedisServer {
    port: u16,
    /// Every write fsynced to an append-only file, so a restart (even after SIGKILL) keeps it all.
    aof: bool,
    process: Option<Guard>,
    dir: DataDir,
}

impl RedisServer {
    pub async fn start() -> Result<RedisServer> {
        RedisServer::start_in(None).await
    }

    /// Starts a server with its files in `dir` (kept), or in a temp dir; nothing kept on disk.
    pub async fn start_in(dir: Option<&Path>) -> Result<RedisServer> {
        let mut server = RedisServer { port: free_port()?, aof: false, process: None, dir: DataDir::new(dir)? };
        server.launch().await?;
        Ok(server)
    }

    /// Starts a server whose every write is in its append-only file (`appendfsync always`), as a
    /// production Redis under tickbar runs, for tests that restart it.
    pub async fn start_durable() -> Result<RedisServer> {
        let mut server = RedisServer { port: free_port()?, aof: true, process: None, dir: DataDir::new(None)? };
        server.launch().await?;
        Ok(server)
    }

    /// Starts the server process (again, after [`Self::stop`]) on its port, with what its files hold.
    pub async fn launch(&mut self) -> Result<()> {
        let binary = locate("redis-server", "redis-server", "TICKBAR_REDIS_SERVER")?;
        let log = self.dir.path().join("redis.log");
        let aof: &[&str] =
            if self.aof { &["--appendonly", "yes", "--appendfsync", "always"] } else { &["--appendonly", "no"] };
        let child = Command::new(binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(aof)
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("redis-server"))?;
        self.process = Some(Guard(child));
        let client = redis::Client::open(self.url()).expect("a valid URL");
        wait_until("redis-server", Duration::from_secs(20), &log, || {
            let client = client.clone();
            async move {
                match client.get_multiplexed_async_connection().await {
                    Ok(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server process (SIGKILL); [`Self::launch`] starts it again on the same port.
    pub fn stop(&mut self) {
        self.process = None;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A connection for a test's own reads and writes. Its replies may take up to 30 s: redis's
    /// default of 500 ms is too short while a busy service and ClickHouse share the machine.
    pub async fn connect(&self) -> Result<redis::aio::MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
        let client = redis::Client::open(self.url()).map_err(|e| HarnessError::Store(e.to_string()))?;
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| HarnessError::Store(e.to_string()))
    }
}

/// A private `clickhouse-server` (Debian's 18.16 or a current one).
pub struct ClickHouseServer {
    http_port: u16,
    process: Option<Guard>,
    dir: DataDir,
}

impl ClickHouseServer {
    pub async fn start() -> Result<ClickHouseServer> {
        ClickHouseServer::start_in(None).await
    }

    /// Starts a server with its files in `dir` (kept), or in a temp dir.
    pub async fn start_in(dir: Option<&Path>) -> Result<ClickHouseServer> {
        let dir = DataDir::new(dir)?;
        let mut server = ClickHouseServer { http_port: 0, process: None, dir };
        server.launch().await?;
        Ok(server)
    }

    /// Starts the server process (again, after [`Self::stop`]) on fresh ports, keeping its data.
    pub async fn launch(&mut self) -> Result<()> {
        let (program, args) = match locate("clickhouse-server", "clickhouse-server", "TICKBAR_CLICKHOUSE_SERVER") {
            Ok(path) => (path, vec![]),
            Err(missing) => (
                locate("clickhouse", "clickhouse-server", "TICKBAR_CLICKHOUSE_SERVER").map_err(|_| missing)?,
                vec!["server"],
            ),
        };
        if self.http_port == 0 {
            self.http_port = free_port()?;
        }
        let config = self.write_config(free_port()?)?;
        let child = Command::new(program)
            .args(args)
            .arg(format!("--config-file={}", config.display()))
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(io("clickhouse-server"))?;
        self.process = Some(Guard(child));
        let client = self.client();
        wait_until("clickhouse-server", Duration::from_secs(60), &self.dir.path().join("server.err.log"), || {
            let client = client.clone();
            async move { client.query("SELECT 1").fetch_one::<u8>().await.is_ok() }
        })
        .await
    }

    /// Stops the server process, keeping its data for [`Self::launch`].
    pub fn stop(&mut self) {
        self.process = None;
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// A client of this server; `with_validation(false)` because 18.16 does not send column types.
    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default().with_url(self.url()).with_validation(false)
    }

    fn write_config(&self, tcp_port: u16) -> Result<PathBuf> {
        let dir = self.dir.path();
        let path = |name: &str| dir.join(name).display().to_string();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{log}</log><errorlog>{err}</errorlog><console>0</console></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>{data}/</path>
    <tmp_path>{tmp}/</tmp_path>
    <user_files_path>{files}/</user_files_path>
    <format_schema_path>{schemas}/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>Asia/Shanghai</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
"#,
            log = path("server.log"),
            err = path("server.err.log"),
            http = self.http_port,
            data = path("data"),
            tmp = path("tmp"),
            files = path("user_files"),
            schemas = path("format_schemas"),
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;
        std::fs::write(dir.join("users.xml"), users).map_err(io("users.xml"))?;
        let file = dir.join("config.xml");
        std::fs::write(&file, config).map_err(io("config.xml"))?;
        Ok(file)
    }
}

/// A private Redis and ClickHouse, started side by side, with their files under `dir/redis` and
/// `dir/clickhouse` (kept), or in temp dirs.
pub async fn start_stores(dir: Option<&Path>) -> Result<(RedisServer, ClickHouseServer)> {
    let kept = |name: &str| dir.map(|d| d.join(name));
    let (redis_dir, clickhouse_dir) = (kept("redis"), kept("clickhouse"));
    let (redis, clickhouse) = tokio::join!(
        RedisServer::start_in(redis_dir.as_deref()),
        ClickHouseServer::start_in(clickhouse_dir.as_deref())
    );
    Ok((redis?, clickhouse?))
}

pub use runtime::clickhouse::schema_statements;

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
        let http = free_port().expect("a free port");
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

/// A bar object in the seed-era shape: frame with a space; prices alternately numbers and strings.
pub fn seed_bar(symbol: &str, frame: &str, n: u64) -> String {
    let open = 1000 + n % 97;
    let close = 1000 + n % 89;
    let (high, low) = (open.max(close) + 3, open.min(close) - 2);
    let price = |cents: u64| format!("{}.{:02}", cents / 100, cents % 100);
    let vol = 100 * (1 + n % 500);
    if n.is_multiple_of(2) {
        format!(
            r#"{{"symbol":"{symbol}","frame":"{frame}","open":{},"high":{},"low":{},"close":{},"vol":{vol},"amount":{}.5}}"#,
            price(open),
            price(high),
            price(low),
            price(close),
            vol * 10
        )
    } else {
        format!(
            r#"{{"symbol":"{symbol}","frame":"{frame}","open":"{}","high":"{}","low":"{}","close":"{}","vol":"{vol}","amount":"{}.25"}}"#,
            price(open),
            price(high),
            price(low),
            price(close),
            vol * 10
        )
    }
}

/// `n` distinct history bars with their periods, oldest first: every frame of the grid of `symbols`
/// over trading days from 2023-01-03, each symbol-day's five periods together, cut at exactly `n`.
pub fn history(n: usize, symbols: &[String]) -> Vec<(Period, String)> {
    let calendar = TradingCalendar::bundled();
    let sessions = Sessions::new(common::Layout::default());
    let days = calendar.trading_days("2023-01-03".parse().unwrap(), "2026-12-31".parse().unwrap()).unwrap();
    let mut out = Vec::with_capacity(n);
    for day in days {
        for symbol in symbols {
            let grid = sessions.grid(symbol.parse().unwrap());
            for period in Period::ALL {
                for frame in grid.frames(day_number(day), period) {
                    if out.len() == n {
                        return out;
                    }
                    out.push((period, seed_bar(symbol, &frame.to_string(), out.len() as u64)));
                }
            }
        }
    }
    out
}

/// An HTTP answer: status, the header block and the body.
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// `GET path` with extra request `headers` on a loopback port; status 0 and the error as the body
/// when nothing answers.
pub async fn http_request(port: u16, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{extra}\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = match exchange.await {
        Ok(r) => r,
        Err(e) => return HttpResponse { body: e.to_string(), ..HttpResponse::default() },
    };
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    HttpResponse { status, head: head.to_owned(), body: body.to_owned() }
}

/// Writes `bars` of `period` into the bars table of `database`, as the consumer does (version 1).
pub async fn write_history(client: &clickhouse::Client, database: &str, period: Period, bars: &[Bar]) -> Result<()> {
    let failed = |e: clickhouse::error::Error| HarnessError::Store(e.to_string());
    let client = client.clone().with_database(database);
    let mut insert = client.insert::<BarRow>(runtime::clickhouse::TABLE).await.map_err(failed)?;
    for bar in bars {
        let row = BarRow::new(bar, period, 1).map_err(|e| HarnessError::Store(e.to_string()))?;
        insert.write(&row).await.map_err(failed)?;
    }
    insert.end().await.map_err(failed)
}

/// Writes `bars` of `period` into Redis as closed bars of their days and records the days as held,
/// as the producer does.
pub async fn write_same_day(
    con: &mut redis::aio::MultiplexedConnection,
    keys: &Keys,
    period: Period,
    bars: &[Bar],
) -> Result<()> {
    let mut pipe = redis::pipe();
    for bar in bars {
        let key = keys.day_bars(bar.frame.date(), period, bar.symbol);
        let score = bar.frame.epoch_seconds();
        let json = serde_json::to_string(bar).map_err(|e| HarnessError::Store(e.to_string()))?;
        pipe.zrembyscore(&key, score, score).ignore();
        pipe.zadd(key, json, score).ignore();
        pipe.sadd(keys.days_held(), bar.frame.date().to_string()).ignore();
    }
    pipe.query_async::<()>(con).await.map_err(|e| HarnessError::Store(e.to_string()))
}

/// Every bar of `symbol`'s grid on `day` for `period` in the seed-era numbers; `variant` changes
/// them, so that the same frame from two stores can be told apart.
pub fn day_bars(symbol: &str, day: NaiveDate, period: Period, variant: u64) -> Vec<Bar> {
    let sessions = Sessions::new(common::Layout::default());
    let grid = sessions.grid(symbol.parse().expect("a valid symbol"));
    grid.frames(day_number(day), period)
        .enumerate()
        .map(|(i, frame)| {
            let json = seed_bar(symbol, &frame.to_string(), i as u64 + 7 * variant);
            serde_json::from_str(&json).expect("seed bars parse")
        })
        .collect()
}

/// `GET path` on a loopback port: the status code and body, or `(0, why)` when nothing answers.
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    let r = http_request(port, path, &[]).await;
    (r.status, r.body)
}

/// The page at `url` as headless Chromium renders it after its scripts ran for `budget_ms` of
/// virtual time: the DOM, serialised.
pub fn chromium_dom(url: &str, budget_ms: u32) -> Result<String> {
    let binary = locate("chromium", "chromium", "TICKBAR_CHROMIUM")
        .or_else(|_| locate("chromium-browser", "chromium", "TICKBAR_CHROMIUM"))?;
    let profile = TempDir::new().map_err(io("a chromium profile dir"))?;
    let output = Command::new(binary)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(["--dump-dom", url])
        .stderr(Stdio::null())
        .output()
        .map_err(io("chromium"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The text of the element with `id="id"` in a serialised DOM (up to its first child tag).
pub fn element_text(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let text = &dom[start..];
    text[text.find('>').expect("a tag end") + 1..text.find('<').expect("a next tag")].to_owned()
}

/// `n` with thousands separators, as the monitor pages print counts (`1,234,567`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_print_with_thousands_separators_and_elements_by_id() {
        assert_eq!([thousands(7), thousands(1_000), thousands(1_234_567)], ["7", "1,000", "1,234,567"]);
        assert_eq!(element_text(r#"<div id="redis" class="up">up</div>"#, "redis"), "up");
    }

    #[test]
    fn a_missing_binary_is_named_with_how_to_install_it() {
        let err = locate("no-such-server-binary", "no-such-package", "TICKBAR_NO_SUCH_SERVER").unwrap_err().to_string();
        assert!(err.contains("no-such-server-binary") && err.contains("apt-get install -y no-such-package"), "{err}");
    }
}
