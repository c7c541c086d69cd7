//! Live bars: one Redis subscription per channel (`bars:{period}:{symbol}`), shared by every
//! Server-Sent-Events client of it. A single task owns the Redis pub/sub connection, subscribes a
//! channel when its first client arrives, unsubscribes when its last one leaves, and reconnects with
//! backoff, telling the clients that bars may have been missed meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use runtime::ops::Backoff;
use tokio::sync::{broadcast, mpsc, watch};

/// What a client of a channel receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// A closed or amended bar, as the producer published it (the contract's bar object).
    Bar(Arc<str>),
    /// The subscription was re-established after Redis went away: bars may have been missed.
    Gap,
}

/// Messages a slow client may fall behind by before it is told it missed some.
const BUFFER: usize = 1024;

/// The shared subscriptions.
pub struct Hub {
    channels: Mutex<HashMap<String, Channel>>,
    commands: mpsc::UnboundedSender<Command>,
    /// Bars forwarded to clients, for `/metrics`.
    pub forwarded: AtomicU64,
    connected: watch::Sender<bool>,
}

struct Channel {
    sender: broadcast::Sender<Live>,
    clients: usize,
}

enum Command {
    Subscribe(String),
    Unsubscribe(String),
}

/// One client's place on a channel; leaving drops the Redis subscription with the last client.
pub struct Watch {
    pub receiver: broadcast::Receiver<Live>,
    channel: String,
    hub: Arc<Hub>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.hub.leave(&self.channel);
    }
}

impl Hub {
    /// The hub and the task that keeps its subscriptions on `client`'s Redis; the task ends when
    /// `stop` turns true.
    pub fn start(client: redis::Client, stop: watch::Receiver<bool>) -> Arc<Hub> {
        let (commands, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub {
            channels: Mutex::new(HashMap::new()),
            commands,
            forwarded: AtomicU64::new(0),
            connected: watch::Sender::new(false),
        });
        tokio::spawn(hub.clone().run(client, rx, stop));
        hub
    }

    /// Joins `channel`, subscribing it in Redis if this is its first client.
    pub fn join(self: &Arc<Hub>, channel: String) -> Watch {
        let mut channels = self.channels.lock().expect("hub lock");
        let entry = channels.entry(channel.clone()).or_insert_with(|| {
            let _ = self.commands.send(Command::Subscribe(channel.clone()));
            Channel { sender: broadcast::channel(BUFFER).0, clients: 0 }
        });
        entry.clients += 1;
        Watch { receiver: entry.sender.subscribe(), channel, hub: self.clone() }
    }

    fn leave(&self, channel: &str) {
        let mut channels = self.channels.lock().expect("hub lock");
        if let Some(entry) = channels.get_mut(channel) {
            entry.clients -= 1;
            if entry.clients == 0 {
                channels.remove(channel);
                let _ = self.commands.send(Command::Unsubscribe(channel.to_owned()));
            }
        }
    }

    /// (clients, channels) now.
    pub fn counts(&self) -> (usize, usize) {
        let channels = self.channels.lock().expect("hub lock");
        (channels.values().map(|c| c.clients).sum(), channels.len())
    }

    /// Whether the pub/sub connection is up.
    pub fn connected(&self) -> bool {
        *self.connected.borrow()
    }

    fn deliver(&self, channel: &str, event: Live) {
        if let Some(entry) = self.channels.lock().expect("hub lock").get(channel) {
            let _ = entry.sender.send(event);
        }
    }

    fn tell_all(&self, event: &Live) {
        for entry in self.channels.lock().expect("hub lock").values() {
            let _ = entry.sender.send(event.clone());
        }
    }

    async fn run(
        self: Arc<Hub>,
        client: redis::Client,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = Backoff::new();
        let mut reconnect = false;
        while !*stop.borrow() {
            match self.session(&client, &mut commands, &mut stop, reconnect).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "live bars: redis pub/sub lost; reconnecting"),
            }
            self.connected.send_replace(false);
            reconnect = true;
            tokio::select! {
                () = tokio::time::sleep(backoff.next_delay()) => {},
                _ = stop.changed() => return,
            }
        }
    }

    /// One pub/sub connection's life: subscribes every channel with clients, then follows commands
    /// and messages until the connection drops (an error) or `stop` (`Ok`).
    async fn session(
        &self,
        client: &redis::Client,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        stop: &mut watch::Receiver<bool>,
        reconnect: bool,
    ) -> redis::RedisResult<()> {
        let (mut sink, mut stream) = client.get_async_pubsub().await?.split();
        let wanted: Vec<String> = self.channels.lock().expect("hub lock").keys().cloned().collect();
        if !wanted.is_empty() {
            sink.subscribe(&wanted).await?;
        }
        self.connected.send_replace(true);
        if reconnect {
            self.tell_all(&Live::Gap);
        }
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Subscribe(channel)) => sink.subscribe(&channel).await?,
                    Some(Command::Unsubscribe(channel)) => sink.unsubscribe(&channel).await?,
                    None => return Ok(()),
                },
                message = stream.next() => {
                    let Some(message) = message else {
                        return Err(redis::RedisError::from(std::io::Error::other("the connection closed")));
                    };
                    if let Ok(payload) = message.get_payload::<String>() {
                        self.forwarded.fetch_add(1, Ordering::Relaxed);
                        self.deliver(message.get_channel_name(), Live::Bar(payload.into()));
                    }
                },
                _ = stop.changed() => return Ok(()),
            }
        }
    }
}
