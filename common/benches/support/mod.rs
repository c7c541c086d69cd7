//! What the benches share: a deterministic generator and the synthetic market's symbol names.

/// A small deterministic generator, so every run benches the same day.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The `i`-th symbol: Shanghai and Shenzhen in turn.
pub fn symbol_name(i: usize) -> String {
    if i.is_multiple_of(2) {
        format!("{:06}.SH", 600_000 + i)
    } else {
        format!("{:06}.SZ", i)
    }
}
