//! The embedded store: a process-wide registry of open redb files, and the keyvalue operations
//! as plain synchronous functions (the provider runs them on tokio's blocking threads).
//!
//! redb takes an exclusive `flock` on its file, so one process may open a file only once. Links
//! that name the same file share one [`SharedDb`] through the registry; the file is closed when
//! the last holder (a link, or a call still in flight) lets go, and can then be opened again by a
//! later link or another process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redb::{Database, ReadOnlyTable, ReadableTable, Table, TableDefinition, TableError};

/// How long opening waits for another holder of the file's lock to let go: a file this process
/// is closing right now, or one a crashed or exiting process still holds for a moment.
const OPEN_WAIT: Duration = Duration::from_secs(5);
/// Page cache per open file. redb's default (1 GiB) is far too much for an edge host.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Failures of the store. Shown to components as `error::other(message)`.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("cannot create the directory {} for the database file: {source}", dir.display())]
    CreateDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot resolve the database path {}: {source}", path.display())]
    Resolve { path: PathBuf, source: std::io::Error },
    #[error("database file {} is held open by another process (redb allows one process per file)", path.display())]
    AlreadyOpen { path: PathBuf },
    #[error("cannot open database file {}: {source}", path.display())]
    Open { path: PathBuf, source: Box<redb::DatabaseError> },
    #[error("database error: {0}")]
    Redb(#[source] Box<redb::Error>),
    #[error("value for key {key:?} is {len} bytes, more than this link's max_value_bytes ({max})")]
    TooLarge { key: String, len: usize, max: usize },
    #[error("value of key {key:?} is not a decimal number; increment needs a decimal u64 string")]
    NotANumber { key: String },
    #[error("incrementing key {key:?} (now {current}) by {delta} overflows u64")]
    Overflow { key: String, current: u64, delta: u64 },
    #[error("keyvalue-redb database call failed: {0}")]
    Task(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for KvError {
            fn from(e: $t) -> Self {
                KvError::Redb(Box::new(e.into()))
            }
        }
    )*};
}
from_redb!(redb::Error, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

type Registry = HashMap<PathBuf, Weak<SharedDb>>;

fn registry() -> MutexGuard<'static, Registry> {
    static OPEN: OnceLock<Mutex<Registry>> = OnceLock::new();
    // A panic while holding the lock leaves the map itself consistent: keep going.
    OPEN.get_or_init(Mutex::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The paths of the database files this process has open (for diagnostics and tests).
pub fn open_files() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = registry().iter().filter(|(_, w)| w.strong_count() > 0).map(|(p, _)| p.clone()).collect();
    paths.sort();
    paths
}

/// One open redb file, shared by every link of this process that names it.
pub struct SharedDb {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for SharedDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDb").field("path", &self.path).finish_non_exhaustive()
    }
}

fn table(name: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(name)
}

/// Where `path` really is, so two spellings of one file share one database.
fn resolve(path: &Path) -> Result<PathBuf, KvError> {
    let resolve_err = |source| KvError::Resolve { path: path.to_path_buf(), source };
    if path.exists() {
        return path.canonicalize().map_err(resolve_err);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(resolve_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path")));
    };
    std::fs::create_dir_all(dir).map_err(|source| KvError::CreateDir { dir: dir.to_path_buf(), source })?;
    Ok(dir.canonicalize().map_err(resolve_err)?.join(name))
}

fn parse_counter(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value).ok()?.trim().parse::<u64>().ok()
}

impl SharedDb {
    /// The open database behind `path`, opening (creating) the file if this process has not
    /// yet. Blocks: call it from a blocking thread.
    pub fn open(path: &Path) -> Result<Arc<SharedDb>, KvError> {
        let path = resolve(path)?;
        // Held while opening, so two links naming one file never both try to open it.
        let mut open = registry();
        // Entries of files closed since are dead weak pointers: forget them. (Not done on drop:
        // the last holder closes the file without touching the registry, so an opener waiting
        // below for that file's lock never waits on a closer waiting for the registry.)
        open.retain(|_, held| held.strong_count() > 0);
        if let Some(db) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(db);
        }
        let deadline = Instant::now() + OPEN_WAIT;
        let db = loop {
            match Database::builder().set_cache_size(CACHE_BYTES).create(&path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(KvError::AlreadyOpen { path }),
                Err(source) => return Err(KvError::Open { path, source: Box::new(source) }),
            }
        };
        let shared = Arc::new(SharedDb { db, path: path.clone() });
        open.insert(path, Arc::downgrade(&shared));
        Ok(shared)
    }

    /// Runs `f` on a read snapshot of `name`; `None` if that table was never written.
    fn read<T>(&self, name: &str, f: impl FnOnce(Option<&ReadOnlyTable<&'static str, &'static [u8]>>) -> Result<T, KvError>) -> Result<T, KvError> {
        let txn = self.db.begin_read()?;
        match txn.open_table(table(name)) {
            Ok(t) => f(Some(&t)),
            Err(TableError::TableDoesNotExist(_)) => f(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `f` in one write transaction on `name` (created if missing) and commits it durably;
    /// an error from `f` rolls everything back. redb runs one write transaction at a time.
    fn write<T>(&self, name: &str, f: impl FnOnce(&mut Table<'_, &'static str, &'static [u8]>) -> Result<T, KvError>) -> Result<T, KvError> {
        let txn = self.db.begin_write()?;
        let out = {
            let mut t = txn.open_table(table(name))?;
            f(&mut t)?
        };
        txn.commit()?;
        Ok(out)
    }

    pub fn get(&self, name: &str, key: &str) -> Result<Option<Bytes>, KvError> {
        self.read(name, |t| match t {
            None => Ok(None),
            Some(t) => Ok(t.get(key)?.map(|v| Bytes::copy_from_slice(v.value()))),
        })
    }

    pub fn exists(&self, name: &str, key: &str) -> Result<bool, KvError> {
        self.read(name, |t| match t {
            None => Ok(false),
            Some(t) => Ok(t.get(key)?.is_some()),
        })
    }

    pub fn set(&self, name: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.write(name, |t| {
            t.insert(key, value)?;
            Ok(())
        })
    }

    pub fn delete(&self, name: &str, key: &str) -> Result<(), KvError> {
        self.write(name, |t| {
            t.remove(key)?;
            Ok(())
        })
    }

    /// Up to `page` keys in sorted order, starting after the first `offset`; the returned cursor
    /// is the offset of the next page, `None` after the last.
    pub fn list_keys(&self, name: &str, offset: u64, page: usize) -> Result<(Vec<String>, Option<u64>), KvError> {
        self.read(name, |t| {
            let Some(t) = t else { return Ok((Vec::new(), None)) };
            let skip = usize::try_from(offset).unwrap_or(usize::MAX);
            let mut entries = t.iter()?.skip(skip);
            let mut keys = Vec::with_capacity(page.min(1024));
            for entry in entries.by_ref().take(page) {
                let (k, _) = entry?;
                keys.push(k.value().to_string());
            }
            let more = entries.next().is_some();
            let next = more.then(|| offset.saturating_add(keys.len() as u64));
            Ok((keys, next))
        })
    }

    /// Adds `delta` to the decimal number stored at `key` (0 when missing) and stores the sum,
    /// all in one write transaction: concurrent increments never lose an update.
    pub fn increment(&self, name: &str, key: &str, delta: u64) -> Result<u64, KvError> {
        self.write(name, |t| {
            let current = match t.get(key)? {
                None => 0,
                Some(v) => parse_counter(v.value()).ok_or_else(|| KvError::NotANumber { key: key.to_string() })?,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| KvError::Overflow { key: key.to_string(), current, delta })?;
            t.insert(key, next.to_string().as_bytes())?;
            Ok(next)
        })
    }

    /// Values of `keys` from one snapshot, in order.
    pub fn get_many(&self, name: &str, keys: &[String]) -> Result<Vec<Option<Bytes>>, KvError> {
        self.read(name, |t| match t {
            None => Ok(vec![None; keys.len()]),
            Some(t) => keys
                .iter()
                .map(|k| Ok(t.get(k.as_str())?.map(|v| Bytes::copy_from_slice(v.value()))))
                .collect(),
        })
    }

    /// All of `items` in one transaction: all are written or none.
    pub fn set_many(&self, name: &str, items: &[(String, Bytes)]) -> Result<(), KvError> {
        self.write(name, |t| {
            for (k, v) in items {
                t.insert(k.as_str(), v.as_ref())?;
            }
            Ok(())
        })
    }

    /// All of `keys` in one transaction; missing keys are skipped.
    pub fn delete_many(&self, name: &str, keys: &[String]) -> Result<(), KvError> {
        self.write(name, |t| {
            for k in keys {
                t.remove(k.as_str())?;
            }
            Ok(())
        })
    }
}
