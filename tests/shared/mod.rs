//! Helpers the integration tests (`tests/it`) and the benchmark (`examples/bench.rs`) share:
//! starting a `qxfer listen` process and reading its ready line, adding an account, test
//! data, and reading a process's memory and CPU use from /proc.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The password every test and benchmark account has.
pub const PASSWORD: &str = "correct horse battery";

/// A started listener process and what its ready line said.
pub struct Started {
    pub child: Child,
    /// `127.0.0.1:PORT` of the first bound address.
    pub addr: String,
    /// `sha256:HEX`.
    pub fingerprint: String,
}

/// Start `bin listen --bind BIND --data DATA EXTRA...` and wait for its first stdout line,
/// `listening on ADDR fingerprint sha256:HEX`.
pub fn start_listener(mut cmd: Command, data: &Path, bind: &str, extra: &[String]) -> std::io::Result<Started> {
    let mut child =
        cmd.args(["listen", "--bind", bind, "--data"]).arg(data).args(extra).stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["listening", "on", addr, "fingerprint", fp] if fp.starts_with("sha256:") && fp.len() == 71 => {
            Ok(Started { addr: addr.to_string(), fingerprint: fp.to_string(), child })
        }
        _ => {
            let _ = child.kill();
            Err(std::io::Error::other(format!("unexpected ready line {line:?}")))
        }
    }
}

/// `bin user add NAME --password-stdin` (with `cmd` carrying the data directory).
pub fn add_user(mut cmd: Command, name: &str) -> std::io::Result<std::process::Output> {
    let mut child = cmd
        .args(["user", "add", name, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(format!("{PASSWORD}\n").as_bytes())?;
    }
    child.wait_with_output()
}

/// Deterministic pseudo-random bytes (xorshift64), continuing from `state`.
pub fn fill_pseudo_random(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn seed_state(seed: u64) -> u64 {
    seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407)
}

/// `len` deterministic pseudo-random bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    fill_pseudo_random(&mut out, &mut seed_state(seed));
    out
}

/// A file of `size` deterministic pseudo-random bytes, written a MiB at a time.
pub fn write_pseudo_random(path: &Path, size: u64, seed: u64) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = seed_state(seed);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        fill_pseudo_random(&mut buf, &mut state);
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()
}

/// Peak resident set (VmHWM) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Reset a process's peak RSS to its current RSS (Linux clear_refs "5"), so the peak of
/// one phase can be measured.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces) start at ") ".
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}
