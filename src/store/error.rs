//! What can go wrong in the store: a database failure, a corrupt record, or a refusal that
//! a caller answers (an account that exists or does not, a delivery committed or gone).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("corrupt record in {0}")]
    Corrupt(&'static str),
    #[error("account {0} already exists")]
    Exists(String),
    #[error("no account named {0}")]
    NoSuchUser(String),
    /// The delivery being committed was committed already (by an earlier connection).
    #[error("delivery {id} was committed already")]
    Committed { id: u64, time: u64 },
    /// The delivery being committed is no longer open (it expired or was dropped).
    #[error("the delivery is no longer open")]
    NotOpen,
    /// The delivery being committed no longer holds room in its recipient's mailbox (its
    /// hold ended), and the mailbox has no room for it now.
    #[error("the recipient's mailbox has no room for the delivery now")]
    NoRoom,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
