//! Holds on a recipient's mailbox tested through the store's own doors (`open_delivery`,
//! `has_room`, `commit_delivery`, `pending_of`, `drop_pending`): a send never finished
//! holds its recipient's room for the hold only, starting more sends or dropping and
//! starting again renews nothing, a finished send does, and past its hold a send must fit
//! again to resume or commit. (Apart from `holds.rs`, so that it may use `deliveries.rs`,
//! which uses it.)

#[cfg(test)]
mod tests {
    use super::super::db::Store;
    use super::super::deliveries::{Opened, Opening, Reservation};
    use super::super::error::StoreError;
    use super::super::holds::Hold;
    use crate::wire::Envelope;

    const T0: u64 = 1_800_000_000;
    const HOLD: Hold = Hold { secs: 3600, renew_secs: 86_400 };

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db.redb")).expect("open");
        for name in ["alice", "bob", "carol", "mallory"] {
            store.add_user(name, "phc", T0).expect("add");
        }
        (dir, store)
    }

    fn want(bytes: u64) -> Reservation {
        Reservation { bytes, files: 1, quota_bytes: 100, quota_files: 1000, max_open: 10, deliveries: 1, hold: HOLD }
    }

    fn open(store: &Store, from: &str, key: u8, bytes: u64, now: u64) -> Opening {
        store.open_delivery(from, "bob", &[key; 32], now, want(bytes)).expect("open")
    }

    fn opened(o: Opening) -> u64 {
        match o {
            Opening::Opened(Opened { id, .. }) => id,
            other => panic!("not opened: {other:?}"),
        }
    }

    fn held(store: &Store, from: &str, id: u64) -> Option<u64> {
        let (sends, _) = store.pending_of(from, 0, 100, 0).expect("pending");
        sends.into_iter().find(|p| p.id == id).expect("listed").held_until
    }

    #[test]
    fn a_send_never_finished_holds_its_recipients_room_for_the_hold_only() {
        let (_dir, store) = store();
        let first = opened(open(&store, "mallory", 1, 80, T0));
        assert_eq!(held(&store, "mallory", first), Some(T0 + 3600));
        assert_eq!(open(&store, "carol", 9, 30, T0 + 10), Opening::NoRoom);
        // Past the hold bob's mailbox is free again, though mallory's send is still open
        // (it counts against mallory's own spool until it ends).
        let carol = opened(open(&store, "carol", 9, 30, T0 + 3601));
        assert_eq!(held(&store, "mallory", first), None);
        // Mallory's further sends there hold nothing: they must fit, and hold no room.
        let second = opened(open(&store, "mallory", 2, 20, T0 + 3602));
        assert_eq!(held(&store, "mallory", second), None);
        assert_eq!(store.has_room("bob", &want(70), T0 + 3603).expect("room"), Some(true));
        // Dropping them and starting again renews nothing.
        assert!(store.drop_pending("mallory", first).expect("drop"));
        assert!(store.drop_pending("mallory", second).expect("drop"));
        assert!(!store.drop_pending("mallory", carol).expect("not mallory's"), "dropped another sender's send");
        let third = opened(open(&store, "mallory", 3, 70, T0 + 3604));
        assert_eq!(held(&store, "mallory", third), None);
        // A day after the hold began, mallory may hold room there again, for an hour.
        assert!(store.drop_pending("mallory", third).expect("drop"));
        let fourth = opened(open(&store, "mallory", 4, 70, T0 + 86_400));
        assert_eq!(held(&store, "mallory", fourth), Some(T0 + 86_400 + 3600));
        assert_eq!(open(&store, "alice", 5, 40, T0 + 86_401), Opening::NoRoom, "mallory's 70 held again");
        assert_eq!(store.pending_of("mallory", 0, 10, 0).expect("pending").0.len(), 1, "dropped sends are gone");
    }

    #[test]
    fn finishing_a_send_gives_its_sender_a_new_hold() {
        let (_dir, store) = store();
        let id = opened(open(&store, "alice", 1, 10, T0));
        let envelope = Envelope {
            id,
            from: "alice".into(),
            to: "bob".into(),
            time: T0 + 60,
            subject: None,
            body: Some("0123456789".into()),
            files: 0,
            bytes: 0,
        };
        store.commit_delivery(&envelope, &[], &[], &[1; 32], &[], (100, 1000)).expect("commit");
        let next = opened(open(&store, "alice", 2, 10, T0 + 7200));
        assert_eq!(held(&store, "alice", next), Some(T0 + 7200 + 3600));
    }

    #[test]
    fn past_its_hold_a_send_must_fit_again_to_resume_or_commit() {
        let (_dir, store) = store();
        let id = opened(open(&store, "mallory", 1, 60, T0));
        opened(open(&store, "carol", 9, 50, T0 + 3601));
        // Resumed: what it asks must fit now (50 held for carol, 60 more is too much).
        assert_eq!(open(&store, "mallory", 1, 60, T0 + 3602), Opening::NoRoomAnyMore { id });
        let refused = store.check_commit("mallory", &[1; 32], "bob", id, T0 + 3602, (100, 1000));
        assert!(matches!(refused, Err(StoreError::NoRoom)), "{refused:?}");
        // Room again (carol's send dropped): the same send resumes, still without a hold.
        let (carols, _) = store.pending_of("carol", 0, 10, 0).expect("pending");
        assert!(store.drop_pending("carol", carols[0].id).expect("drop"));
        match open(&store, "mallory", 1, 60, T0 + 3603) {
            Opening::Opened(Opened { id: again, resumed: true, .. }) => assert_eq!(again, id),
            other => panic!("{other:?}"),
        }
        assert_eq!(held(&store, "mallory", id), None);
        store.check_commit("mallory", &[1; 32], "bob", id, T0 + 3604, (100, 1000)).expect("fits now");
    }
}
