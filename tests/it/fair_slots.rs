//! Upload disk slots are shared fairly: accounts holding stalled uploads at their limits,
//! however many, cannot hold every slot; another user's small send is served at once (a
//! stalled upload of whoever holds the most gives its slot up), before any stalled upload
//! reaches its deadline; and an account out of slots is told so at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::wire::{ErrorCode, FileEntry, PutReply, Request, Response, StreamHead};

use crate::fair_queue::{add_users, password_login};
use crate::raw::{run, Raw};
use crate::support::*;

/// Stalled uploads each attacker opens: more than `max_uploads_per_account` (64).
const STREAMS: u32 = 70;
/// The deadline of a stalled upload (`progress_window_secs`).
const WINDOW_SECS: u64 = 15;

/// What became of one stalled upload: nothing yet, or its reply and when.
type Fate = Arc<Mutex<Option<(Instant, Option<PutReply>)>>>;

/// An attacker: a connection of `account` from `bind` with `STREAMS` zero-byte uploads
/// open that never send their trailer.
async fn stall(bind: &str, addr: &str, account: &str) -> (Raw, Vec<quinn::SendStream>, Vec<Fate>) {
    let mut raw = password_login(bind, addr, account).await;
    let id = raw.begin(STREAMS, 0, 1).await;
    let entries = (0..STREAMS).map(|i| FileEntry { path: format!("f{i}"), size: 0 }).collect();
    let added = raw.call(&Request::AddFiles { entries }).await;
    assert!(matches!(added, Some(Response::FilesAdded { .. })), "{account}: {added:?}");
    let (mut sends, mut fates) = (Vec::new(), Vec::new());
    for index in 0..STREAMS {
        let (mut send, mut recv) = raw.conn.open_bi().await.expect("stream");
        write_frame(&mut send, &StreamHead::Put { id, index, offset: 0 }).await.expect("head");
        let fate: Fate = Arc::default();
        let f = fate.clone();
        tokio::spawn(async move {
            let reply = read_frame::<PutReply>(&mut recv).await.ok().flatten();
            *f.lock().expect("fate") = Some((Instant::now(), reply));
        });
        sends.push(send); // no trailer, ever
        fates.push(fate);
    }
    (raw, sends, fates)
}

fn replied(fates: &[Fate], words: &str) -> usize {
    fates
        .iter()
        .filter(|f| {
            f.lock().expect("fate").as_ref().is_some_and(|(_, r)| {
                matches!(r, Some(PutReply::Error { code: ErrorCode::Limit, message }) if message.contains(words))
            })
        })
        .count()
}

/// `attackers` accounts, each on a network of its own, hold stalled uploads at their limits;
/// alice's 6-byte send to bob completes while every one of their connections is still open
/// (no stalled upload has reached its deadline and given its slot back); then their
/// deadlines cut every stalled upload off.
fn a_small_send_is_served_before_stalled_uploads_give_their_slots_back(attackers: u32) {
    let listener = Listener::with_config(&format!(
        "[limits]\nprogress_window_secs = {WINDOW_SECS}\nrequests_per_second_per_ip = 1000\nrequest_burst = 1000\n\
         requests_per_second_per_account = 1000\n[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n"
    ));
    add_users(&listener, (0..attackers).map(|a| format!("m{a}")).chain(["alice".into(), "bob".into()]).collect());
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("small.txt"), b"hello\n").expect("write");
    let addr = listener.addr.clone();
    run(async {
        let mut held = Vec::new();
        let started = Instant::now();
        for a in 0..attackers {
            held.push(stall(&format!("127.6.{a}.1"), &addr, &format!("m{a}")).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let fates: Vec<Fate> = held.iter().flat_map(|(_, _, f)| f.iter().cloned()).collect();
        let full = replied(&fates, "max_uploads_per_account");
        let stopped = replied(&fates, "gave this upload's disk slot");
        let stalled = fates.iter().filter(|f| f.lock().expect("fate").is_none()).count();
        eprintln!(
            "{attackers} accounts opened {} stalled uploads in {:.1} s: {full} refused at once (account at its \
             cap), {stopped} stopped for a fairer account, {stalled} holding or waiting",
            fates.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(stalled >= 256, "the attackers hold fewer than every slot: {stalled}");
        if attackers == 4 {
            // Four accounts at 64 each hold all 256; past its cap an account is told at once.
            assert_eq!(full, 4 * (STREAMS as usize - 64), "refusals at the cap");
            let mut more = password_login("127.6.0.2", &addr, "m0").await;
            let id = more.begin(1, 0, 2).await;
            let entries = vec![FileEntry { path: "g".into(), size: 0 }];
            let t = Instant::now();
            let r = more.call(&Request::AddFiles { entries }).await;
            eprintln!("a fifth connection of m0: AddFiles answered in {:.3} s: {r:?}", t.elapsed().as_secs_f64());
            let _ = id;
            assert!(
                matches!(&r, Some(Response::Error { code: ErrorCode::Limit, message }) if message.contains("max_uploads_per_account")),
                "{r:?}"
            );
        }
        // Alice's small send, served at once.
        let mut send = alice.cmd("send");
        send.args(["--to", "bob", "small.txt"]);
        let t = Instant::now();
        let out = tokio::task::spawn_blocking(move || send.output().expect("send")).await.expect("join");
        let took = t.elapsed();
        ok(&out);
        let open = held.iter().filter(|(raw, _, _)| raw.conn.close_reason().is_none()).count();
        eprintln!(
            "alice's send took {:.2} s, {:.1} s after the first stalled upload; {open} of {attackers} attackers' \
             connections still open",
            took.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(open, attackers as usize, "a stalled upload reached its deadline before alice's send was served");
        // Each stalled upload gives its slot back at its deadline (cut off, its connection
        // closed), and each one still waiting for a slot is told at its deadline: none hangs.
        let deadline = Instant::now() + Duration::from_secs(3 * WINDOW_SECS);
        let fates: Vec<Fate> = held.iter().flat_map(|(_, _, f)| f.iter().cloned()).collect();
        loop {
            let pending = fates.iter().filter(|f| f.lock().expect("fate").is_none()).count();
            if pending == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{pending} stalled uploads outlived their deadline");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("every stalled upload had ended {:.1} s after the first", started.elapsed().as_secs_f64());
    });
    let bob = User::new(&listener, "bob");
    let inbox = ok(&bob.cmd("inbox").output().expect("inbox"));
    assert!(inbox.contains("alice"), "{inbox}");
}

#[test]
fn four_accounts_stalling_uploads_at_their_limits_do_not_hold_every_disk_slot() {
    a_small_send_is_served_before_stalled_uploads_give_their_slots_back(4);
}

#[test]
fn sixteen_accounts_stalling_uploads_at_their_limits_do_not_hold_every_disk_slot() {
    a_small_send_is_served_before_stalled_uploads_give_their_slots_back(16);
}
