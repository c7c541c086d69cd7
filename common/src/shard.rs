//! Which shard a symbol belongs to: the one stable hash the bridge, `replay`, the producer, the
//! query API, the consumer's cleanup and ClickHouse's Distributed table all use.
//!
//! The hash is ClickHouse's `halfMD5(symbol)`: the first 8 bytes of the MD5 of the symbol's text
//! (`600519.SH`), read big-endian. A Distributed table sharded by `halfMD5(symbol)` over shards of
//! weight 1 puts a symbol on shard `hash % N` in `remote_servers` order, the same index as here.
//! `qmt_bridge.shard_of` (`deploy/qmt/qmt_bridge.py`) is the Python twin.

use md5::{Digest, Md5};

use crate::symbol::Symbol;

/// `halfMD5(text)` as ClickHouse computes it.
pub fn half_md5(text: &str) -> u64 {
    let digest = Md5::digest(text.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("an MD5 digest has 16 bytes"))
}

/// The shard of `symbol` among `shards` (0-based); every symbol is on shard 0 of 1.
pub fn shard_of(symbol: Symbol, shards: u16) -> u16 {
    if shards <= 1 {
        return 0;
    }
    let index = half_md5(&symbol.to_string()) % u64::from(shards);
    u16::try_from(index).expect("the remainder is below a u16")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_clickhouse_half_md5() {
        // SELECT halfMD5('600519.SH'), halfMD5('') on ClickHouse 18.16 and 26.
        assert_eq!(half_md5("600519.SH"), 10_006_816_649_551_096_067);
        assert_eq!(half_md5(""), 15_284_527_576_400_310_788);
    }

    #[test]
    fn one_shard_holds_everything_and_the_index_is_the_remainder() {
        let moutai: Symbol = "600519.SH".parse().unwrap();
        assert_eq!(shard_of(moutai, 1), 0);
        assert_eq!(shard_of(moutai, 0), 0);
        assert_eq!(u64::from(shard_of(moutai, 7)), 10_006_816_649_551_096_067 % 7);
    }
}
