//! Live bars: one Redis subscription per channel (`bars:{period}:{symbol}`; sharded, `SSUBSCRIBE`,
//! in a cluster), shared by every
//! Server-Sent-Events client of it. A single task owns the Redis pub/sub connection, subscribes a
//! channel when its first client arrives, unsubscribes when its last one leaves, and reconnects with
//! backoff, telling the clients that bars may have been missed meanwhile. Another task reads the
//! forming bar of every channel with clients every [`FORMING_EVERY`] (the producer keeps it in the
//! day's hash, unpublished) and delivers it when it changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use common::{Period, Symbol};
use runtime::backoff::Backoff;
use runtime::clock::Clock;
use runtime::redis::Connection;
use tokio::sync::{broadcast, mpsc, watch};

use crate::store::redis::SameDay;

/// How often the forming bars of the watched channels are read.
pub const FORMING_EVERY: Duration = Duration::from_secs(1);

/// What a client of a channel receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// A closed or amended bar, as the producer published it (the contract's bar object).
    Bar(Arc<str>),
    /// The bar forming now, when it changed (the contract's bar object).
    Forming(Arc<str>),
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
    watched: (Period, Symbol),
    /// The forming bar last delivered.
    forming: Option<String>,
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
    /// The hub and the task that keeps its subscriptions on the Redis master of `redis` (found anew
    /// at each reconnection, so it follows a Sentinel failover); the task ends when
    /// `stop` turns true.
    pub fn start(redis: Connection, stop: watch::Receiver<bool>) -> Arc<Hub> {
        let (commands, rx) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub {
            channels: Mutex::new(HashMap::new()),
            commands,
            forwarded: AtomicU64::new(0),
            connected: watch::Sender::new(false),
        });
        tokio::spawn(hub.clone().run(redis, rx, stop));
        hub
    }

    /// Joins `channel`, the bars of `period` and `symbol`, subscribing it in Redis if this is its
    /// first client.
    pub fn join(self: &Arc<Hub>, channel: String, period: Period, symbol: Symbol) -> Watch {
        let mut channels = self.channels.lock();
        let entry = channels.entry(channel.clone()).or_insert_with(|| {
            let _ = self.commands.send(Command::Subscribe(channel.clone()));
            Channel { sender: broadcast::channel(BUFFER).0, clients: 0, watched: (period, symbol), forming: None }
        });
        entry.clients += 1;
        Watch { receiver: entry.sender.subscribe(), channel, hub: self.clone() }
    }

    fn leave(&self, channel: &str) {
        let mut channels = self.channels.lock();
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
        let channels = self.channels.lock();
        (channels.values().map(|c| c.clients).sum(), channels.len())
    }

    /// Whether the pub/sub connection is up.
    pub fn connected(&self) -> bool {
        *self.connected.borrow()
    }

    fn deliver(&self, channel: &str, event: Live) {
        if let Some(entry) = self.channels.lock().get(channel) {
            let _ = entry.sender.send(event);
        }
    }

    /// Reads the forming bars of the channels with clients every [`FORMING_EVERY`], on the trading
    /// day of the clock, until `stop`; a read that fails is tried again at the next turn.
    pub fn follow_forming(self: &Arc<Hub>, same_day: Arc<SameDay>, clock: Clock, mut stop: watch::Receiver<bool>) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(FORMING_EVERY) => {},
                    _ = stop.changed() => return,
                }
                let watched: Vec<(String, (Period, Symbol))> =
                    hub.channels.lock().iter().map(|(name, c)| (name.clone(), c.watched)).collect();
                if watched.is_empty() {
                    continue;
                }
                let day = clock.today();
                let pairs: Vec<(Period, Symbol)> = watched.iter().map(|(_, w)| *w).collect();
                match same_day.forming_on(day, &pairs).await {
                    Ok(bars) => hub.deliver_forming(watched.into_iter().map(|(name, _)| name).zip(bars)),
                    Err(e) => tracing::debug!(error = %e, "live bars: forming bars not read"),
                }
            }
        });
    }

    /// Delivers each channel's forming bar that differs from the one it was last given.
    fn deliver_forming(&self, bars: impl Iterator<Item = (String, Option<String>)>) {
        let mut channels = self.channels.lock();
        for (name, bar) in bars {
            let Some(entry) = channels.get_mut(&name) else { continue };
            if let Some(json) = bar.filter(|b| entry.forming.as_ref() != Some(b)) {
                let _ = entry.sender.send(Live::Forming(json.as_str().into()));
                entry.forming = Some(json);
            }
        }
    }

    fn tell_all(&self, event: &Live) {
        for entry in self.channels.lock().values() {
            let _ = entry.sender.send(event.clone());
        }
    }

    async fn run(
        self: Arc<Hub>,
        redis: Connection,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut backoff = Backoff::new();
        let mut reconnect = false;
        while !*stop.borrow() {
            match self.session(&redis, &mut commands, &mut stop, reconnect).await {
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
        redis: &Connection,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        stop: &mut watch::Receiver<bool>,
        reconnect: bool,
    ) -> redis::RedisResult<()> {
        let mut feed = redis.subscriber().await?;
        let wanted: Vec<String> = self.channels.lock().keys().cloned().collect();
        feed.subscribe(&wanted).await?;
        self.connected.send_replace(true);
        if reconnect {
            self.tell_all(&Live::Gap);
        }
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Subscribe(channel)) => feed.subscribe(&[channel]).await?,
                    Some(Command::Unsubscribe(channel)) => feed.unsubscribe(&channel).await?,
                    None => return Ok(()),
                },
                message = feed.next() => {
                    let (channel, payload) = message?;
                    self.forwarded.fetch_add(1, Ordering::Relaxed);
                    self.deliver(&channel, Live::Bar(payload.into()));
                },
                _ = stop.changed() => return Ok(()),
            }
        }
    }
}
