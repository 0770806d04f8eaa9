//! Persistence: sea-orm over SQLite or PostgreSQL. Each file holds the
//! queries of one idea and returns domain types and read models; every error
//! is a [`StoreError`] naming the operation that failed. No sea-orm type
//! leaves this module.

pub mod admins;
pub mod assets;
pub mod entities;
pub mod events;
pub mod idempotency;
pub mod orders;
pub mod search;
pub mod tokens;
pub mod validation;
pub mod vendors;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use migration::{Migrator, MigratorTrait as _};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use secrecy::ExposeSecret as _;

use crate::config::DatabaseSettings;

/// Why a store operation failed. `op` says which one ("loading order lines"),
/// so every 500 in the log names the query behind it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {op}")]
    Db {
        op: &'static str,
        #[source]
        source: DbErr,
    },
    /// The database cannot be reached (down, restarting, out of connections):
    /// worth retrying shortly, unlike other errors.
    #[error("database unavailable while {op}")]
    Unavailable {
        op: &'static str,
        #[source]
        source: DbErr,
    },
    /// A stored value that does not parse into its domain type.
    #[error("corrupt row while {op}: {detail}")]
    Corrupt { op: &'static str, detail: String },
}

impl StoreError {
    pub fn op(&self) -> &'static str {
        match self {
            Self::Db { op, .. } | Self::Unavailable { op, .. } | Self::Corrupt { op, .. } => op,
        }
    }

    pub(super) fn from_db(op: &'static str, source: DbErr) -> Self {
        match source {
            DbErr::TryIntoErr { .. } | DbErr::Type(_) => Self::Corrupt {
                op,
                detail: source.to_string(),
            },
            source if unreachable(&source) => Self::Unavailable { op, source },
            source => Self::Db { op, source },
        }
    }
}

/// Whether an error says the database could not be reached, rather than that
/// it refused a statement.
fn unreachable(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    match runtime {
        sea_orm::RuntimeErr::SqlxError(e) => {
            matches!(
                e.as_ref(),
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_)
            ) || matches!(e.as_ref(), Sqlx::Database(d) if is_shutting_down(d.code().as_deref()))
        }
        _ => matches!(e, DbErr::Conn(_)),
    }
}

/// PostgreSQL's "admin shutdown", "crash shutdown" and "cannot connect now"
/// (SQLSTATE 57P01–57P03): the server is going away or not ready yet.
fn is_shutting_down(code: Option<&str>) -> bool {
    matches!(code, Some("57P01" | "57P02" | "57P03"))
}

/// `.op("loading order lines")`: the context every store call adds to its error.
trait Op<T> {
    fn op(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> Op<T> for Result<T, DbErr> {
    fn op(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::from_db(op, e))
    }
}

/// The database: the source of truth for vendors, assets, orders and revocations.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    cancels: Arc<CancelsFirst>,
}

/// Cancels go first: while one is waiting for the database or writing, the
/// access-history writer starts no transaction (for at most
/// [`CancelsFirst::MAX_HOLD`]). On SQLite one writer holds the database at a
/// time and the others poll for it with growing sleeps; under full download
/// load the writer's back-to-back batches kept a cancel polling for up to
/// 1.4 s (docs/DESIGN.md, "Cancels go before the access history").
#[derive(Debug, Default)]
struct CancelsFirst {
    running: AtomicUsize,
    none_running: Notify,
}

/// Held by a cancel from its first database write to its answer
/// ([`Store::cancel_running`]).
#[must_use]
pub struct CancelRunning(Arc<CancelsFirst>);

impl Drop for CancelRunning {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_running.notify_waiters();
        }
    }
}

impl CancelsFirst {
    /// Counts a cancel as running until the guard is dropped.
    fn enter(this: &Arc<Self>) -> CancelRunning {
        this.running.fetch_add(1, Ordering::AcqRel);
        CancelRunning(this.clone())
    }

    /// Bound on how long the history waits: a stream of cancels must not
    /// stop it (its channel would fill and drop downloads' records).
    const MAX_HOLD: Duration = Duration::from_millis(500);

    /// Returns once no cancel is running (or after `MAX_HOLD`).
    async fn wait_for_none(&self) {
        let _ = tokio::time::timeout(Self::MAX_HOLD, async {
            loop {
                let notified = self.none_running.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.running.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }
}

/// Whether opening the database may create it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// `serve` and `migrate`: a missing SQLite file is created (folder 0700,
    /// file 0600; SQLite gives its `-wal`/`-shm` the file's mode).
    CreateIfMissing,
    /// Every other command: the database must exist and hold assetgate's
    /// tables, or the command says which database it looked for.
    Existing,
}

impl Store {
    /// Opens the database for `serve` and `migrate` (created if missing).
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        Self::open(settings, Open::CreateIfMissing).await
    }

    pub async fn open(settings: &DatabaseSettings, open: Open) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let url = settings.url.expose_secret();
        let shown = crate::config::redact_url(url);
        if let Some(file) = sqlite_file(url) {
            if open == Open::Existing && !file.exists() {
                anyhow::bail!(
                    "there is no database at {} (database.url = {shown}, relative to {}): run \
                     this command where `assetgate serve` runs, or set DATABASE_URL; \
                     `assetgate migrate` creates a new database",
                    file.display(),
                    std::env::current_dir().unwrap_or_default().display(),
                );
            }
            create_private(&file)
                .with_context(|| format!("creating the database {}", file.display()))?;
        }
        let timeout = Duration::from_millis(settings.timeout_ms);
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(settings.max_connections)
            .acquire_timeout(timeout)
            .connect_timeout(timeout)
            .sqlx_logging(false);
        // SQLite (the embedded default): a write-ahead log, so that readers
        // (the console, fulfilment) never wait for the access-history
        // writer's transactions and a commit is one `fsync`; still fully
        // synchronous, so a cancel answered 201 survives a power cut (the
        // revocation set is rebuilt from the database at start).
        options.map_sqlx_sqlite_opts(|sqlite| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
        });
        let db = Database::connect(options).await.with_context(|| {
            format!(
                "connecting to the database at {} (check database.url / DATABASE_URL)",
                crate::config::redact_url(url)
            )
        })?;
        let store = Self {
            db,
            cancels: Arc::default(),
        };
        if open == Open::Existing {
            let applied = Migrator::get_applied_migrations(&store.db)
                .await
                .map(|m| m.len())
                .unwrap_or(0);
            if applied == 0 {
                anyhow::bail!(
                    "the database at {shown} has no assetgate tables: check database.url / \
                     DATABASE_URL, or run `assetgate migrate` to set up a new one"
                );
            }
        }
        Ok(store)
    }

    /// Marks a cancel as running until the guard is dropped: the access
    /// history starts no transaction meanwhile (see [`CancelsFirst`]).
    pub fn cancel_running(&self) -> CancelRunning {
        CancelsFirst::enter(&self.cancels)
    }

    fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Applies pending migrations and returns their names.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let op = "applying migrations";
        let pending: Vec<String> = Migrator::get_pending_migrations(&self.db)
            .await
            .op(op)?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        Migrator::up(&self.db, None).await.op(op)?;
        Ok(pending)
    }

    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }
}

/// `sqlite://data/x.db?mode=rwc` → `data/x.db` (none for memory or PostgreSQL).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Some(path.into())
}

/// Creates the SQLite file's folder (0700) and the file (0600) if missing:
/// the database holds buyers' names and webhook secrets. Existing ones are
/// left as the operator set them.
fn create_private(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(dir) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether an insert failed on a unique constraint (duplicate line, key, …).
fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::{Open, Store, sqlite_file};
    use crate::config::DatabaseSettings;
    use sea_orm::{ConnectionTrait as _, Statement};

    #[tokio::test(start_paused = true)]
    async fn the_history_waits_while_a_cancel_runs_but_not_forever() {
        use super::CancelsFirst;
        let gate = std::sync::Arc::new(CancelsFirst::default());
        // Nothing running: at once.
        tokio::time::timeout(std::time::Duration::from_millis(1), gate.wait_for_none())
            .await
            .expect("waited with no cancel running");
        // Two cancels running: waits until the last is done.
        let (first, second) = (CancelsFirst::enter(&gate), CancelsFirst::enter(&gate));
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait_for_none().await }
        });
        tokio::time::sleep(CancelsFirst::MAX_HOLD / 2).await;
        drop(first);
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "went ahead while a cancel still ran"
        );
        let since = tokio::time::Instant::now();
        drop(second);
        waiting.await.unwrap();
        assert_eq!(
            since.elapsed(),
            std::time::Duration::ZERO,
            "not woken when the last cancel ended"
        );
        // A cancel that never ends holds it back for MAX_HOLD only.
        let _stuck = CancelsFirst::enter(&gate);
        let since = tokio::time::Instant::now();
        gate.wait_for_none().await;
        assert_eq!(since.elapsed(), CancelsFirst::MAX_HOLD);
    }

    /// A store on a fresh SQLite file (the folder lives as long as the first value).
    async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/x.db?mode=rwc", dir.path().display());
        let store = Store::connect(&DatabaseSettings {
            url: url.into(),
            migrate_on_start: false,
            max_connections: 2,
            timeout_ms: 5000,
        })
        .await
        .unwrap();
        (dir, store)
    }

    /// `record_accesses` is behind the gate (an empty batch: the transaction alone).
    #[tokio::test]
    async fn recording_accesses_waits_for_a_running_cancel() {
        let (_dir, store) = sqlite_store().await;
        let cancel = store.cancel_running();
        let record = tokio::spawn({
            let store = store.clone();
            async move { store.record_accesses(Vec::new(), &[]).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            !record.is_finished(),
            "the history wrote while a cancel ran"
        );
        drop(cancel);
        record.await.unwrap().unwrap();
    }

    /// The embedded default: readers do not wait for writers (WAL), and a
    /// commit is on disk when it returns (synchronous = FULL, 2), on every
    /// pooled connection.
    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_fully_synchronous() {
        let (dir, store) = sqlite_store().await;
        let db = store.conn();
        for pragma in ["journal_mode", "synchronous"] {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("PRAGMA {pragma}"),
                ))
                .await
                .unwrap()
                .unwrap();
            let value = match pragma {
                "journal_mode" => row.try_get_by_index::<String>(0).unwrap(),
                _ => row.try_get_by_index::<i64>(0).unwrap().to_string(),
            };
            assert_eq!(value, if pragma == "journal_mode" { "wal" } else { "2" });
        }
        assert!(dir.path().join("x.db-wal").exists());
    }

    #[test]
    fn the_sqlite_file_is_found_for_relative_and_absolute_paths() {
        assert_eq!(
            sqlite_file("sqlite://data/assetgate.db?mode=rwc"),
            Some("data/assetgate.db".into())
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/x/a.db"),
            Some("/tmp/x/a.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }

    fn settings(url: String) -> DatabaseSettings {
        DatabaseSettings {
            url: url.into(),
            migrate_on_start: false,
            max_connections: 2,
            timeout_ms: 5000,
        }
    }

    /// The database (buyers' names, webhook secrets) is readable by its owner only.
    #[tokio::test]
    async fn a_new_sqlite_database_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let url = format!("sqlite://{}/x.db?mode=rwc", data.display());
        let store = Store::connect(&settings(url)).await.unwrap();
        store.migrate().await.unwrap();
        let mode = |p: std::path::PathBuf| {
            std::fs::metadata(&p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(data.clone()), 0o700, "the folder");
        for file in ["x.db", "x.db-wal", "x.db-shm"] {
            assert_eq!(mode(data.join(file)), 0o600, "{file}");
        }
    }

    /// Commands other than `serve`/`migrate` never make a database.
    #[tokio::test]
    async fn opening_an_existing_database_refuses_a_missing_or_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/none.db?mode=rwc", dir.path().display());
        let Err(err) = Store::open(&settings(url), Open::Existing).await else {
            panic!("opened a missing database");
        };
        let err = err.to_string();
        assert!(err.contains("none.db") && err.contains("migrate"), "{err}");
        assert!(!dir.path().join("none.db").exists(), "nothing was created");

        let url = format!("sqlite://{}/empty.db?mode=rwc", dir.path().display());
        Store::connect(&settings(url.clone())).await.unwrap();
        let Err(err) = Store::open(&settings(url.clone()), Open::Existing).await else {
            panic!("opened a database without tables");
        };
        let err = err.to_string();
        assert!(err.contains("no assetgate tables"), "{err}");
        Store::connect(&settings(url.clone()))
            .await
            .unwrap()
            .migrate()
            .await
            .unwrap();
        assert!(Store::open(&settings(url), Open::Existing).await.is_ok());
    }
}
