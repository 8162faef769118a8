//! Mergeable streaming sketches: moments, quantiles, heavy hitters, a reservoir.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys that are already `value_hash` outputs need no second hash.
#[derive(Default)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashKeyed<V> = HashMap<u64, V, BuildHasherDefault<PreHashed>>;

use tdigest::TDigest;

use crate::value::Value;

/// Count, mean and variance in one pass (Welford); merged with Chan's formula.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    m2: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    pub fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = o.clone();
            return;
        }
        let n = (self.n + o.n) as f64;
        let d = o.mean - self.mean;
        // Chan et al.: the cross term corrects for the two means differing.
        self.m2 += o.m2 + d * d * self.n as f64 * o.n as f64 / n;
        self.mean += d * o.n as f64 / n;
        self.n += o.n;
    }

    /// Sample standard deviation.
    pub fn stddev(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).sqrt()
        }
    }
}

/// A t-digest fed through a buffer, since merging one value at a time is slow.
#[derive(Debug, Clone)]
pub struct Quantiles {
    digest: TDigest,
    buffer: Vec<f64>,
}

const DIGEST_SIZE: usize = 200;
const DIGEST_BUFFER: usize = 4096;

impl Default for Quantiles {
    fn default() -> Self {
        Self {
            digest: TDigest::new_with_size(DIGEST_SIZE),
            buffer: Vec::with_capacity(DIGEST_BUFFER),
        }
    }
}

impl Quantiles {
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.buffer.push(x);
        if self.buffer.len() >= DIGEST_BUFFER {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buffer.is_empty() {
            let values = std::mem::take(&mut self.buffer);
            self.digest = self.digest.merge_unsorted(values);
            self.buffer.reserve(DIGEST_BUFFER);
        }
    }

    pub fn merge(&mut self, o: &Quantiles) {
        self.flush();
        let mut other = o.clone();
        other.flush();
        self.digest = TDigest::merge_digests(vec![self.digest.clone(), other.digest]);
    }

    /// The `q` quantile, or `None` before any value.
    pub fn quantile(&mut self, q: f64) -> Option<f64> {
        self.flush();
        (!self.digest.is_empty()).then(|| self.digest.estimate_quantile(q))
    }
}

/// Space-Saving heavy hitters: `capacity` counters keyed by value hash.
/// Exact while the column has at most `capacity` distinct values.
///
/// A new value takes over a smallest counter. Rather than keep a heap (a
/// column of unique values would sift every row through it), the counters
/// at the current minimum are listed once and used up one by one: a listed
/// counter that has grown since is skipped, and when none is left the
/// minimum is found again. Each row costs O(1) amortized.
#[derive(Debug, Clone)]
pub struct TopK {
    capacity: usize,
    counters: Vec<Counter>,
    slot: HashKeyed<usize>,
    /// The smallest count, valid while `at_min` is not used up.
    min: u64,
    /// Counters that held `min` when it was found; some may have grown since.
    at_min: Vec<usize>,
    /// Counters replaced so far; zero means every count is exact.
    pub evictions: u64,
}

#[derive(Debug, Clone)]
struct Counter {
    count: u64,
    /// How much of `count` may belong to the values this counter replaced.
    err: u64,
    hash: u64,
    value: Value,
}

impl TopK {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            counters: Vec::new(),
            slot: HashKeyed::default(),
            min: 0,
            at_min: Vec::new(),
            evictions: 0,
        }
    }

    pub fn push(&mut self, hash: u64, v: &Value) {
        self.add(hash, 1, 0, || v.clone());
    }

    fn add(&mut self, hash: u64, count: u64, err: u64, v: impl FnOnce() -> Value) {
        if let Some(&i) = self.slot.get(&hash) {
            let c = &mut self.counters[i];
            c.count += count;
            c.err += err;
        } else if self.counters.len() < self.capacity {
            self.slot.insert(hash, self.counters.len());
            self.counters.push(Counter {
                count,
                err,
                hash,
                value: v(),
            });
            // A new counter may be below the minimum found before.
            self.at_min.clear();
        } else {
            // Replace a smallest counter; its count becomes the new value's error bound.
            let i = self.smallest();
            let min = self.min;
            self.evictions += 1;
            let old = std::mem::replace(
                &mut self.counters[i],
                Counter {
                    count: min + count,
                    err: min + err,
                    hash,
                    value: v(),
                },
            );
            self.slot.remove(&old.hash);
            self.slot.insert(hash, i);
        }
    }

    /// The index of a counter holding the smallest count (the table is full).
    fn smallest(&mut self) -> usize {
        loop {
            while let Some(i) = self.at_min.pop() {
                if self.counters[i].count == self.min {
                    return i;
                }
            }
            self.min = self.counters.iter().map(|c| c.count).min().unwrap_or(0);
            let min = self.min;
            self.at_min.extend(
                self.counters
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.count == min)
                    .map(|(i, _)| i),
            );
            // Pop in index order: the same stream always evicts the same counters.
            self.at_min.reverse();
        }
    }

    pub fn merge(&mut self, o: &TopK) {
        self.evictions += o.evictions;
        for c in &o.counters {
            self.add(c.hash, c.count, c.err, || c.value.clone());
        }
    }

    /// Values by descending count: (value, count, overestimate bound).
    pub fn top(&self, k: usize) -> Vec<(&Value, u64, u64)> {
        let mut all: Vec<_> = self
            .counters
            .iter()
            .map(|c| (&c.value, c.count, c.err))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.render().cmp(&b.0.render())));
        all.truncate(k);
        all
    }

    pub fn len(&self) -> usize {
        self.counters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

/// A fixed-size uniform sample (Vitter's algorithm R) with a deterministic generator.
#[derive(Debug, Clone)]
pub struct Reservoir {
    pub values: Vec<f64>,
    seen: u64,
    capacity: usize,
    rng: u64,
}

impl Reservoir {
    pub fn new(capacity: usize) -> Self {
        Self {
            values: Vec::with_capacity(capacity),
            seen: 0,
            capacity,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    pub fn push(&mut self, x: f64) {
        self.seen += 1;
        if self.values.len() < self.capacity {
            self.values.push(x);
        } else {
            let j = splitmix(&mut self.rng) % self.seen;
            if (j as usize) < self.capacity {
                self.values[j as usize] = x;
            }
        }
    }

    pub fn merge(&mut self, o: &Reservoir) {
        // Weighted by how many values each side stands for.
        let total = self.seen + o.seen;
        if total == 0 {
            return;
        }
        let mut out = Vec::with_capacity(self.capacity);
        let take_self = (self.capacity as u128 * self.seen as u128 / total as u128) as usize;
        out.extend(self.values.iter().take(take_self));
        out.extend(
            o.values
                .iter()
                .take(self.capacity - take_self.min(self.capacity)),
        );
        self.values = out;
        self.seen = total;
    }
}

pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Median and median absolute deviation of a sample.
pub fn median_mad(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let m = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    Some((m, median(&mut dev)))
}

/// A 64-bit hash of a value, stable across runs (for sketches, not security).
pub fn value_hash(v: &Value) -> u64 {
    use std::hash::Hash;
    let mut h = WordHasher::default();
    match v {
        Value::Null => 0u8.hash(&mut h),
        Value::Bool(b) => (1u8, b).hash(&mut h),
        Value::Int(i) => (2u8, i).hash(&mut h),
        Value::Float(f) => (3u8, f.to_bits()).hash(&mut h),
        Value::Text(s) => (4u8, s.as_str()).hash(&mut h),
        Value::Bytes(b) => (5u8, b.as_slice()).hash(&mut h),
        Value::Uuid(u) => (6u8, u.as_u128()).hash(&mut h),
        Value::Date(d) => (7u8, d).hash(&mut h),
        Value::DateTime(d) => (8u8, d).hash(&mut h),
        Value::Timestamp(t) => (9u8, t.timestamp_micros()).hash(&mut h),
    }
    h.finish()
}

/// Eight bytes per step, each folded into the state by a 64×64→128-bit
/// multiply whose halves are xored (the folded multiply of foldhash and
/// wyhash), then MurmurHash3's finalizer, so every output bit depends on every
/// input bit as HyperLogLog's register choice and rank need. Several times
/// faster than SipHash on long text, which profiling hashes once per value.
struct WordHasher(u64);

impl Default for WordHasher {
    fn default() -> Self {
        // Any fixed non-zero start (here π's fraction): runs agree.
        Self(0x243f_6a88_85a3_08d3)
    }
}

impl WordHasher {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    fn add(&mut self, word: u64) {
        let p = u128::from(self.0 ^ word) * u128::from(Self::K);
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
        // The length tells "a\0" from "a" when the tail is zero-padded.
        self.add(bytes.len() as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}
