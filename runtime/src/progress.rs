//! The producer's progress record: how far each shard's producer got (the market date of its latest
//! tick, its committed stream position), a small JSON value under `Keys::producer_progress` that
//! the producer writes with every commit. The other services read this record only, never the
//! producer's own state.

use crate::keys::Keys;
use chrono::NaiveDate;
use common::stream::EntryId;
use redis::aio::ConnectionLike;
use redis::RedisResult;
use serde::{Deserialize, Serialize};

/// One shard's producer, as of its last commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The market date of its latest tick; none before the first.
    pub latest_day: Option<NaiveDate>,
    /// The last stream entry it committed.
    pub position: EntryId,
}

impl Progress {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("progress serializes")
    }

    /// Each shard's record (none where that producer has not committed since it began writing one,
    /// or the record does not read, which is logged); one read per shard, as each shard's keys lie
    /// in a cluster hash slot of their own.
    pub async fn of_each_shard(con: &mut impl ConnectionLike, keys: &Keys) -> RedisResult<Vec<Option<Progress>>> {
        let mut progress = Vec::new();
        for shard in keys.each_shard() {
            let stored: Option<String> = redis::cmd("GET").arg(shard.producer_progress()).query_async(con).await?;
            progress.push(stored.and_then(|text| Progress::decode(&text)));
        }
        Ok(progress)
    }

    fn decode(text: &str) -> Option<Progress> {
        serde_json::from_str(text)
            .inspect_err(|e| tracing::warn!(record = text, error = %e, "an unreadable producer progress record"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_says_what_the_producer_reached() {
        let progress = Progress { latest_day: Some("2026-11-18".parse().unwrap()), position: "17-3".parse().unwrap() };
        assert_eq!(progress.encode(), r#"{"latest_day":"2026-11-18","position":"17-3"}"#);
        assert_eq!(Progress::decode(&progress.encode()), Some(progress));
        assert_eq!(Progress::decode("{}"), None);
    }
}
