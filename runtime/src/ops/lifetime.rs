//! A service's lifetime: its HTTP port bound, and the stop that SIGTERM or SIGINT (on Windows the
//! service manager's stop, which arrives as Ctrl-C) asks for.

use axum::Router;

/// A started service's lifetime: its HTTP port bound and the stop flag that SIGTERM or SIGINT
/// turns true. Each service binds, builds its work around [`Lifetime::stop`], then serves.
pub struct Lifetime {
    listener: tokio::net::TcpListener,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Lifetime {
    /// Binds `listen` and starts waiting for the stop signal.
    pub async fn start(listen: std::net::SocketAddr) -> Result<Lifetime, crate::Error> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| crate::Error::Listen { addr: listen, source })?;
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        Ok(Lifetime { listener, stop })
    }

    /// Turns true when the service is asked to stop.
    pub fn stop(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.clone()
    }

    /// Serves `router` until the stop, then lets open requests finish; the task ends with it.
    pub fn serve(self, router: Router) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let mut stop = self.stop;
        let shutdown = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        tokio::spawn(async move { axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await })
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C; on Windows the service manager's stop arrives as Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
