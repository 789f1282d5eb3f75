//! Answering a listener's challenge after failed logins: the captcha is shown with Unicode
//! block characters on the terminal (half blocks for a qxfer/5 listener's picture,
//! quadrants for the wider qxfer/6 one) (and written as a PNG with `--captcha-file`), its text is
//! typed on the terminal, and the proof of work is solved, its progress reported as
//! [`Event`]s (drawn as a progress line by the binary). The
//! picture is a small bounded 1-bit bitmap, checked before anything is drawn: nothing
//! richer is ever decoded from a listener.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::error::{local, ClientError, Result};
use super::events::{no_events, Event, Events};
use crate::challenge::captcha::Bitmap;
use crate::challenge::pow;
use crate::policy::challenges::HumanTiming;
use crate::wire::{Picture, Solution, Ticket, MAX_ANSWER};

/// Hashes tried between progress updates.
const STEP: u64 = 1 << 16;
/// The most work this client does for a listener (2^28 hashes: about half a minute of one
/// core): a hostile listener cannot keep it busy for hours. A listener's config refuses more.
pub const MAX_CLIENT_WORK_BITS: u8 = crate::policy::challenges::MAX_LISTENER_BITS;

/// Solve `ticket`: the proof of work starts at once, on a blocking thread, while the person
/// reads the captcha (if it is one) and types its text. The work's progress goes to
/// `progress` when no captcha is shown. `why` says why the listener asks for it
/// (`after failed logins for this account or address`).
pub(crate) async fn solve(
    ticket: Ticket,
    picture: Option<Picture>,
    captcha_file: Option<&Path>,
    progress: &Events,
    why: &str,
) -> Result<Solution> {
    let received = std::time::Instant::now();
    let bm = match picture {
        Some(p) => Some(
            Bitmap::from_wire(p.width, p.height, p.bits)
                .map_err(|e| ClientError::Protocol(format!("the listener sent a bad captcha: {e}")))?,
        ),
        None => None,
    };
    if let (Some(path), Some(bm)) = (captcha_file, &bm) {
        write_png(path, bm)?;
    }
    // Checked before anything else: a person must have a terminal to type on.
    if bm.is_some() && test_answer(&ticket).is_none() && !std::io::stderr().is_terminal() {
        return Err(ClientError::Challenge(
            "the listener asks for a captcha (after failed logins or guesses, or for a registration), and there is \
             no terminal to show it on or type its text: run the command once on a terminal (after a login, its \
             session token lets scripts log in without one; scripts may also use an automation token, \
             `qxfer account tokens new --automation`)"
                .into(),
        ));
    }
    let shown = std::io::stderr().is_terminal();
    if bm.is_none() && shown {
        eprintln!("The listener asks for a proof of work {why} ({} bits).", ticket.bits);
    }
    let progress = if bm.is_none() { progress.clone() } else { no_events() };
    let work = tokio::spawn(work(ticket.clone(), progress));
    let answer = match &bm {
        Some(bm) => match read_answer(&ticket, bm, captcha_file).await {
            Ok(a) => Some(a),
            Err(e) => {
                work.abort();
                return Err(e);
            }
        },
        None => None,
    };
    let counter = work.await??;
    if let Some(answer) = &answer {
        not_sooner_than_a_person(received, answer).await;
    }
    // Measured from when the ticket arrived (the listener's clock decides; this only spares
    // a round trip that cannot succeed).
    if received.elapsed() > lifetime(&ticket) {
        return Err(ClientError::Challenge(
            "the captcha is good for a limited time, and it has passed; run the command again for a new one".into(),
        ));
    }
    Ok(Solution { ticket, counter, answer })
}

/// A captcha answer sent sooner after the picture came than a person can read and type it
/// is refused unread (`policy::challenges::HumanTiming`): a pasted answer can be that
/// fast, so the answer waits out the default floor, counted from when the ticket arrived
/// (later than the listener issued it, so the listener measures at least as long).
async fn not_sooner_than_a_person(received: std::time::Instant, answer: &str) {
    let typed = crate::challenge::normalise_answer(answer).chars().count();
    let floor = std::time::Duration::from_millis(HumanTiming::default().floor_ms(typed));
    tokio::time::sleep_until((received + floor).into()).await;
}

/// The work a listener under load suggests for a login (no captcha): solved here, its
/// progress reported to `progress`, nothing asked of anyone.
pub(crate) async fn attach_work(ticket: Ticket, progress: &Events) -> Result<Solution> {
    let counter = work(ticket.clone(), progress.clone()).await?;
    Ok(Solution { ticket, counter, answer: None })
}

/// The PNG for another viewer, private like everything the client keeps.
fn write_png(path: &Path, bm: &Bitmap) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = local("writing the captcha to", path);
    // Never through a link; private even if the file was there before.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(local("writing the captcha to", path))?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(local("writing the captcha to", path))?;
    f.write_all(&bm.to_png(4)).map_err(err)
}

async fn read_answer(ticket: &Ticket, bm: &Bitmap, captcha_file: Option<&Path>) -> Result<String> {
    if let Some(answer) = test_answer(ticket) {
        return Ok(answer);
    }
    let shown = std::io::stderr().is_terminal();
    let mut text = String::from(
        "The listener asks you to prove you are a person\n(a registration, or failed logins or guesses for this account or address).\n",
    );
    if shown {
        text.push_str(&bm.terminal());
    }
    if let Some(path) = captcha_file {
        text.push_str(&format!("(the picture is also in {}; type its text here)\n", path.display()));
    }
    text.push_str("Type the characters you see: ");
    let answer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut err = std::io::stderr();
        err.write_all(text.as_bytes())?;
        err.flush()?;
        let tty = std::fs::File::open("/dev/tty")?;
        let mut line = String::new();
        std::io::BufReader::new(std::io::Read::take(tty, 256)).read_line(&mut line)?;
        Ok(line.trim().to_owned())
    })
    .await?
    .map_err(|e| ClientError::Challenge(format!("cannot read the captcha's answer from the terminal: {e}")))?;
    if answer.is_empty() || answer.len() > MAX_ANSWER || answer.chars().any(char::is_control) {
        return Err(ClientError::Challenge("no captcha answer typed".into()));
    }
    Ok(answer)
}

/// Whether a person can answer a captcha here: a terminal to show it on and type its text
/// (or, in debug builds, the tests' answer hook). Asked before connecting by what always
/// needs a captcha (a registration).
pub fn person_at_terminal() -> bool {
    std::io::stderr().is_terminal()
        || (cfg!(debug_assertions) && std::env::var_os("QXFER_TEST_CAPTCHA_ANSWERS").is_some())
}

/// Debug builds only: `QXFER_TEST_CAPTCHA_ANSWERS=FILE` (the listener's answer hook) answers
/// from that file, so the tests can log in through a captcha without a person.
#[cfg(debug_assertions)]
fn test_answer(ticket: &Ticket) -> Option<String> {
    let path = std::env::var_os("QXFER_TEST_CAPTCHA_ANSWERS")?;
    let nonce = hex::encode(ticket.nonce);
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{nonce} "))).map(str::to_owned)
}

#[cfg(not(debug_assertions))]
fn test_answer(_: &Ticket) -> Option<String> {
    None
}

fn lifetime(ticket: &Ticket) -> std::time::Duration {
    std::time::Duration::from_millis(ticket.expires_ms.saturating_sub(ticket.issued_ms))
}

/// The proof of work, on a blocking thread, its progress reported to `progress`.
async fn work(ticket: Ticket, progress: Events) -> Result<u64> {
    let (nonce, bits) = (ticket.nonce, ticket.bits);
    if bits > MAX_CLIENT_WORK_BITS {
        return Err(ClientError::Challenge(format!(
            "the listener asks for {bits} bits of proof of work (about 2^{bits} hashes), more than this client \
             does ({MAX_CLIENT_WORK_BITS})"
        )));
    }
    // No longer than the ticket is good for.
    let lifetime = lifetime(&ticket);
    let started = std::time::Instant::now();
    let expected = pow::expected_tries(bits);
    progress(Event::WorkStart { bits, expected });
    tokio::task::spawn_blocking(move || {
        let mut from = 0u64;
        loop {
            match pow::solve_some(&nonce, bits, from, STEP) {
                Ok(c) => {
                    progress(Event::WorkDone);
                    return Ok(c);
                }
                Err(next) if next == u64::MAX => {
                    return Err(ClientError::Challenge("the proof of work has no solution".into()));
                }
                Err(_) if started.elapsed() > lifetime => {
                    progress(Event::WorkDone);
                    return Err(ClientError::Challenge(
                        "the proof of work took longer than the challenge is good for; run the command again".into(),
                    ));
                }
                Err(next) => {
                    from = next;
                    progress(Event::WorkTried { tried: from.min(expected.saturating_sub(1)) });
                }
            }
        }
    })
    .await?
}
