//! A bounded in-memory cache of scores keyed by (program, capped tests, reward configuration), so
//! that the identical completions that RL sampling produces all the time are run once. Evicts
//! oldest-first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::{RewardBreakdown, RewardConfig, TestSpec};

pub(crate) type Key = [u8; 32];

/// Hashes everything the score depends on. Lengths are framed so that no two inputs share a byte
/// stream.
pub(crate) fn key(program: &str, tests: &TestSpec, config: &RewardConfig) -> Key {
    let mut h = Sha256::new();
    for part in [
        program.as_bytes(),
        &serde_json::to_vec(tests).expect("tests serialize"),
        &serde_json::to_vec(config).expect("config serializes"),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

pub(crate) struct ResultCache {
    capacity: usize,
    inner: Mutex<(HashMap<Key, RewardBreakdown>, VecDeque<Key>)>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResultCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ResultCache {
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn get(&self, key: &Key) -> Option<RewardBreakdown> {
        let found = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .get(key)
            .cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub(crate) fn put(&self, key: Key, value: RewardBreakdown) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(key, value).is_none() {
            order.push_back(key);
        }
        while map.len() > self.capacity {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
    }

    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}
