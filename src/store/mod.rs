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

use std::time::Duration;

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
}

impl Store {
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let url = settings.url.expose_secret();
        if let Some(parent) = sqlite_parent_dir(url) {
            std::fs::create_dir_all(&parent)
                .with_context(|| format!("creating the database folder {}", parent.display()))?;
        }
        let timeout = Duration::from_millis(settings.timeout_ms);
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(settings.max_connections)
            .acquire_timeout(timeout)
            .connect_timeout(timeout)
            .sqlx_logging(false);
        let db = Database::connect(options).await.with_context(|| {
            format!(
                "connecting to the database at {} (check database.url / DATABASE_URL)",
                crate::config::redact_url(url)
            )
        })?;
        Ok(Self { db })
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

/// `sqlite://data/x.db?mode=rwc` → `data`, so a fresh clone can create its database.
fn sqlite_parent_dir(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf)
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
    use super::sqlite_parent_dir;

    #[test]
    fn sqlite_parent_dir_is_found_for_relative_and_absolute_paths() {
        assert_eq!(
            sqlite_parent_dir("sqlite://data/assetgate.db?mode=rwc"),
            Some("data".into())
        );
        assert_eq!(
            sqlite_parent_dir("sqlite:///tmp/x/a.db"),
            Some("/tmp/x".into())
        );
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_parent_dir("postgres://localhost/x"), None);
    }
}
