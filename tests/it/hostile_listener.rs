//! The client against a hostile listener (a fake one built from the library's codec over
//! real QUIC + TLS): it caps what it accepts, names files from what it asked for, and
//! times out stalls.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use qxfer::policy::NetLimits;
use qxfer::transport::endpoint::{server_config, server_endpoint};
use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::transport::tls;
use qxfer::wire::{Attachment, Envelope, GetReply, Request, Response, StreamHead, Summary};

use crate::raw::rt;
use crate::support::*;

/// How the fake listener misbehaves.
#[derive(Clone, Copy)]
enum Lie {
    /// Inbox pages that never end.
    EndlessInbox,
    /// Answers `Open` for another delivery than asked.
    WrongDelivery,
    /// Offers a file, then sends 10 bytes of it and stalls.
    StalledDownload,
}

fn envelope(id: u64, files: u32) -> Envelope {
    Envelope {
        id,
        from: "bob".into(),
        to: "alice".into(),
        time: 0,
        subject: Some("s".into()),
        body: None,
        files,
        bytes: 1000,
    }
}

async fn serve(conn: quinn::Connection, lie: Lie) {
    let Ok((mut send, mut recv)) = conn.accept_bi().await else { return };
    let conn2 = conn.clone();
    tokio::spawn(async move {
        while let Ok((mut s, mut r)) = conn2.accept_bi().await {
            if let Ok(Some(StreamHead::Get { .. })) = read_frame::<StreamHead>(&mut r).await {
                let _ = write_frame(&mut s, &GetReply::Ready { len: 1000 }).await;
                let _ = s.write_all(&[0u8; 10]).await;
                tokio::time::sleep(Duration::from_secs(120)).await;
            }
        }
    });
    while let Ok(Some(req)) = read_frame::<Request>(&mut recv).await {
        let reply = match (req, lie) {
            (Request::Login { user, .. }, _) => Response::LoggedIn { user, token: None },
            (Request::Inbox { after }, _) => Response::InboxPage {
                items: (1..=500)
                    .map(|i| Summary { id: after + i, from: "bob".into(), time: 0, subject: None, files: 0, bytes: 0 })
                    .collect(),
                more: true,
            },
            // A qxfer/6 client asks with `OpenAll` (every recipient too).
            (Request::OpenAll { id, .. }, Lie::WrongDelivery) => Response::EnvelopeAll {
                envelope: envelope(id + 1, 0),
                recipients: vec!["alice".into()],
                attachments: vec![],
                meta: vec![],
                more: false,
            },
            (Request::OpenAll { id, .. }, _) => {
                let hash = [0; 32];
                let att = Attachment {
                    path: "f.bin".into(),
                    size: 1000,
                    hash,
                    media_type: "application/octet-stream".into(),
                };
                Response::EnvelopeAll {
                    envelope: envelope(id, 1),
                    recipients: vec!["alice".into()],
                    attachments: vec![att],
                    meta: vec![None],
                    more: false,
                }
            }
            _ => return,
        };
        if write_frame(&mut send, &reply).await.is_err() {
            return;
        }
    }
}

/// Start a fake listener; returns its address, fingerprint and runtime.
fn fake(lie: Lie) -> (String, String, tokio::runtime::Runtime, tempfile::TempDir) {
    let rt = rt();
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, fp) = rt.block_on(async {
        let id = tls::load_or_create_identity(dir.path(), None, None).expect("identity");
        let fp = tls::format_fingerprint(&id.fingerprint());
        let ep = server_endpoint(
            "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
            server_config(&id, &NetLimits::default()).expect("config"),
        )
        .expect("endpoint");
        let addr = ep.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            while let Some(incoming) = ep.accept().await {
                if let Ok(conn) = incoming.await {
                    tokio::spawn(serve(conn, lie));
                }
            }
        });
        (addr, fp)
    });
    (addr, fp, rt, dir)
}

fn client(addr: &str, fp: &str, work: &std::path::Path, sub: &str) -> std::process::Command {
    let mut c = qxfer();
    c.current_dir(work).env("QXFER_CONFIG_DIR", work.join("cfg")).env("QXFER_PASSWORD", PASSWORD).args([
        sub,
        addr,
        "--user",
        "alice",
        "--fingerprint",
        fp,
    ]);
    c
}

#[test]
fn endless_inbox_pages_are_capped() {
    let (addr, fp, _rt, _d) = fake(Lie::EndlessInbox);
    let work = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let out = client(&addr, &fp, work.path(), "inbox").output().expect("inbox");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("more than 100000"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_delivery_other_than_the_one_asked_for_is_refused() {
    let (addr, fp, _rt, _d) = fake(Lie::WrongDelivery);
    let work = tempfile::tempdir().expect("tempdir");
    let out = client(&addr, &fp, work.path(), "fetch").args(["5", "-o", "out"]).output().expect("fetch");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("asked for delivery 5, got 6"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!work.path().join("out/6.txt").exists() && !work.path().join("out/5.txt").exists());
}

#[test]
fn a_stalled_download_times_out() {
    let (addr, fp, _rt, _d) = fake(Lie::StalledDownload);
    let work = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let out = client(&addr, &fp, work.path(), "fetch").args(["5", "-o", "out"]).output().expect("fetch");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too slow"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
    // The message file is named from the id asked for.
    assert!(work.path().join("out/5.txt").exists());
}
