//! The migration tested from the outside: a schema-1 database opened by `Store::open`
//! keeps every delivery, file and byte of usage (the test module of `migrate.rs`, apart so
//! that it may open a `Store` without `migrate.rs` naming the handle that runs it).

#[cfg(test)]
mod tests {
    use redb::Database;

    use super::super::db::Store;
    use super::super::mailbox::Usage;
    use super::super::records::{encode, StoredV1};
    use super::super::tables::{DELIVERIES_V1, MAILBOX_V1, USAGE_V1};
    use crate::wire::{Attachment, Envelope};

    fn envelope(id: u64, files: u32) -> Envelope {
        Envelope {
            id,
            from: "bob".into(),
            to: "alice".into(),
            time: 1_795_000_000,
            subject: Some("hello".into()),
            body: Some("text".into()),
            files,
            bytes: u64::from(files) * 10,
        }
    }

    fn attachment(i: u32) -> Attachment {
        Attachment { path: format!("dir/f{i}"), size: 10, hash: [i as u8; 32], media_type: "text/plain".into() }
    }

    #[test]
    fn a_schema_1_database_is_migrated_not_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        {
            let db = Database::create(&path).expect("create");
            let tx = db.begin_write().expect("tx");
            {
                let mut deliveries = tx.open_table(DELIVERIES_V1).expect("table");
                let mut mailbox = tx.open_table(MAILBOX_V1).expect("table");
                for id in [3u64, 7] {
                    let stored = StoredV1 { envelope: envelope(id, 3), attachments: (0..3).map(attachment).collect() };
                    deliveries.insert(id, encode(&stored, "v1").expect("encode").as_slice()).expect("insert");
                    mailbox.insert(("alice", id), ()).expect("insert");
                }
                tx.open_table(USAGE_V1).expect("table").insert("alice", 60).expect("insert");
            }
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("open migrates");
        let (items, more) = store.inbox("alice", 0, 10).expect("inbox");
        assert_eq!(items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![3, 7]);
        assert!(!more);
        assert_eq!(store.attachment_for("alice", 7, 2).expect("get"), Some(attachment(2)));
        assert_eq!(store.attachment_for("bob", 7, 2).expect("get"), None);
        assert_eq!(store.mailbox_usage("alice").expect("usage"), Usage { bytes: 78, files: 6 });
        let (env, page) = store.attachments_for("alice", 3, 1, 1).expect("page").expect("found");
        assert_eq!((env.id, page), (3, vec![attachment(1)]));
        drop(store);
        // Opening again finds nothing left to migrate and loses nothing.
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.inbox("alice", 0, 10).expect("inbox").0.len(), 2);
    }
}
