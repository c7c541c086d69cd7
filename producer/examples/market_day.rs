//! Writes the generated whole-market day of `harness::market` as a QMT-snapshot CSV archive, the
//! input of `deploy/bench-build.sh`: SYMBOLS symbols, a snapshot each every STEP_S seconds (5,000
//! and 3 give 24 M snapshots, the size of a real whole-market day). Prints the snapshots written.
//!
//! `cargo run --release -p producer --example market_day -- FILE [SYMBOLS] [STEP_S]`

use std::io::Write;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let file = args.get(1).expect("FILE");
    let symbols: usize = args.get(2).map_or(5_000, |a| a.parse().expect("SYMBOLS"));
    let step_s: u32 = args.get(3).map_or(3, |a| a.parse().expect("STEP_S"));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(file)?);
    writeln!(out, "{}", harness::market::QMT_HEADER)?;
    let mut written = 0u64;
    for tick in harness::market::ticks(symbols, step_s) {
        harness::market::write_qmt_row(&mut out, &tick)?;
        written += 1;
    }
    out.flush()?;
    println!("{written}");
    Ok(())
}
