//! The handle to the database and its transactions: `Store` (cheap to clone) opens the
//! file, makes the tables and runs the migrations; `Store::write` runs a closure in one
//! write transaction (`Tx`), `Store::read` in one read transaction (`Rx`). What a domain
//! only reads it reads through `View`, the same in either transaction, so one check serves
//! a read before a change and the change itself. Every store operation is one of these
//! transactions: nothing outside them touches the database.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, Key, ReadableDatabase, ReadableTable, Table, TableDefinition, Value};

use super::error::StoreError;
use super::{migrate, tables};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

/// A write transaction: every domain's changes made in it are committed together or not
/// at all.
pub(super) struct Tx(redb::WriteTransaction);

/// A read transaction: one consistent view of every table.
pub(super) struct Rx(redb::ReadTransaction);

/// How a write transaction ends when its closure succeeds.
pub(super) enum Finish<R> {
    /// Keep what it wrote.
    Commit(R),
    /// Keep nothing it wrote (a refusal found after something was written, or nothing to
    /// write): the answer is still `R`.
    RollBack(R),
}

/// Reading a table, in either kind of transaction.
pub(super) trait View {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError>;
}

impl Tx {
    /// A table to change. A table is open once at a time in a transaction: a building
    /// block opens what it needs and lets it go before it returns.
    pub(super) fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Table<'_, K, V>, StoreError> {
        Ok(self.0.open_table(def)?)
    }

    /// Commit without waiting for the disk: made durable by the next durable commit.
    pub(super) fn not_durable(&mut self) -> Result<(), StoreError> {
        self.0.set_durability(redb::Durability::None)?;
        Ok(())
    }
}

impl View for Tx {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        self.open(def)
    }
}

impl View for Rx {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.0.open_table(def)?)
    }
}

impl Store {
    /// Open or create the database file and its tables.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tables::create_all(&tx)?;
        migrate::run(&tx)?;
        tx.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Run `f` in one write transaction, committed when it returns `Ok` (rolled back on
    /// an error).
    pub(super) fn write<R>(&self, f: impl FnOnce(&mut Tx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        self.write_or_roll_back(|tx| f(tx).map(Finish::Commit))
    }

    /// Run `f` in one write transaction that it decides to commit or roll back.
    pub(super) fn write_or_roll_back<R>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<Finish<R>, StoreError>,
    ) -> Result<R, StoreError> {
        let mut tx = Tx(self.db.begin_write()?);
        match f(&mut tx)? {
            Finish::Commit(r) => {
                tx.0.commit()?;
                Ok(r)
            }
            // Dropping a write transaction rolls it back.
            Finish::RollBack(r) => Ok(r),
        }
    }

    /// Run `f` in one read transaction.
    pub(super) fn read<R>(&self, f: impl FnOnce(&Rx) -> Result<R, StoreError>) -> Result<R, StoreError> {
        f(&Rx(self.db.begin_read()?))
    }
}
