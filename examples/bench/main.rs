//! Transfer benchmark on loopback, printed side by side (run with
//! `cargo run --release --example bench`; `-- --quick` uses 256 MiB instead of 1 GiB):
//!
//! (a) a raw quinn stream of the same size between two processes, with qxfer's own TLS and
//!     transport settings: the ceiling;
//! (b) `qxfer send` of one file of that size, whole command from process start to exit;
//! (c) `qxfer send` of 2,000 files of 16 KiB in a tree;
//! (d) `qxfer send` of one 1 KiB file;
//! (e) 1,000 text messages over one connection;
//! plus peak RSS of client and listener for (b), and the ratio (b)/(a).
//!
//! The same binary re-executes itself for the raw receiver and sender of (a).
//!
//! `-- --recording` runs the activity-log benchmark instead: the transfer (b) and the
//! messages (e) with recording on and off, alternating, and the activity writer alone:
//! events per second and the database size after one million events with retention.
//!
//! `-- --ab OTHER_QXFER [--runs N]` runs the A/B benchmark instead: this build's `qxfer`
//! (A) against another build's binary (B; say, main before a change, built with `cargo
//! build --release` in another checkout), alternating A B A B ... for N rounds (default 5,
//! at least 5), each round on a fresh listener: (b) the big send, (c) the 2,000-file tree,
//! (d) the 1 KiB file (median of 5 per round), and both processes' peak RSS during (b). It prints each figure's
//! median for A and B and the ratio A/B of the medians (above 1: A is worse); on a shared machine only the ratio
//! in one run means anything.
//!
//! `-- --attack` runs the attack benchmark instead: the same legitimate send of one file,
//! first alone, then while 100 hostile connections (from 127.0.0.2-127.0.0.8) flood
//! requests, trickle uploads and open streams; it prints the throughput ratio and the
//! listener's peak RSS under attack.
//!
//! `-- --captcha` runs the captcha benchmark instead (`captcha.rs`): the suite's solver's
//! read rate on qxfer/5's and qxfer/6's pictures, and each generator's cost.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use qxfer::policy::NetLimits;
use qxfer::transport::endpoint::{client_endpoint, server_config, server_endpoint};
use qxfer::transport::tls::{self, Trust};

#[path = "../../tests/shared/mod.rs"]
#[allow(dead_code)]
mod shared;

mod bulk;
mod captcha;
mod pow;

use shared::{cpu_secs, peak_rss_kib, reset_peak, PASSWORD};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("raw-recv") => {
            let v = args.get(2).map(String::as_str);
            raw_runtime(v, false)?.block_on(raw_recv(raw_limits(v)?))
        }
        Some("raw-send") => {
            let v = args.get(4).map(String::as_str);
            raw_runtime(v, true)?.block_on(raw_send(
                args.get(2).ok_or_else(|| anyhow!("addr"))?,
                parse_size(args.get(3))?,
                raw_limits(v)?,
            ))
        }
        _ if args.iter().any(|a| a == "--raw-variants") => {
            let runs = match args.iter().skip_while(|a| *a != "--runs").nth(1) {
                Some(n) => n.parse()?,
                None => 5,
            };
            raw_variants(runs, args.iter().any(|a| a == "--quick"))
        }
        _ if args.iter().any(|a| a == "--bulk") => bulk::bulk_bench(&args),
        _ if args.iter().any(|a| a == "--pow") => pow::pow_bench(),
        _ if args.iter().any(|a| a == "--captcha-pictures") => captcha::captcha_pictures(&args),
        _ if args.iter().any(|a| a == "--captcha") => captcha::captcha_bench(&args),
        _ if args.iter().any(|a| a == "--ab") => {
            let other = args.iter().skip_while(|a| *a != "--ab").nth(1).ok_or_else(|| anyhow!("--ab needs a path"))?;
            let runs = match args.iter().skip_while(|a| *a != "--runs").nth(1) {
                Some(n) => n.parse::<usize>()?.max(5),
                None => 5,
            };
            ab_bench(Path::new(other), runs, args.iter().any(|a| a == "--quick"))
        }
        _ if args.iter().any(|a| a == "--attack") => attack_bench(args.iter().any(|a| a == "--quick")),
        _ if args.iter().any(|a| a == "--recording") => recording_bench(args.iter().any(|a| a == "--quick")),
        _ => bench(args.iter().any(|a| a == "--quick")),
    }
}

/// Flush every dirty page of the filesystem holding `path`: each round starts with a clean
/// disk, whatever the last one left behind.
fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    rustix::fs::syncfs(std::fs::File::open(path)?).map_err(std::io::Error::from)
}

fn parse_size(s: Option<&String>) -> Result<u64> {
    Ok(s.ok_or_else(|| anyhow!("size"))?.parse()?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// The raw ends' runtime: multi-threaded by default; one thread at both ends for the `-1t`
/// variants, and at the sender only for the `-s1` variants (the shape of `qxfer send`, one
/// thread, to a multi-threaded listener).
fn raw_runtime(variant: Option<&str>, sender: bool) -> Result<tokio::runtime::Runtime> {
    let v = variant.unwrap_or("");
    if v.ends_with("-1t") || (sender && v.ends_with("-s1")) {
        return Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?);
    }
    runtime()
}

/// The raw ceiling's transport windows: `qxfer` (what a logged-in connection gets, the
/// default), `quinn` (quinn's own defaults: 1.25 MB per stream, no connection limit, a
/// 10 MB send window), or `wide` (bounded, four to eight times qxfer's).
fn raw_limits(variant: Option<&str>) -> Result<NetLimits> {
    let q = NetLimits::default();
    Ok(match variant.unwrap_or("qxfer").trim_end_matches("-1t").trim_end_matches("-s1") {
        "qxfer" => q,
        "quinn" => NetLimits { stream_window: 1_250_000, connection_window: u32::MAX, send_window: 10_000_000, ..q },
        "wide" => NetLimits { stream_window: 16 << 20, connection_window: 32 << 20, send_window: 32 << 20, ..q },
        other => bail!("unknown raw variant {other:?}"),
    })
}

/// CPU seconds this process has used.
fn own_cpu_secs() -> f64 {
    cpu_secs(std::process::id())
}

/// Raw receiver: one connection, one stream, read to the end, answer one byte; prints its
/// address first and its CPU seconds last.
async fn raw_recv(limits: NetLimits) -> Result<()> {
    {
        let dir = tempfile::tempdir()?;
        let id = tls::load_or_create_identity(dir.path(), None, None)?;
        let ep = server_endpoint("127.0.0.1:0".parse()?, server_config(&id, &limits)?)?;
        println!("{}", ep.local_addr()?);
        std::io::stdout().flush()?;
        let conn = ep.accept().await.ok_or_else(|| anyhow!("no connection"))?.await?;
        // The windows a logged-in qxfer connection gets (or the variant's).
        qxfer::transport::endpoint::grant(&conn, &limits);
        let (mut send, mut recv) = conn.accept_bi().await?;
        let mut total = 0u64;
        while let Some(chunk) = recv.read_chunk(1 << 20, true).await? {
            total += chunk.bytes.len() as u64;
        }
        send.write_all(&[1]).await?;
        send.finish()?;
        let _ = conn.closed().await;
        eprintln!("raw receiver got {total} bytes");
        println!("cpu {}", own_cpu_secs());
        Ok(())
    }
}

/// Raw sender: `size` bytes on one stream, wait for the receiver's byte; prints its CPU
/// seconds.
async fn raw_send(addr: &str, size: u64, limits: NetLimits) -> Result<()> {
    {
        let addr: SocketAddr = addr.parse()?;
        let ep = client_endpoint("127.0.0.1:0".parse()?, Trust::Pin, &limits)?;
        let conn = ep.connect(addr, "qxfer")?.await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        let chunk = bytes::Bytes::from(vec![0x5au8; 1 << 20]);
        let mut sent = 0u64;
        while sent < size {
            let n = (size - sent).min(chunk.len() as u64) as usize;
            send.write_chunk(chunk.slice(..n)).await?;
            sent += n as u64;
        }
        send.finish()?;
        let mut b = [0u8; 1];
        recv.read_exact(&mut b).await?;
        conn.close(0u32.into(), b"done");
        ep.wait_idle().await;
        println!("cpu {}", own_cpu_secs());
        Ok(())
    }
}

/// One raw transfer of `size` bytes with `variant`'s windows: (seconds, CPU seconds of both
/// processes).
fn raw_once(exe: &Path, size: u64, variant: &str) -> Result<(f64, f64)> {
    let mut recv =
        Command::new(exe).args(["raw-recv", variant]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut out = BufReader::new(recv.stdout.take().ok_or_else(|| anyhow!("stdout"))?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let start = Instant::now();
    let send =
        Command::new(exe).args(["raw-send", line.trim(), &size.to_string(), variant]).stderr(Stdio::null()).output()?;
    let secs = start.elapsed().as_secs_f64();
    if !send.status.success() {
        bail!("raw sender failed");
    }
    let cpu =
        |text: &str| -> f64 { text.lines().find_map(|l| l.strip_prefix("cpu ")?.trim().parse().ok()).unwrap_or(0.0) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest)?;
    let _ = recv.wait();
    Ok((secs, cpu(&String::from_utf8_lossy(&send.stdout)) + cpu(&rest)))
}

/// `--raw-variants`: the raw-quinn ceiling with qxfer's windows, quinn's defaults, wider
/// bounded windows, and qxfer's windows on a one-thread runtime at both ends, alternating for `runs` rounds: medians of throughput and of CPU seconds
/// per GiB of both processes together.
fn raw_variants(runs: usize, quick: bool) -> Result<()> {
    let size: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let exe = std::env::current_exe()?;
    let variants = ["qxfer", "quinn", "wide", "qxfer-1t"];
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); variants.len()];
    for _ in 0..runs.max(1) {
        for (i, v) in variants.iter().enumerate() {
            results[i].push(raw_once(&exe, size, v)?);
        }
    }
    println!("raw quinn stream, {} MiB, {} rounds alternating, medians", size >> 20, runs.max(1));
    println!("{:<8} {:>10} {:>16} {:>12}", "windows", "MB/s", "CPU-s per GiB", "vs quinn");
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let gib = size as f64 / f64::from(1u32 << 30);
    let quinn_t = median(results[1].iter().map(|r| r.0).collect());
    for (i, v) in variants.iter().enumerate() {
        let t = median(results[i].iter().map(|r| r.0).collect());
        let cpu = median(results[i].iter().map(|r| r.1).collect());
        println!("{:<8} {:>10.1} {:>16.2} {:>12.3}", v, size as f64 / t / 1e6, cpu / gib, quinn_t / t);
    }
    Ok(())
}

/// Run a command to its end, sampling its peak RSS; returns (wall time, peak KiB).
fn timed(cmd: &mut Command) -> Result<(Duration, u64)> {
    timed_cpu(cmd).map(|(t, peak, _)| (t, peak))
}

/// [`timed`], plus the CPU seconds the command used (sampled every 2 ms until it exits).
fn timed_cpu(cmd: &mut Command) -> Result<(Duration, u64, f64)> {
    let start = Instant::now();
    let mut cpu = 0.0f64;
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait()? {
            let elapsed = start.elapsed();
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                bail!("{cmd:?} failed: {err}");
            }
            return Ok((elapsed, peak, cpu));
        }
        if let Some(p) = peak_rss_kib(child.id()) {
            peak = peak.max(p);
        }
        cpu = cpu.max(cpu_secs(child.id()));
        std::thread::sleep(Duration::from_millis(2));
    }
}

struct Listener {
    child: Child,
    addr: String,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn qxfer_bin() -> Result<PathBuf> {
    // Build the release binary next to this example if cargo runs us.
    if let Ok(cargo) = std::env::var("CARGO") {
        let ok = Command::new(cargo).args(["build", "--release", "--quiet", "--bin", "qxfer"]).status()?.success();
        if !ok {
            bail!("building qxfer failed");
        }
    }
    let exe = std::env::current_exe()?;
    let release = exe.parent().and_then(Path::parent).ok_or_else(|| anyhow!("no target dir"))?;
    let bin = release.join("qxfer");
    if !bin.exists() {
        bail!("{} missing: run `cargo build --release` first", bin.display());
    }
    Ok(bin)
}

fn start_listener(bin: &Path, root: &Path, extra: &[&str]) -> Result<Listener> {
    let data = root.join("data");
    let mut cmd = Command::new(bin);
    cmd.env("QXFER_LOG", "warn").stderr(Stdio::null());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let started = shared::start_listener(cmd, &data, "127.0.0.1:0", &extra)?;
    let listener = Listener { child: started.child, addr: started.addr };
    // Through the running listener's admin socket (the listener made its data directory).
    add_user(bin, &data, "bench")?;
    Ok(listener)
}

fn add_user(bin: &Path, data: &Path, name: &str) -> Result<()> {
    let mut cmd = Command::new(bin);
    cmd.env("QXFER_DATA_DIR", data);
    if !shared::add_user(cmd, name)?.status.success() {
        bail!("user add failed");
    }
    Ok(())
}

fn client(bin: &Path, root: &Path, addr: &str) -> Command {
    let mut c = Command::new(bin);
    c.current_dir(root).env("QXFER_CONFIG_DIR", root.join("cfg")).env("QXFER_PASSWORD", PASSWORD).args([
        "send",
        addr,
        "--user",
        "bench",
        "--accept-new",
        "--quiet",
    ]);
    c
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn write_file(path: &Path, size: u64) -> Result<()> {
    Ok(shared::write_pseudo_random(path, size, 0x9e37_79b9)?)
}

fn bench(quick: bool) -> Result<()> {
    let size: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let bin = qxfer_bin()?;
    let exe = std::env::current_exe()?;
    let root = tempfile::tempdir()?;
    let root = root.path();
    println!(
        "qxfer transfer benchmark on loopback, {} cores; file size {} MiB",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        size >> 20
    );

    // (a) raw quinn ceiling: the median of 3 runs (it swings with the machine's load).
    let mut raws = Vec::new();
    for _ in 0..3 {
        let mut recv =
            Command::new(&exe).args(["raw-recv", "qxfer"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let mut line = String::new();
        BufReader::new(recv.stdout.take().ok_or_else(|| anyhow!("stdout"))?).read_line(&mut line)?;
        let (t, _) = timed(Command::new(&exe).args(["raw-send", line.trim(), &size.to_string(), "qxfer"]))?;
        let _ = recv.wait();
        raws.push(t);
    }
    raws.sort();
    let raw_t = raws[1];
    let raw = mbps(size, raw_t);
    println!(
        "(a) raw quinn stream, {} MiB:        {:8.1} MB/s  ({:.2} s, median of 3; {:.0}-{:.0} MB/s)",
        size >> 20,
        raw,
        raw_t.as_secs_f64(),
        mbps(size, raws[2]),
        mbps(size, raws[0])
    );

    // Fixtures; writing the big one (1 MiB of random bytes, repeated) doubles as the disk
    // baseline: what any receiver that keeps the file durably pays.
    write_file(&root.join("chunk.bin"), 1 << 20)?;
    let chunk = std::fs::read(root.join("chunk.bin"))?;
    let w_start = Instant::now();
    {
        let mut f = std::fs::File::create(root.join("big.bin"))?;
        for _ in 0..(size >> 20) {
            f.write_all(&chunk)?;
        }
        f.sync_all()?;
    }
    let w_t = w_start.elapsed();
    println!(
        "(w) write {} MiB to disk + fsync:       {:8.1} MB/s  ({:.2} s; the receiver's floor)",
        size >> 20,
        mbps(size, w_t),
        w_t.as_secs_f64()
    );
    for i in 0..2000u64 {
        let dir = root.join(format!("tree/d{:02}", i % 40));
        std::fs::create_dir_all(&dir)?;
        write_file(&dir.join(format!("f{i:04}")), 16 << 10)?;
    }
    write_file(&root.join("small.bin"), 1024)?;
    // Fixtures go to disk now, so the timed runs' syncs do not pay for them.
    sync_filesystem(root)?;

    // The request rate limits guard against floods from strangers; this benchmark measures
    // the protocol, so its one client is not throttled.
    std::fs::write(
        root.join("bench.toml"),
        "[limits]\nrequests_per_second_per_ip = 1000000\nrequests_per_second_per_account = 1000000\nrequest_burst = 1000000\n",
    )?;
    let config = root.join("bench.toml");
    let listener = start_listener(&bin, root, &["--config", config.to_str().ok_or_else(|| anyhow!("path"))?])?;
    // Pin the certificate and get a session token, so timed runs pay no argon2 login.
    timed(client(&bin, root, &listener.addr).args(["-m", "warm-up"]))?;
    reset_peak(listener.child.id());

    // (b) one big file.
    let (b_t, client_peak) = timed(client(&bin, root, &listener.addr).arg("big.bin"))?;
    let listener_peak = peak_rss_kib(listener.child.id()).unwrap_or(0);
    let b = mbps(size, b_t);
    println!(
        "(b) qxfer send, {} MiB file:          {:8.1} MB/s  ({:.2} s, whole command)",
        size >> 20,
        b,
        b_t.as_secs_f64()
    );
    println!(
        "    peak RSS: client {:.1} MiB, listener {:.1} MiB",
        client_peak as f64 / 1024.0,
        listener_peak as f64 / 1024.0
    );
    println!("    ratio (b)/(a): {:.3}", b / raw);

    sync_filesystem(root)?;
    // (c) 2,000 files of 16 KiB.
    let mut cs = Vec::new();
    for _ in 0..5 {
        cs.push(timed(client(&bin, root, &listener.addr).arg("tree"))?.0);
        sync_filesystem(root)?;
    }
    cs.sort();
    let c_t = cs[2];
    println!(
        "(c) qxfer send, 2,000 x 16 KiB tree:   {:8.0} files/s  (median of 5: {:.2} s; min {:.2}, max {:.2})",
        2000.0 / c_t.as_secs_f64(),
        c_t.as_secs_f64(),
        cs[0].as_secs_f64(),
        cs[4].as_secs_f64()
    );

    // (d) one 1 KiB file: median of 9 runs.
    let mut ds = Vec::new();
    for _ in 0..9 {
        ds.push(timed(client(&bin, root, &listener.addr).arg("small.bin"))?.0);
    }
    ds.sort();
    println!(
        "(d) qxfer send, one 1 KiB file:        {:8.1} ms (median of 9; min {:.1}, max {:.1})",
        ms(ds[4]),
        ms(ds[0]),
        ms(ds[8])
    );

    // (e) 1,000 text messages over one connection (library client).
    let e_t = messages(root, &listener.addr, 1000)?;
    println!(
        "(e) 1,000 text messages, one connection: {:6.0} messages/s  ({:.2} s)",
        1000.0 / e_t.as_secs_f64(),
        e_t.as_secs_f64()
    );
    drop(listener);
    let _ = std::fs::remove_dir_all(root.join("data"));
    Ok(())
}

/// One A/B round's figures.
struct Round {
    big: Duration,
    /// CPU seconds of the client and the listener together during (b).
    big_cpu: f64,
    tree: Duration,
    small: Duration,
    client_peak_kib: u64,
    listener_peak_kib: u64,
}

/// One round on a fresh listener of `bin`, over the fixtures in `root`.
fn ab_round(bin: &Path, root: &Path, tag: &str) -> Result<Round> {
    let run_root = root.join(tag);
    std::fs::create_dir_all(&run_root)?;
    for f in ["big.bin", "small.bin", "tree", "bench.toml"] {
        let link = run_root.join(f);
        if !link.exists() {
            std::os::unix::fs::symlink(root.join(f), link)?;
        }
    }
    let config = root.join("bench.toml");
    let listener = start_listener(bin, &run_root, &["--config", config.to_str().ok_or_else(|| anyhow!("path"))?])?;
    timed(client(bin, &run_root, &listener.addr).args(["-m", "warm-up"]))?;
    reset_peak(listener.child.id());
    let listener_cpu = cpu_secs(listener.child.id());
    let (big, client_peak_kib, client_cpu) = timed_cpu(client(bin, &run_root, &listener.addr).arg("big.bin"))?;
    let big_cpu = client_cpu + cpu_secs(listener.child.id()) - listener_cpu;
    let listener_peak_kib = peak_rss_kib(listener.child.id()).unwrap_or(0);
    sync_filesystem(root)?;
    let (tree, _) = timed(client(bin, &run_root, &listener.addr).arg("tree"))?;
    sync_filesystem(root)?;
    // A few milliseconds each: the median of 5 per round.
    let mut smalls = Vec::new();
    for _ in 0..5 {
        smalls.push(timed(client(bin, &run_root, &listener.addr).arg("small.bin"))?.0);
    }
    smalls.sort();
    let small = smalls[2];
    drop(listener);
    std::fs::remove_dir_all(&run_root)?;
    sync_filesystem(root)?;
    Ok(Round { big, big_cpu, tree, small, client_peak_kib, listener_peak_kib })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// This build against another, alternating, `runs` rounds each.
fn ab_bench(other: &Path, runs: usize, quick: bool) -> Result<()> {
    let size: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let a_bin = qxfer_bin()?;
    let b_bin = other.canonicalize().with_context(|| format!("{}", other.display()))?;
    let root = tempfile::tempdir()?;
    let root = root.path();
    write_file(&root.join("big.bin"), size)?;
    for i in 0..2000u64 {
        let dir = root.join(format!("tree/d{:02}", i % 40));
        std::fs::create_dir_all(&dir)?;
        write_file(&dir.join(format!("f{i:04}")), 16 << 10)?;
    }
    write_file(&root.join("small.bin"), 1024)?;
    std::fs::write(
        root.join("bench.toml"),
        "[limits]\nrequests_per_second_per_ip = 1000000\nrequests_per_second_per_account = 1000000\nrequest_burst = 1000000\n",
    )?;
    sync_filesystem(root)?;
    println!("A/B benchmark: A = {}, B = {}; {runs} rounds each, alternating", a_bin.display(), b_bin.display());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs {
        a.push(ab_round(&a_bin, root, &format!("a{i}"))?);
        b.push(ab_round(&b_bin, root, &format!("b{i}"))?);
    }
    type Figure = (&'static str, &'static str, fn(&Round) -> f64);
    let figures: [Figure; 6] = [
        ("(b) big send", "s", |r| r.big.as_secs_f64()),
        ("(b) CPU of both processes", "s", |r| r.big_cpu),
        ("(c) 2,000 files", "s", |r| r.tree.as_secs_f64()),
        ("(d) 1 KiB file", "s", |r| r.small.as_secs_f64()),
        ("client peak RSS during (b)", "MiB", |r| r.client_peak_kib as f64 / 1024.0),
        ("listener peak RSS during (b)", "MiB", |r| r.listener_peak_kib as f64 / 1024.0),
    ];
    println!("{:<30} {:>12} {:>12} {:>8}", "figure (lower is better)", "A median", "B median", "A/B");
    for (name, unit, f) in figures {
        let (ma, mb) = (median(a.iter().map(f).collect()), median(b.iter().map(f).collect()));
        println!("{name:<30} {ma:>9.3} {unit:<2} {mb:>9.3} {unit:<2} {:>8.3}", ma / mb);
    }
    let (ta, tb) =
        (median(a.iter().map(|r| mbps(size, r.big)).collect()), median(b.iter().map(|r| mbps(size, r.big)).collect()));
    println!("(b) throughput: A {ta:.1} MB/s, B {tb:.1} MB/s");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn messages(root: &Path, addr: &str, n: usize) -> Result<Duration> {
    use qxfer::client::{no_events, trust::NewHost, Client, ConnectOptions, Manifest, PasswordSource, SendJob};
    runtime()?.block_on(async {
        let opts = ConnectOptions {
            connect_timeout: qxfer::client::CONNECT_TIMEOUT,
            host: addr.to_owned(),
            bind: Vec::new(),
            user: "bench".into(),
            password: PasswordSource::Given(PASSWORD.into()),
            config_dir: root.join("cfg"),
            fingerprint: None,
            new_host: NewHost::Accept,
            ca: None,
            net: NetLimits::default(),
            captcha_file: None,
            token: None,
            work_progress: Default::default(),
        };
        let mut client = Client::connect(&opts).await.context("connect")?;
        let start = Instant::now();
        for i in 0..n {
            let job = SendJob {
                to: None,
                also: Vec::new(),
                subject: None,
                body: Some(format!("message {i}")),
                manifest: Manifest::default(),
            };
            client.send(&job, no_events()).await.context("send message")?;
        }
        let t = start.elapsed();
        client.close().await;
        Ok(t)
    })
}

/// The attack benchmark: a legitimate send alone, then under attack.
fn attack_bench(quick: bool) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let size: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let bin = qxfer_bin()?;
    let root = tempfile::tempdir()?;
    let root = root.path();
    write_file(&root.join("big.bin"), size)?;
    sync_filesystem(root)?;
    let data = root.join("data");
    std::fs::create_dir_all(&data)?;
    // The listener refuses a data directory others can open.
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    // The operator's own address is exempt from per-source limits (the attackers share its /24).
    std::fs::write(data.join("ip-rules.txt"), "allow 127.0.0.1/32\n")?;
    let listener = start_listener(&bin, root, &[])?;
    add_user(&bin, &data, "mallory")?;
    timed(client(&bin, root, &listener.addr).args(["-m", "warm-up"]))?;

    let cpu0 = cpu_secs(listener.child.id());
    let (alone1, _) = timed(client(&bin, root, &listener.addr).arg("big.bin"))?;
    let cpu_alone = cpu_secs(listener.child.id()) - cpu0;
    sync_filesystem(root)?;
    println!(
        "legitimate {} MiB send alone:        {:8.1} MB/s  (listener CPU {:.2} s)",
        size >> 20,
        mbps(size, alone1),
        cpu_alone
    );

    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let rt = runtime()?;
    let token = rt.block_on(mallory_token(&listener.addr))?;
    let mut attackers = Vec::new();
    for i in 0..100u32 {
        let bind = format!("127.0.0.{}", 2 + i % 7);
        let addr = listener.addr.clone();
        let (stop, stats) = (stop.clone(), stats.clone());
        attackers.push(rt.spawn(async move { attacker(i % 3, bind, addr, token, stop, stats).await }));
    }
    std::thread::sleep(Duration::from_secs(2));
    reset_peak(listener.child.id());
    let (cpu1, me1) = (cpu_secs(listener.child.id()), cpu_secs(std::process::id()));
    sync_filesystem(root)?;
    let (attacked, _) = timed(client(&bin, root, &listener.addr).arg("big.bin"))?;
    let (cpu_attacked, attackers_cpu) = (cpu_secs(listener.child.id()) - cpu1, cpu_secs(std::process::id()) - me1);
    let listener_peak = peak_rss_kib(listener.child.id()).unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for a in attackers {
            let _ = tokio::time::timeout(Duration::from_secs(5), a).await;
        }
    });
    println!(
        "legitimate {} MiB send under attack: {:8.1} MB/s  (listener CPU {:.2} s; the attackers, on the same 2 cores, {:.2} s)",
        size >> 20,
        mbps(size, attacked),
        cpu_attacked,
        attackers_cpu
    );
    // Alone once more after the attack (attackers stopped), so drift between runs cancels.
    std::thread::sleep(Duration::from_secs(1));
    sync_filesystem(root)?;
    let (alone2, _) = timed(client(&bin, root, &listener.addr).arg("big.bin"))?;
    let alone = (alone1 + alone2) / 2;
    println!("legitimate {} MiB send alone again:  {:8.1} MB/s", size >> 20, mbps(size, alone2));
    println!(
        "    ratio under attack / alone (mean of the two alone runs): {:.3}",
        alone.as_secs_f64() / attacked.as_secs_f64()
    );
    println!("    listener peak RSS under attack: {:.1} MiB", listener_peak as f64 / 1024.0);
    println!(
        "    attackers: {} connections made, {} refused, {} requests answered, {} streams opened",
        stats[0].load(Ordering::Relaxed),
        stats[1].load(Ordering::Relaxed),
        stats[2].load(Ordering::Relaxed),
        stats[3].load(Ordering::Relaxed)
    );

    // Another account's login and listing while one account stalls 550 zero-byte uploads
    // (5 connections x 110, never sending a trailer): whole `qxfer inbox` commands, median
    // of 5, alone and under the stall.
    add_user(&bin, &root.join("data"), "victim")?;
    let victim = |root: &Path| {
        let mut c = Command::new(&bin);
        c.current_dir(root).env("QXFER_CONFIG_DIR", root.join("victim-cfg")).env("QXFER_PASSWORD", PASSWORD);
        c.args(["inbox", &listener.addr, "--user", "victim", "--accept-new"]);
        c
    };
    timed(&mut victim(root))?; // pin, and keep a session token
    let median_of = |runs: &mut Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let mut alone = Vec::new();
    for _ in 0..5 {
        alone.push(timed(&mut victim(root))?.0);
    }
    let stalls = rt.block_on(stall_uploads(&listener.addr, token))?;
    let mut stalled = Vec::new();
    for _ in 0..5 {
        stalled.push(timed(&mut victim(root))?.0);
    }
    drop(stalls);
    let (a, s) = (median_of(&mut alone), median_of(&mut stalled));
    println!(
        "victim's `qxfer inbox` (token login + listing): alone {:.1} ms, with 550 stalled uploads {:.1} ms (ratio {:.2})",
        ms(a),
        ms(s),
        s.as_secs_f64() / a.as_secs_f64()
    );
    Ok(())
}

/// Five connections of mallory, each opening 110 zero-byte uploads that never finish.
type Stalled = Vec<(quinn::Endpoint, quinn::Connection, Vec<quinn::SendStream>)>;

async fn stall_uploads(addr: &str, token: [u8; 32]) -> Result<Stalled> {
    use qxfer::transport::framed::{read_frame, write_frame};
    use qxfer::wire::{Begin, Credential, FileEntry, Request, Response, StreamHead};
    let mut held = Vec::new();
    for c in 0..5u8 {
        // Another /24 than the attackers above, which the automatic firewall may have banned.
        let ep = client_endpoint(format!("127.0.1.{}:0", 20 + c).parse()?, Trust::Pin, &NetLimits::default())?;
        let conn = ep.connect(addr.parse()?, "qxfer")?.await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        let login = Request::Login { user: "mallory".into(), credential: Credential::Token(token) };
        write_frame(&mut send, &login).await?;
        read_frame::<Response>(&mut recv).await?;
        let begin = Begin { to: None, subject: None, body: None, files: 110, bytes: 0, resume_key: [100 + c; 32] };
        write_frame(&mut send, &Request::Begin(begin)).await?;
        let Some(Response::Began { id, .. }) = read_frame::<Response>(&mut recv).await? else {
            bail!("mallory could not begin");
        };
        let entries = (0..110).map(|i| FileEntry { path: format!("z{i}"), size: 0 }).collect();
        write_frame(&mut send, &Request::AddFiles { entries }).await?;
        read_frame::<Response>(&mut recv).await?;
        let mut streams = Vec::new();
        for index in 0..110 {
            let (mut s, _r) = conn.open_bi().await?;
            write_frame(&mut s, &StreamHead::Put { id, index, offset: 0 }).await?;
            streams.push(s);
        }
        held.push((ep, conn, streams));
    }
    Ok(held)
}

async fn mallory_token(addr: &str) -> Result<[u8; 32]> {
    use qxfer::transport::framed::{read_frame, write_frame};
    use qxfer::wire::{Credential, Request, Response};
    let ep = client_endpoint("127.0.0.1:0".parse()?, Trust::Pin, &NetLimits::default())?;
    let conn = ep.connect(addr.parse()?, "qxfer")?.await?;
    let (mut send, mut recv) = conn.open_bi().await?;
    let login = Request::Login { user: "mallory".into(), credential: Credential::Password(PASSWORD.into()) };
    write_frame(&mut send, &login).await?;
    match read_frame::<Response>(&mut recv).await? {
        Some(Response::LoggedIn { token: Some(t), .. }) => Ok(t),
        other => bail!("mallory could not log in: {other:?}"),
    }
}

/// One hostile connection, reconnecting whenever it is cut off: kind 0 floods requests,
/// 1 trickles an upload, 2 opens streams with forged heads.
async fn attacker(
    kind: u32,
    bind: String,
    addr: String,
    token: [u8; 32],
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stats: std::sync::Arc<[std::sync::atomic::AtomicU64; 4]>,
) {
    use qxfer::transport::framed::{read_frame, write_frame};
    use qxfer::wire::{Begin, Credential, FileEntry, Request, Response, StreamHead};
    use std::sync::atomic::Ordering;
    let Ok(bind) = format!("{bind}:0").parse::<SocketAddr>() else { return };
    let Ok(addr) = addr.parse::<SocketAddr>() else { return };
    let Ok(ep) = client_endpoint(bind, Trust::Pin, &NetLimits::default()) else { return };
    let mut n = 0u8;
    while !stop.load(Ordering::Relaxed) {
        n = n.wrapping_add(1);
        let conn = match ep.connect(addr, "qxfer") {
            Ok(c) => match c.await {
                Ok(c) => c,
                Err(_) => {
                    stats[1].fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Err(_) => return,
        };
        stats[0].fetch_add(1, Ordering::Relaxed);
        let Ok((mut send, mut recv)) = conn.open_bi().await else { continue };
        let login = Request::Login { user: "mallory".into(), credential: Credential::Token(token) };
        if write_frame(&mut send, &login).await.is_err() || read_frame::<Response>(&mut recv).await.is_err() {
            continue;
        }
        match kind {
            0 => {
                while !stop.load(Ordering::Relaxed) {
                    if write_frame(&mut send, &Request::Inbox { after: 0 }).await.is_err() {
                        break;
                    }
                    match read_frame::<Response>(&mut recv).await {
                        Ok(Some(_)) => stats[2].fetch_add(1, Ordering::Relaxed),
                        _ => break,
                    };
                }
            }
            1 => {
                let begin =
                    Begin { to: None, subject: None, body: None, files: 1, bytes: 1 << 30, resume_key: [n; 32] };
                let _ = write_frame(&mut send, &Request::Begin(begin)).await;
                let id = match read_frame::<Response>(&mut recv).await {
                    Ok(Some(Response::Began { id, .. })) => id,
                    _ => continue,
                };
                let add = Request::AddFiles { entries: vec![FileEntry { path: "slow".into(), size: 1 << 30 }] };
                let _ = write_frame(&mut send, &add).await;
                let _ = read_frame::<Response>(&mut recv).await;
                let Ok((mut s, _r)) = conn.open_bi().await else { continue };
                let _ = write_frame(&mut s, &StreamHead::Put { id, index: 0, offset: 0 }).await;
                while !stop.load(Ordering::Relaxed) {
                    if s.write_all(&[b's'; 16]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            _ => {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Ok((mut s, _))) = tokio::time::timeout(Duration::from_secs(1), conn.open_bi()).await else {
                        break;
                    };
                    let _ = write_frame(&mut s, &StreamHead::Put { id: 999_999, index: 0, offset: 0 }).await;
                    let _ = s.write_all(&[0u8; 4096]).await;
                    let _ = s.finish();
                    stats[3].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        conn.close(0u32.into(), b"");
    }
}

/// Recording on versus off, and the activity writer's own speed.
fn recording_bench(quick: bool) -> Result<()> {
    use qxfer::policy::activity::{Activity, Kind};
    let size: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let bin = qxfer_bin()?;
    let tmp = tempfile::tempdir()?;
    let mut listeners = Vec::new();
    for (name, recording) in [("on", true), ("off", false)] {
        let root = tmp.path().join(name);
        std::fs::create_dir_all(&root)?;
        let cfg = root.join("bench.toml");
        std::fs::write(
            &cfg,
            format!(
                "[limits]\nactivity_recording = {recording}\nrequests_per_second_per_ip = 1000000\n\
                 requests_per_second_per_account = 1000000\nrequest_burst = 1000000\n"
            ),
        )?;
        let l = start_listener(&bin, &root, &["--config", cfg.to_str().ok_or_else(|| anyhow!("path"))?])?;
        timed(client(&bin, &root, &l.addr).args(["-m", "warm-up"]))?;
        listeners.push((name, root, l));
    }
    write_file(&tmp.path().join("big.bin"), size)?;
    sync_filesystem(tmp.path())?;
    let big = tmp.path().join("big.bin");
    let mut b: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut e: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..3 {
        for (i, (_, root, l)) in listeners.iter().enumerate() {
            let (t, _) = timed(client(&bin, root, &l.addr).arg(&big))?;
            b[i].push(mbps(size, t));
            sync_filesystem(tmp.path())?;
            let t = messages(root, &l.addr, 300)?;
            e[i].push(300.0 / t.as_secs_f64());
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        v[v.len() / 2]
    };
    let (b_on, b_off) = (med(&mut b[0].clone()), med(&mut b[1].clone()));
    let (e_on, e_off) = (med(&mut e[0].clone()), med(&mut e[1].clone()));
    println!("recording on vs off (median of 3, alternating):");
    println!(
        "  (b) qxfer send {} MiB:  on {:7.1} MB/s  off {:7.1} MB/s  ratio {:.3}",
        size >> 20,
        b_on,
        b_off,
        b_on / b_off
    );
    println!("  (e) 300 messages:         on {:7.0} msg/s  off {:7.0} msg/s  ratio {:.3}", e_on, e_off, e_on / e_off);
    drop(listeners);

    // The writer alone: one million events in batches as the recorder writes them, with
    // retention keeping at most 100,000.
    let dir = tempfile::tempdir()?;
    let store = qxfer::store::Store::open(&dir.path().join("activity.redb"))?;
    let n = 1_000_000u64;
    let batch = 1024u64;
    let keep = 100_000u64;
    let start = Instant::now();
    let mut written = 0u64;
    let mut batches = 0u64;
    while written < n {
        let events: Vec<Activity> = (0..batch.min(n - written))
            .map(|i| {
                let k = written + i;
                Activity::new(
                    1_795_000_000_000 + k,
                    std::net::IpAddr::from([10, 0, (k >> 8) as u8, k as u8]),
                    Kind::LoginFailed,
                )
                .account("alice")
                .detail("wrong password")
            })
            .collect();
        store.append_activity(&events, batches % 64 == 0)?;
        written += events.len() as u64;
        batches += 1;
        if batches % 64 == 0 {
            store.enforce_retention(keep, 0)?;
        }
    }
    store.enforce_retention(keep, 0)?;
    let t = start.elapsed();
    let size_mib = std::fs::metadata(dir.path().join("activity.redb"))?.len() as f64 / (1 << 20) as f64;
    println!(
        "activity writer: {n} events in {:.2} s = {:.0} events/s (batches of {batch}); kept {}, database {:.1} MiB",
        t.as_secs_f64(),
        n as f64 / t.as_secs_f64(),
        store.activity_count()?,
        size_mib
    );
    Ok(())
}
