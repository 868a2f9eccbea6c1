//! Persistence through sqlx's Any driver: SQLite by default (one file in the data folder,
//! WAL mode, created and migrated on first start), PostgreSQL when `DATABASE_URL` names
//! one. Queries are written once in SQL both understand, with `$n` placeholders.

mod branches;
mod checkpoints;
mod conversations;
pub mod documents;
mod messages;
pub mod projects;
pub mod status_sets;
mod turn_writes;
mod vectors;
mod wal_checkpoints;
pub mod wiki_jobs;
pub mod wiki_pages;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use checkpoints::Checkpoint;
pub use conversations::Existence;
pub use turn_writes::{TurnWrite, TurnWritten};
pub use vectors::StoredVector;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The task that commits chat writes is gone (the server is stopping).
    #[error("the database writer has stopped")]
    WriterStopped,
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A count or offset from a client, as SQL's signed integer: saturated, since `as` would
/// wrap a huge value to a negative one (a `keep_last` of 2^64-1 became -1 and deleted
/// every message).
pub(crate) fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    /// Reads. With PostgreSQL, writes too.
    pool: AnyPool,
    /// Statements that write (one connection with SQLite; the same pool with PostgreSQL).
    writer: AnyPool,
    backend: Backend,
    /// SQLite's log checkpoints, off the connections that commit (see the module).
    wal_checkpoints: Option<Arc<wal_checkpoints::WalCheckpoints>>,
}

/// Reading connections beside SQLite's one writing connection.
const SQLITE_READERS: u32 = 3;
/// Connections to PostgreSQL, all opened at start-up and kept (see [`open_all`]).
const POSTGRES_CONNECTIONS: u32 = 10;

/// Opens every connection the pool may hold before the server takes requests. A new
/// PostgreSQL connection is a forked backend that loads its catalog caches, milliseconds
/// of the database's CPU: opened on demand, they were opened by a burst of questions
/// (200 at once on two instances opened 20) and competed with the answers streaming.
/// `min_connections` keeps them open afterwards.
async fn open_all(pool: &AnyPool, size: u32) -> Result<()> {
    let held = futures::future::try_join_all((0..size).map(|_| pool.acquire())).await?;
    drop(held);
    Ok(())
}

fn pool_options(backend: Backend, size: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings a connection before lending it and again when it comes back: for a
        // file on this machine the first is a worker-thread round trip per query that
        // catches nothing (the one on return stays; it also rolls back a transaction a
        // cancelled query left open).
        .test_before_acquire(backend != Backend::Sqlite)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // In WAL mode NORMAL still never corrupts the file; it only skips the
                    // fsync per commit: a question is two commits before its first token
                    // (chat_overhead p50 5.98 -> 4.84 ms).
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    // A task of the store's checkpoints the log instead, off the commit
                    // path (`wal_checkpoints.rs`).
                    sqlx::query("PRAGMA wal_autocheckpoint = 0")
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        })
}

impl Store {
    /// Connects, creating the SQLite file (and its folder) if needed, and migrates.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_folder(url)?;
        }
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let (pool, writer, wal_checkpoints) = if backend == Backend::Sqlite && !in_memory {
            // SQLite has one writer at a time; connections that write at once wait for
            // each other in SQLite's busy handler, which sleeps in steps of milliseconds
            // (100 questions at once: first tokens 260 ms apart). Writes queue here for
            // the one writing connection instead, and reads never wait for them (WAL).
            let writer = pool_options(backend, 1).connect(url).await?;
            // WAL lets readers proceed while a turn writes; the setting lives in the file,
            // so it is made before the readers connect.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&writer)
                .await?;
            MIGRATOR.run(&writer).await?;
            let readers = pool_options(backend, SQLITE_READERS).connect(url).await?;
            let checkpoints = wal_checkpoints::WalCheckpoints::start(url).await?;
            (readers, writer, Some(Arc::new(checkpoints)))
        } else {
            // An in-memory SQLite database exists once per connection: one connection.
            let size = if backend == Backend::Sqlite {
                1
            } else {
                POSTGRES_CONNECTIONS
            };
            let pool = pool_options(backend, size)
                .min_connections(size)
                .connect(url)
                .await?;
            MIGRATOR.run(&pool).await?;
            open_all(&pool, size).await?;
            (pool.clone(), pool, None)
        };
        Ok(Self {
            pool,
            writer,
            backend,
            wal_checkpoints,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For `/ready`: the database answers a trivial query.
    /// Connections the pool holds, and how many of them are idle.
    pub fn pool_use(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(checkpoints) = &self.wal_checkpoints {
            checkpoints.stop();
        }
        self.pool.close().await;
        self.writer.close().await;
    }
}

fn ensure_sqlite_folder(url: &str) -> Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::DataDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(())
}
