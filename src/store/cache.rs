//! What every call reads and almost nothing writes — unit records (authorization walks a unit's lineage, the cover
//! is checked against the registry), tokens (every call is authenticated), and what a check reads besides the
//! disclosure (signing keys, latest budgets, last year's accepted figures) — kept in memory by the store that
//! writes them, so that a Validate does not pay a round trip to the database's thread for each.
//!
//! Coherence within the process: a write clears the map after it commits and bumps a generation; a read that
//! began before a write fills the map only if no write happened meanwhile, so a value read before a commit is never
//! kept after it. Several processes on one database (replicas) would need the writer's notice to reach the others;
//! the embedded store has one process.

use std::{collections::HashMap, hash::Hash, sync::Mutex};

/// The most entries kept per map; past it the map starts again empty (lookups of codes that do not exist are kept
/// too, and a client may ask for many).
const MAX_ENTRIES: usize = 100_000;

pub(super) struct ReadCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    /// The most entries kept; past it the map starts again empty.
    capacity: usize,
}

struct Inner<K, V> {
    generation: u64,
    entries: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    pub fn new() -> ReadCache<K, V> {
        ReadCache::with_capacity(MAX_ENTRIES)
    }

    /// A cache of at most `capacity` entries, for values too large to keep one per unit of a province.
    pub fn with_capacity(capacity: usize) -> ReadCache<K, V> {
        ReadCache {
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            }),
            capacity,
        }
    }

    /// The cached value, or what `read` reads from the database, kept for the next call.
    pub async fn get_or_read<E>(
        &self,
        key: K,
        read: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let generation = match self.get(&key) {
            Ok(value) => return Ok(value),
            Err(generation) => generation,
        };
        let value = read.await?;
        self.fill(generation, key, value.clone());
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves the map as it was before the statement that panicked: usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached value, or the generation to hand to [`ReadCache::fill`] after reading the database.
    pub fn get(&self, key: &K) -> Result<V, u64> {
        let inner = self.lock();
        inner.entries.get(key).cloned().ok_or(inner.generation)
    }

    /// Keeps a value read from the database, unless a write happened since `generation` was taken.
    pub fn fill(&self, generation: u64, key: K, value: V) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.clear();
        }
        inner.entries.insert(key, value);
    }

    /// After a write has committed: forget everything, and keep reads that began before from filling.
    pub fn invalidate(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_began_before_a_write_does_not_fill() {
        let cache: ReadCache<&str, u32> = ReadCache::new();
        let before = cache.get(&"a").unwrap_err();
        cache.invalidate();
        cache.fill(before, "a", 1);
        assert!(cache.get(&"a").is_err(), "a stale value was kept");
        let after = cache.get(&"a").unwrap_err();
        cache.fill(after, "a", 2);
        assert_eq!(cache.get(&"a"), Ok(2));
        cache.invalidate();
        assert!(cache.get(&"a").is_err());
    }

    #[test]
    fn the_map_is_bounded() {
        let cache: ReadCache<usize, ()> = ReadCache::new();
        for key in 0..MAX_ENTRIES + 10 {
            let generation = cache.get(&key).unwrap_err();
            cache.fill(generation, key, ());
        }
        assert!(cache.lock().entries.len() <= MAX_ENTRIES);
        let small: ReadCache<usize, ()> = ReadCache::with_capacity(3);
        for key in 0..10 {
            let generation = small.get(&key).unwrap_err();
            small.fill(generation, key, ());
        }
        assert!(small.lock().entries.len() <= 3);
    }

    #[tokio::test]
    async fn a_value_is_read_once_until_a_write() {
        let cache: ReadCache<&str, u32> = ReadCache::new();
        let reads = std::sync::atomic::AtomicU32::new(0);
        let read =
            || async { Ok::<_, ()>(reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 10) };
        assert_eq!(cache.get_or_read("a", read()).await, Ok(10));
        assert_eq!(cache.get_or_read("a", read()).await, Ok(10));
        cache.invalidate();
        assert_eq!(cache.get_or_read("a", read()).await, Ok(11));
        // A failed read keeps nothing.
        cache.invalidate();
        assert_eq!(cache.get_or_read("a", async { Err(()) }).await, Err(()));
        assert_eq!(cache.get_or_read("a", read()).await, Ok(12));
    }
}
