//! Pins the wire bytes of every message type: variant order and field order are the protocol
//! contract, and a change here is a protocol version change (new ALPN).

use qxfer::wire::*;

fn frame<T: serde::Serialize>(v: &T) -> String {
    hex::encode(encode_frame(v, MAX_FRAME).expect("encode"))
}

/// The envelope the golden samples carry.
fn sample_envelope() -> Envelope {
    Envelope {
        id: 1,
        from: "al".into(),
        to: "bo".into(),
        time: 2,
        subject: None,
        body: Some("hi".into()),
        files: 1,
        bytes: 3,
    }
}

fn samples() -> Vec<(&'static str, String)> {
    let h = [0xab; 32];
    vec![
        ("login_password", frame(&Request::Login { user: "al".into(), credential: Credential::Password("pw".into()) })),
        ("login_token", frame(&Request::Login { user: "al".into(), credential: Credential::Token([1; 32]) })),
        (
            "begin",
            frame(&Request::Begin(Begin {
                to: Some("bo".into()),
                subject: Some("S".into()),
                body: None,
                files: 2,
                bytes: 300,
                resume_key: [2; 32],
            })),
        ),
        ("add_files", frame(&Request::AddFiles { entries: vec![FileEntry { path: "a/b".into(), size: 5 }] })),
        ("commit", frame(&Request::Commit)),
        ("inbox", frame(&Request::Inbox { after: 7 })),
        ("open", frame(&Request::Open { id: 9, from: 1 })),
        ("logged_in", frame(&Response::LoggedIn { user: "al".into(), token: None })),
        ("began", frame(&Response::Began { id: 3, resumed: true })),
        (
            "files_added",
            frame(&Response::FilesAdded { have: vec![Have::Partial(0), Have::Complete(h), Have::Partial(4)] }),
        ),
        ("committed", frame(&Response::Committed { id: 3, time: 1 })),
        (
            "inbox_page",
            frame(&Response::InboxPage {
                items: vec![Summary { id: 1, from: "al".into(), time: 2, subject: None, files: 0, bytes: 0 }],
                more: false,
            }),
        ),
        (
            "envelope",
            frame(&Response::Envelope {
                envelope: sample_envelope(),
                attachments: vec![Attachment { path: "f".into(), size: 3, hash: h, media_type: "text/plain".into() }],
                more: false,
            }),
        ),
        ("error", frame(&Response::Error { code: ErrorCode::NotFound, message: "no".into() })),
        ("delivered", frame(&Response::Delivered { id: 3, time: 1 })),
        ("put", frame(&StreamHead::Put { id: 1, index: 2, offset: 300 })),
        ("get", frame(&StreamHead::Get { id: 1, index: 0, offset: 0 })),
        ("file_end", frame(&FileEnd { hash: [0; 32] })),
        ("stored", frame(&PutReply::Stored { hash: [0; 32] })),
        ("put_error", frame(&PutReply::Error { code: ErrorCode::Integrity, message: "x".into() })),
        ("ready", frame(&GetReply::Ready { len: 128 })),
        ("get_error", frame(&GetReply::Error { code: ErrorCode::Limit, message: "x".into() })),
        ("unseen", frame(&Request::Unseen { after: 7 })),
        ("delete", frame(&Request::Delete { ids: vec![1, 300] })),
        ("mark_seen", frame(&Request::MarkSeen { ids: vec![2] })),
        (
            "add_files_meta",
            frame(&Request::AddFilesMeta {
                entries: vec![FileEntry { path: "a".into(), size: 5 }],
                meta: vec![FileMeta { mode: 0o644, mtime: 1_700_000_000 }],
            }),
        ),
        ("open_meta", frame(&Request::OpenMeta { id: 9, from: 1 })),
        ("affected", frame(&Response::Affected { ids: vec![1] })),
        (
            "envelope_meta",
            frame(&Response::EnvelopeMeta {
                envelope: Envelope { body: None, ..sample_envelope() },
                attachments: vec![Attachment { path: "f".into(), size: 3, hash: h, media_type: "x/y".into() }],
                meta: vec![Some(FileMeta { mode: 0o755, mtime: 5 })],
                more: false,
            }),
        ),
        (
            "begin_many",
            frame(&Request::BeginMany {
                begin: Begin {
                    to: None,
                    subject: None,
                    body: Some("b".into()),
                    files: 0,
                    bytes: 0,
                    resume_key: [3; 32],
                },
                also: vec!["bo".into(), "cy".into()],
            }),
        ),
        (
            "committed_many",
            frame(&Response::CommittedMany {
                id: 3,
                time: 1,
                copies: vec![Copy { to: "bo".into(), id: 4 }],
                missed: vec![Missed { to: "cy".into(), reason: "full".into() }],
            }),
        ),
        ("challenge", frame(&Request::Challenge { user: "al".into() })),
        (
            "login_solved",
            frame(&Request::LoginSolved {
                user: "al".into(),
                credential: Credential::Password("pw".into()),
                solution: Solution { ticket: sample_ticket(), counter: 300, answer: Some("K7".into()) },
            }),
        ),
        (
            "challenge_reply",
            frame(&Response::Challenge {
                ticket: sample_ticket(),
                picture: Some(Picture { width: 9, height: 1, bits: vec![0x80, 0x80] }),
            }),
        ),
        ("challenge_required", frame(&Response::Error { code: ErrorCode::ChallengeRequired, message: "c".into() })),
        ("challenge_failed", frame(&Response::Error { code: ErrorCode::ChallengeFailed, message: "f".into() })),
        (
            "recover_start",
            frame(&Request::RecoverStart {
                user: "al".into(),
                solution: Solution { ticket: sample_ticket(), counter: 1, answer: None },
            }),
        ),
        (
            "recover_finish",
            frame(&Request::RecoverFinish {
                user: "al".into(),
                code: "12345678".into(),
                proof: Proof::Answer("tom".into()),
                new_password: "pw".into(),
                solution: Solution { ticket: sample_ticket(), counter: 1, answer: None },
            }),
        ),
        ("cancel_change", frame(&Request::CancelChange { code: "k4x9m".into() })),
        ("account_show", frame(&Request::Account(AccountRequest::Show))),
        (
            "account_passwd",
            frame(&Request::Account(AccountRequest::Passwd {
                password: "a".into(),
                new_password: "b".into(),
                auth: Some("12345678".into()),
            })),
        ),
        (
            "account_phone_verify",
            frame(&Request::Account(AccountRequest::PhoneVerify {
                number: "+3461".into(),
                code: "12345678".into(),
                password: "a".into(),
                auth: None,
            })),
        ),
        ("account_done", frame(&Response::Account(AccountReply::Done { text: "ok".into() }))),
        ("account_changed", frame(&Response::Account(AccountReply::Changed { at: Some(9), text: "w".into() }))),
        (
            "account_view",
            frame(&Response::Account(AccountReply::View(AccountView {
                phones: vec![PhoneView { number: "+3461".into(), added: 1, verified: Some(2), recovery: true }],
                places: vec![PlaceView {
                    net: "127.0.0.0/24".into(),
                    first_seen: 1,
                    last_seen: 2,
                    origin: String::new(),
                    known: true,
                }],
                question: Some("q".into()),
                codes_left: 10,
                pending: vec![PendingView { id: 1, what: "w".into(), requested: 1, at: 2, from: "f".into() }],
                here_known: false,
            }))),
        ),
        ("register_challenge", frame(&Request::RegisterChallenge { user: "al".into() })),
        (
            "register",
            frame(&Request::Register {
                user: "al".into(),
                password: "pw".into(),
                solution: Solution { ticket: sample_ticket(), counter: 1, answer: Some("K7".into()) },
            }),
        ),
        (
            "account_token_new",
            frame(&Request::Account(AccountRequest::TokenNew { password: "a".into(), automation: true })),
        ),
        (
            "account_token",
            frame(&Response::Account(AccountReply::Token { token: "ab".repeat(32), id: "abcdef".into() })),
        ),
        (
            "login_with_code",
            frame(&Request::LoginWithCode {
                user: "al".into(),
                credential: Credential::Password("pw".into()),
                code: "12345678".into(),
                solution: None,
            }),
        ),
        (
            "account_disown",
            frame(&Request::Account(AccountRequest::Disown {
                net: "10.0.0.0/24".into(),
                password: "pw".into(),
                auth: None,
            })),
        ),
        (
            "recover_question",
            frame(&Request::RecoverQuestion {
                user: "al".into(),
                code: "12345678".into(),
                solution: Solution { ticket: sample_ticket(), counter: 1, answer: None },
            }),
        ),
        (
            "account_question",
            frame(&Response::Account(AccountReply::Question {
                question: Some("q".into()),
                recovery_codes: true,
                tries: 5,
                until: 9,
            })),
        ),
        ("delete_each", frame(&Request::DeleteEach { ids: vec![1, 300] })),
        (
            "delete_report",
            frame(&Response::DeleteReport { deleted: vec![1], refused: vec![Refusal { id: 2, why: "w".into() }] }),
        ),
        ("open_all", frame(&Request::OpenAll { id: 9, from: 1 })),
        (
            "envelope_all",
            frame(&Response::EnvelopeAll {
                envelope: sample_envelope(),
                recipients: vec!["cy".into(), "bo".into()],
                attachments: vec![],
                meta: vec![],
                more: false,
            }),
        ),
        ("pending_sends", frame(&Request::PendingSends { after: 7 })),
        ("drop_pending", frame(&Request::DropPending { id: 300 })),
        (
            "pending_page",
            frame(&Response::PendingPage {
                items: vec![PendingSend {
                    id: 3,
                    to: "bo".into(),
                    bytes: 300,
                    files: 2,
                    since: 4,
                    last: 5,
                    held_until: Some(6),
                    expires: 7,
                }],
                more: false,
            }),
        ),
        (
            "account_tokens_revoke_as",
            frame(&Request::Account(AccountRequest::TokensRevokeAs { id: Some("ab12".into()), password: "pw".into() })),
        ),
        (
            "account_token_new_auth",
            frame(&Request::Account(AccountRequest::TokenNewAuth {
                password: "pw".into(),
                automation: true,
                auth: Some("12345678".into()),
            })),
        ),
        (
            "account_token_from",
            frame(&Response::Account(AccountReply::TokenFrom { token: "ab".repeat(32), id: "abcdef".into(), at: 9 })),
        ),
    ]
}

fn sample_ticket() -> Ticket {
    Ticket {
        kind: ChallengeKind::Captcha,
        bits: 16,
        prefix: "127.0.0.0/24".parse().expect("net"),
        issued_ms: 1,
        expires_ms: 2,
        nonce: [5; 16],
        answer: [6; 32],
        mac: [7; 32],
    }
}

const GOLDEN: &[(&str, &str)] = &[
    ("login_password", "000000080002616c00027077"),
    ("login_token", "000000250002616c010101010101010101010101010101010101010101010101010101010101010101"),
    ("begin", "0000002c010102626f0101530002ac020202020202020202020202020202020202020202020202020202020202020202"),
    ("add_files", "00000007020103612f6205"),
    ("commit", "0000000103"),
    ("inbox", "000000020407"),
    ("open", "00000003050901"),
    ("logged_in", "000000050002616c00"),
    ("began", "00000003010301"),
    ("files_added", "000000270203000001abababababababababababababababababababababababababababababababab0004"),
    ("committed", "00000003030301"),
    ("inbox_page", "0000000b04010102616c0200000000"),
    ("envelope", "00000040050102616c02626f020001026869010301016603abababababababababababababababababababababababababababababababab0a746578742f706c61696e00"),
    ("error", "000000050602026e6f"),
    ("delivered", "00000003070301"),
    ("put", "00000005000102ac02"),
    ("get", "0000000401010000"),
    ("file_end", "000000200000000000000000000000000000000000000000000000000000000000000000"),
    ("stored", "00000021000000000000000000000000000000000000000000000000000000000000000000"),
    ("put_error", "0000000401040178"),
    ("ready", "00000003008001"),
    ("get_error", "0000000401030178"),
    ("unseen", "000000020607"),
    ("delete", "00000005070201ac02"),
    ("mark_seen", "00000003080102"),
    ("add_files_meta", "0000000d090101610501a40380e2cfaa06"),
    ("open_meta", "000000030a0901"),
    ("affected", "00000003080101"),
    ("envelope_meta", "0000003b090102616c02626f020000010301016603abababababababababababababababababababababababababababababababab03782f790101ed030500"),
    ("begin_many", "0000002f0b0000010162000003030303030303030303030303030303030303030303030303030303030303030202626f026379"),
    ("committed_many", "000000110a03010102626f04010263790466756c6c"),
    ("challenge", "000000040c02616c"),
    ("login_solved", "000000680d02616c000270770110007f0000001801020505050505050505050505050505050506060606060606060606060606060606060606060606060606060606060606060707070707070707070707070707070707070707070707070707070707070707ac0201024b37"),
    ("challenge_reply", "000000610b0110007f0000001801020505050505050505050505050505050506060606060606060606060606060606060606060606060606060606060606060707070707070707070707070707070707070707070707070707070707070707010901028080"),
    ("challenge_required", "0000000406060163"),
    ("challenge_failed", "0000000406070166"),
    ("recover_start", "000000600e02616c0110007f00000018010205050505050505050505050505050505060606060606060606060606060606060606060606060606060606060606060607070707070707070707070707070707070707070707070707070707070707070100"),
    ("recover_finish", "000000710f02616c0831323334353637380003746f6d0270770110007f00000018010205050505050505050505050505050505060606060606060606060606060606060606060606060606060606060606060607070707070707070707070707070707070707070707070707070707070707070100"),
    ("cancel_change", "0000000710056b3478396d"),
    ("account_show", "000000021100"),
    ("account_passwd", "0000001011080161016201083132333435363738"),
    ("account_phone_verify", "000000141104052b33343631083132333435363738016100"),
    ("account_done", "000000050c00026f6b"),
    ("account_changed", "000000060c0101090177"),
    ("account_view", "0000002c0c0301052b3334363101010201010c3132372e302e302e302f3234010200010101710a010101770102016600"),
    ("register_challenge", "000000041202616c"),
    ("register", "000000661302616c0270770110007f00000018010205050505050505050505050505050505060606060606060606060606060606060606060606060606060606060606060607070707070707070707070707070707070707070707070707070707070707070101024b37"),
    ("account_token_new", "00000005110c016101"),
    ("account_token", "0000004a0c06406162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616206616263646566"),
    ("login_with_code", "000000121402616c0002707708313233343536373800"),
    ("account_disown", "00000012110d0b31302e302e302e302f323402707700"),
    ("recover_question", "000000691502616c0831323334353637380110007f00000018010205050505050505050505050505050505060606060606060606060606060606060606060606060606060606060606060607070707070707070707070707070707070707070707070707070707070707070100"),
    ("account_question", "000000080c07010171010509"),
    ("delete_each", "00000005160201ac02"),
    ("delete_report", "000000070d010101020177"),
    ("open_all", "00000003170901"),
    ("envelope_all", "0000001a0e0102616c02626f02000102686901030202637902626f000000"),
    ("pending_sends", "000000021807"),
    ("drop_pending", "0000000319ac02"),
    ("pending_page", "0000000f0f010302626fac0202040501060700"),
    ("account_tokens_revoke_as", "0000000b110e010461623132027077"),
    ("account_token_new_auth", "00000010110f0270770101083132333435363738"),
    ("account_token_from", "0000004b0c0840616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261620661626364656609"),
];

#[test]
fn the_protocol_version_is_pinned() {
    // qxfer/6: a login with a code past a lockout, the secret question shown with the right
    // texted code. qxfer/5: account recovery and settings.
    // qxfer/4: challenges. qxfer/3: appended requests (unseen, delete, mark seen, file
    // modes and times). A wire change bumps it; qxfer/5, qxfer/4, qxfer/3 and qxfer/2
    // clients are still served.
    assert_eq!(qxfer::wire::ALPN, b"qxfer/6");
    assert_eq!(qxfer::wire::ALPN_V5, b"qxfer/5");
    assert_eq!(qxfer::wire::ALPN_V4, b"qxfer/4");
    assert_eq!(qxfer::wire::ALPN_V3, b"qxfer/3");
    assert_eq!(qxfer::wire::ALPN_V2, b"qxfer/2");
    assert_eq!(qxfer::wire::ALPN_V1, b"qxfer/1");
}

#[test]
fn wire_bytes_are_pinned() {
    let got = samples();
    let listing: String = got.iter().map(|(n, h)| format!("    (\"{n}\", \"{h}\"),\n")).collect();
    assert_eq!(got.len(), GOLDEN.len(), "golden table out of date:\n{listing}");
    for ((name, hex), (gname, ghex)) in got.iter().zip(GOLDEN) {
        assert_eq!(name, gname);
        assert_eq!(hex, ghex, "{name} changed: the wire format is a contract\n{listing}");
    }
}

#[test]
fn every_golden_frame_decodes_back() {
    for (name, hex) in GOLDEN {
        let bytes = hex::decode(hex).expect("hex");
        let ok = match *name {
            "login_password"
            | "login_token"
            | "begin"
            | "add_files"
            | "commit"
            | "inbox"
            | "open"
            | "unseen"
            | "delete"
            | "mark_seen"
            | "add_files_meta"
            | "open_meta"
            | "begin_many"
            | "challenge"
            | "login_solved"
            | "recover_start"
            | "recover_finish"
            | "cancel_change"
            | "account_show"
            | "account_passwd"
            | "account_phone_verify"
            | "register_challenge"
            | "register"
            | "account_token_new"
            | "login_with_code"
            | "account_disown"
            | "recover_question"
            | "delete_each"
            | "open_all"
            | "pending_sends"
            | "drop_pending"
            | "account_tokens_revoke_as"
            | "account_token_new_auth" => decode_frame::<Request>(&bytes, MAX_FRAME).is_ok(),
            "put" | "get" => decode_frame::<StreamHead>(&bytes, MAX_FRAME).is_ok(),
            "file_end" => decode_frame::<FileEnd>(&bytes, MAX_FRAME).is_ok(),
            "stored" | "put_error" => decode_frame::<PutReply>(&bytes, MAX_FRAME).is_ok(),
            "ready" | "get_error" => decode_frame::<GetReply>(&bytes, MAX_FRAME).is_ok(),
            _ => decode_frame::<Response>(&bytes, MAX_FRAME).is_ok(),
        };
        assert!(ok, "{name}");
    }
}
