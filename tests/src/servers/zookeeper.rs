//! A private ZooKeeper for ClickHouse replicas.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::{free_port, io, locate, HarnessError, Result};

use super::{first_launch, wait_until, DataDir, Guard, Launch};

/// A private ZooKeeper (Debian's `zookeeper`, run with the machine's `java`), standalone, for
/// ClickHouse replicas.
pub struct ZooKeeper {
    pub(super) port: u16,
    process: Option<Guard>,
    dir: DataDir,
}

/// Where Debian's `zookeeper` package puts its classes (`TICKBAR_ZOOKEEPER_JAR` elsewhere).
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

impl ZooKeeper {
    /// Starts one on a free port, once it serves clients.
    pub async fn start() -> Result<ZooKeeper> {
        first_launch(ZooKeeper { port: 0, process: None, dir: DataDir::new(None)? }).await
    }
}

impl Launch for ZooKeeper {
    fn take_ports(&mut self) -> Result<()> {
        self.port = free_port()?;
        Ok(())
    }

    async fn launch(&mut self) -> Result<()> {
        let java = locate("java", "default-jre-headless", "TICKBAR_JAVA")?;
        let jar = std::env::var("TICKBAR_ZOOKEEPER_JAR").unwrap_or_else(|_| ZOOKEEPER_JAR.into());
        if !Path::new(&jar).is_file() {
            let missing = ("zookeeper.jar", "zookeeper", "TICKBAR_ZOOKEEPER_JAR");
            return Err(HarnessError::MissingBinary { binary: missing.0, package: missing.1, env: missing.2 });
        }
        let dir = self.dir.path();
        let config = format!(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={data}\nclientPort={port}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n",
            data = dir.join("data").display(),
            port = self.port,
        );
        std::fs::write(dir.join("zoo.cfg"), config).map_err(io("zoo.cfg"))?;
        let log = dir.join("zookeeper.log");
        let out = std::fs::File::create(&log).map_err(io("zookeeper.log"))?;
        let child = Command::new(java)
            .args(["-Xmx256m", "-cp", &format!("/etc/zookeeper/conf:{jar}")])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(dir.join("zoo.cfg"))
            .stdout(out.try_clone().map_err(io("zookeeper.log"))?)
            .stderr(out)
            .spawn()
            .map_err(io("zookeeper"))?;
        let port = self.port;
        let process = self.process.insert(Guard(child));
        wait_until("zookeeper", Duration::from_secs(60), &log, process, || async move { serving(port).await }).await
    }
}

/// Whether the ZooKeeper on `port` serves clients: `srvr` names its mode only once it does (`ruok`
/// answers `imok` earlier, while it still drops the sessions it is asked for).
async fn serving(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return false };
    let mut answer = String::new();
    stream.write_all(b"srvr").await.is_ok()
        && stream.read_to_string(&mut answer).await.is_ok()
        && answer.contains("Mode: standalone")
}
