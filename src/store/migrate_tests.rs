//! The migrations tested from the outside: a schema-1 database opened by `Store::open`
//! keeps every delivery, file and byte of usage, and unfinished sends an older binary began
//! are listed under their sender and hold their recipient's room for the hold only (the
//! test module of `migrate.rs`, apart so that it may open a `Store` without `migrate.rs`
//! naming the handle that runs it).

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

    /// Schema 1's shapes, written here as an older binary wrote them (postcard is positional:
    /// the shapes, not the names, are the contract).
    #[derive(serde::Serialize)]
    struct PlaceV1 {
        net: String,
        first_seen: u64,
        last_seen: u64,
        country: Option<String>,
        asn: Option<u32>,
    }

    #[derive(serde::Serialize)]
    struct RecoveryV1 {
        phones: Vec<(String, u64, Option<u64>)>,
        places: Vec<PlaceV1>,
        question: Option<(String, String, u64)>,
        codes: Vec<[u8; 32]>,
        sent: Vec<(String, [u8; 32], u64, u32)>,
        pending: Vec<()>,
        recent: Vec<()>,
        next_id: u64,
    }

    #[derive(serde::Serialize)]
    struct TokenV1 {
        user: String,
        expires: u64,
    }

    #[test]
    fn schema_1_recovery_records_and_tokens_are_carried_over() {
        use super::super::tables::{RECOVERY_V1, TOKENS_V1};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        {
            let store = Store::open(&path).expect("create");
            store.add_user("alice", "phc", 1).expect("user");
        }
        {
            let db = Database::create(&path).expect("open");
            let tx = db.begin_write().expect("tx");
            {
                let rec = RecoveryV1 {
                    phones: vec![("+34612345678".into(), 5, Some(6))],
                    places: vec![PlaceV1 {
                        net: "192.0.2.0/24".into(),
                        first_seen: 0,
                        last_seen: 40 * 86_400,
                        country: Some("ES".into()),
                        asn: Some(3352),
                    }],
                    question: Some(("Pet?".into(), "$argon2id$x".into(), 7)),
                    codes: vec![[9; 32]],
                    sent: vec![],
                    pending: vec![],
                    recent: vec![],
                    next_id: 3,
                };
                let bytes = postcard::to_stdvec(&rec).expect("encode");
                tx.open_table(RECOVERY_V1).expect("table").insert("alice", bytes.as_slice()).expect("insert");
                let token = postcard::to_stdvec(&TokenV1 { user: "alice".into(), expires: u64::MAX }).expect("encode");
                tx.open_table(TOKENS_V1)
                    .expect("table")
                    .insert([4u8; 32].as_slice(), token.as_slice())
                    .expect("insert");
            }
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("open migrates");
        let rec = store.recovery("alice").expect("read").expect("account");
        assert!(rec.carried_over, "the owner is still to be told");
        assert_eq!(rec.phones.len(), 1);
        assert_eq!(rec.question.as_ref().map(|q| q.text.as_str()), Some("Pet?"));
        let place = rec.places.first().expect("place");
        assert_eq!((place.days, place.known_since, place.country.as_deref()), (2, None, Some("ES")));
        // Written back as schema 2 with its next change, and schema 1's row is gone.
        store
            .update_recovery("alice", |r| {
                r.carried_over = false;
                ((), true)
            })
            .expect("write");
        let rec = store.recovery("alice").expect("read").expect("account");
        assert!(!rec.carried_over);
        assert_eq!(rec.places.len(), 1);
        // The old token works, as issued to an unknown place.
        assert_eq!(store.token_user(&[4; 32], 10).expect("token"), Some("alice".into()));
        let tokens = store.user_tokens_at("alice", 10).expect("tokens");
        assert_eq!(tokens.iter().map(|t| t.net.clone()).collect::<Vec<_>>(), vec![None]);
    }

    /// A send an older binary began (before holds): its room in the recipient's mailbox was
    /// reserved until it ended. Opened by this binary, it is listed under its sender and
    /// held for the default hour from its last resume, then gives the room back.
    #[test]
    fn unfinished_sends_of_an_older_binary_are_indexed_and_hold_for_the_hour_only() {
        use super::super::deliveries::{open_key, Reservation};
        use super::super::holds::Hold;
        use super::super::records::{OpenMeta, OpenRecord, UserRecord};
        use super::super::tables::{OPEN, OPEN_META, OPEN_SEQ, RESERVED_TO, SPOOL_OF, USERS};

        const T0: u64 = 1_800_000_000;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        let key = open_key("alice", &[7; 32]);
        {
            let db = Database::create(&path).expect("create");
            let tx = db.begin_write().expect("tx");
            {
                let mut users = tx.open_table(USERS).expect("table");
                for name in ["alice", "bob"] {
                    let rec = UserRecord { phc: "phc".into(), created: T0 };
                    users.insert(name, encode(&rec, "users").expect("encode").as_slice()).expect("insert");
                }
                let rec = OpenRecord { id: 5, created: T0 };
                tx.open_table(OPEN)
                    .expect("t")
                    .insert(key.as_slice(), encode(&rec, "o").expect("e").as_slice())
                    .expect("i");
                tx.open_table(OPEN_SEQ).expect("t").insert(key.as_slice(), 1).expect("i");
                let meta = OpenMeta { sender: "alice".into(), to: "bob".into(), bytes: 90, files: 1 };
                let meta = encode(&meta, "m").expect("e");
                tx.open_table(OPEN_META).expect("t").insert(key.as_slice(), meta.as_slice()).expect("i");
                tx.open_table(RESERVED_TO).expect("t").insert("bob", (90, 1)).expect("i");
                tx.open_table(SPOOL_OF).expect("t").insert("alice", (90, 1, 1)).expect("i");
            }
            tx.commit().expect("commit");
        }
        let want = Reservation {
            bytes: 20,
            files: 1,
            quota_bytes: 100,
            quota_files: 1000,
            max_open: 10,
            deliveries: 1,
            hold: Hold { secs: 3600, renew_secs: 86_400 },
        };
        for _ in 0..2 {
            // Opened twice: the second start finds it indexed already and adds nothing.
            let store = Store::open(&path).expect("open migrates");
            let (sends, more) = store.pending_of("alice", 0, 10, 0).expect("pending");
            assert!(!more);
            assert_eq!(sends.len(), 1, "{sends:?}");
            assert_eq!((sends[0].id, sends[0].to.as_str(), sends[0].bytes), (5, "bob", 90));
            assert_eq!((sends[0].since, sends[0].held_until), (T0, Some(T0 + 3600)));
            assert_eq!(store.has_room("bob", &want, T0 + 10).expect("room"), Some(false));
        }
        let store = Store::open(&path).expect("open");
        assert_eq!(store.has_room("bob", &want, T0 + 3600).expect("room"), Some(true), "held past the hour");
        assert_eq!(store.pending_of("alice", 0, 10, 0).expect("pending").0[0].held_until, None);
        // Still alice's to drop, and dropping it gives her spool back.
        assert!(store.drop_pending("alice", 5).expect("drop"));
        assert!(store.pending_of("alice", 0, 10, 0).expect("pending").0.is_empty());
    }
}
