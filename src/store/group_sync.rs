//! Group commit for the embedded store. A write transaction commits without waiting for the disk (SQLite's
//! `synchronous = NORMAL` in WAL mode), then waits here until the write-ahead log is on disk before the call is
//! answered. One fsync covers every commit that finished before it began, so concurrent writers share fsyncs
//! instead of each holding SQLite's one write lock through its own — the lock is held for the SQL only.
//!
//! What is acknowledged is on disk: an answer is sent only after an fsync of the log that began after its commit.
//! Another call may read a commit up to one fsync before it is durable (after a power cut such a commit and every
//! later one are gone together: the log is replayed in order and stops at the first frame not written).

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

pub(super) struct GroupSync {
    /// The write-ahead log (`<database>-wal`).
    wal: PathBuf,
    /// Commits finished so far.
    committed: AtomicU64,
    /// Every commit up to this number is on disk. The lock is also what makes one fsync at a time.
    synced: tokio::sync::Mutex<u64>,
}

impl GroupSync {
    pub fn new(wal: PathBuf) -> GroupSync {
        GroupSync {
            wal,
            committed: AtomicU64::new(0),
            synced: tokio::sync::Mutex::new(0),
        }
    }

    /// Call after a transaction has committed: returns once the commit is on disk.
    pub async fn committed(&self) -> std::io::Result<()> {
        let mine = self.committed.fetch_add(1, Ordering::SeqCst) + 1;
        let mut synced = self.synced.lock().await;
        if *synced >= mine {
            // An fsync that began after this commit has finished while we queued.
            return Ok(());
        }
        // Every commit numbered up to here has finished: this fsync covers them all.
        let upto = self.committed.load(Ordering::SeqCst);
        let wal = self.wal.clone();
        tokio::task::spawn_blocking(move || sync_file(&wal))
            .await
            .map_err(std::io::Error::other)??;
        *synced = upto;
        Ok(())
    }
}

fn sync_file(path: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(path) {
        // fsync is per file, not per descriptor: this flushes what the database's connections wrote.
        Ok(file) => file.sync_data(),
        // No log: SQLite checkpointed and removed it, syncing the database itself first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_fsyncs_and_each_waits_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("db-wal");
        std::fs::write(&wal, b"log").unwrap();
        let sync = Arc::new(GroupSync::new(wal));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let sync = sync.clone();
            tasks.spawn(async move { sync.committed().await });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        // Every commit is covered by a finished fsync.
        assert_eq!(*sync.synced.lock().await, 64);
    }

    #[tokio::test]
    async fn a_missing_log_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let sync = GroupSync::new(dir.path().join("absent-wal"));
        sync.committed().await.unwrap();
    }
}
