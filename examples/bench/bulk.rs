//! `--bulk [--quick] [--runs N] [--tmpfs DIR] [--disk DIR]`: one large file, every way of
//! moving it on this machine, alternating in each round so that all figures share the
//! machine's mood:
//!
//! - the raw-quinn ceiling: one stream between two processes with qxfer's TLS, with
//!   qxfer's bounded windows and with quinn's defaults, each on qxfer's runtime shape (a
//!   one-thread sender, a multi-threaded receiver) and on one thread at both ends;
//! - `qxfer send` to a listener whose data directory is on tmpfs (the network path alone)
//!   and on the disk (with the durable write);
//! - the disk's floor: `dd conv=fsync` of the same file to the same disk;
//! - `scp -c aes128-gcm@openssh.com` to tmpfs and to the disk, through a private `sshd` on
//!   127.0.0.1 that the benchmark starts and stops (skipped, and said so, without `sshd`).
//!
//! Each figure is the whole command, from process start to exit. CPU seconds are the whole
//! machine's busy time (user, system, interrupts; from `/proc/stat`) during the command,
//! which counts both processes of every peer alike, sshd's and the kernel's writeback
//! included; for qxfer the two processes' own CPU seconds are printed beside it.

use super::*;

/// One measurement: seconds, the machine's busy CPU seconds, and (for qxfer) the two
/// processes' own CPU seconds and peak RSS in KiB (client, listener).
#[derive(Clone, Copy, Default)]
struct Sample {
    secs: f64,
    busy: f64,
    own: f64,
    client_kib: u64,
    listener_kib: u64,
}

/// The whole machine's busy CPU seconds so far (user, nice, system, irq, softirq).
fn busy_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return 0.0 };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return 0.0 };
    let f: Vec<f64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    [0, 1, 2, 5, 6].iter().filter_map(|&i| f.get(i)).sum::<f64>() / 100.0
}

/// The file system type that holds `path` (the longest matching mount point).
fn fs_type(path: &Path) -> String {
    let Ok(path) = path.canonicalize() else { return "?".into() };
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else { return "?".into() };
    let mut best = (0, "?".to_string());
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let (Some(mp), Some(ty)) = (f.get(1), f.get(2)) {
            if path.starts_with(mp) && mp.len() >= best.0 {
                best = (mp.len(), (*ty).to_string());
            }
        }
    }
    best.1
}

fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a String> {
    args.iter().skip_while(|a| *a != flag).nth(1)
}

/// Run `cmd` to its end; its wall time and the machine's busy CPU seconds meanwhile.
fn machine_timed(cmd: &mut Command) -> Result<Sample> {
    let busy = busy_secs();
    let (t, _, _) = timed_cpu(cmd)?;
    Ok(Sample { secs: t.as_secs_f64(), busy: busy_secs() - busy, ..Sample::default() })
}

fn raw_sample(exe: &Path, size: u64, variant: &str) -> Result<Sample> {
    let busy = busy_secs();
    let (secs, own) = raw_once(exe, size, variant)?;
    Ok(Sample { secs, busy: busy_secs() - busy, own, ..Sample::default() })
}

/// `qxfer send` of `big` to a fresh listener whose data directory is under `root`, with
/// `extra` listener arguments.
fn qxfer_sample(bin: &Path, root: &Path, big: &Path, extra: &[&str]) -> Result<Sample> {
    std::fs::create_dir_all(root)?;
    let config = root.join("bench.toml");
    std::fs::write(
        &config,
        "[limits]\nrequests_per_second_per_ip = 1000000\nrequests_per_second_per_account = 1000000\nrequest_burst = 1000000\n",
    )?;
    let mut args = vec!["--config", config.to_str().ok_or_else(|| anyhow!("path"))?];
    args.extend_from_slice(extra);
    let listener = start_listener(bin, root, &args)?;
    timed(client(bin, root, &listener.addr).args(["-m", "warm-up"]))?;
    reset_peak(listener.child.id());
    let listener_cpu = cpu_secs(listener.child.id());
    let busy = busy_secs();
    let (t, client_kib, client_cpu) = timed_cpu(client(bin, root, &listener.addr).arg(big))?;
    let busy = busy_secs() - busy;
    let own = client_cpu + cpu_secs(listener.child.id()) - listener_cpu;
    let listener_kib = peak_rss_kib(listener.child.id()).unwrap_or(0);
    drop(listener);
    std::fs::remove_dir_all(root)?;
    Ok(Sample { secs: t.as_secs_f64(), busy, own, client_kib, listener_kib })
}

/// A private sshd on 127.0.0.1, key login only, for scp as a peer; stopped on drop.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // SIGTERM, which `timeout` passes on to sshd (SIGKILL would orphan sshd).
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

/// The most a private sshd lives, should the benchmark itself be killed.
const SSHD_LIFETIME_SECS: u32 = 3600;

impl Sshd {
    fn start() -> Result<Sshd> {
        let sshd = std::env::var_os("QXFER_BENCH_SSHD").map_or_else(|| PathBuf::from("/usr/sbin/sshd"), PathBuf::from);
        if !sshd.exists() {
            bail!("{} not found (install openssh-server, or set QXFER_BENCH_SSHD)", sshd.display());
        }
        let dir = tempfile::tempdir()?;
        for key in ["host", "client"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()?
                .success();
            if !ok {
                bail!("ssh-keygen failed");
            }
        }
        std::fs::copy(dir.path().join("client.pub"), dir.path().join("authorized_keys"))?;
        // sshd running as root needs its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let user = String::from_utf8(Command::new("id").arg("-un").output()?.stdout)?.trim().to_owned();
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPidFile none\n\
                 StrictModes no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n\
                 AllowUsers {user}\n"
            ),
        )?;
        let child = Command::new("timeout")
            .arg(SSHD_LIFETIME_SECS.to_string())
            .arg(&sshd)
            .arg("-D")
            .arg("-f")
            .arg(dir.path().join("sshd_config"))
            .arg("-E")
            .arg(dir.path().join("log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let sshd = Sshd { child, dir, port, user };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("sshd did not start listening on 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // One login, so a refused key or account says so here and scp is skipped.
        let probe = Command::new("ssh")
            .args(sshd.options())
            .arg("-p")
            .arg(sshd.port.to_string())
            .arg(format!("{}@127.0.0.1", sshd.user))
            .arg("true")
            .stdin(Stdio::null())
            .output()?;
        if !probe.status.success() {
            bail!("ssh to the private sshd failed: {}", String::from_utf8_lossy(&probe.stderr).trim());
        }
        Ok(sshd)
    }

    /// Client options: only our throw-away key, no user config, no host-key prompt.
    fn options(&self) -> Vec<String> {
        let key = self.dir.path().join("client").display().to_string();
        [
            "-F",
            "/dev/null",
            "-i",
            &key,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn scp(&self, from: &Path, to: &Path) -> Command {
        let mut c = Command::new("scp");
        c.args(["-q", "-c", "aes128-gcm@openssh.com"])
            .args(self.options())
            .args(["-P", &self.port.to_string()])
            .arg(from)
            .arg(format!("{}@127.0.0.1:{}", self.user, to.display()));
        c
    }
}

pub(super) fn bulk_bench(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let runs: usize = arg_after(args, "--runs").map_or(Ok(3), |n| n.parse::<usize>())?.max(1);
    let size: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let tmpfs_base = arg_after(args, "--tmpfs").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from);
    let disk_base = arg_after(args, "--disk").map_or_else(std::env::temp_dir, PathBuf::from);
    let bin = qxfer_bin()?;
    let exe = std::env::current_exe()?;
    let tmpfs = tempfile::tempdir_in(&tmpfs_base)?;
    let disk = tempfile::tempdir_in(&disk_base)?;
    let big = disk.path().join("big.bin");
    write_file(&big, size)?;
    sync_filesystem(disk.path())?;
    let sshd = match Sshd::start() {
        Ok(s) => Some(s),
        Err(e) => {
            println!("scp skipped: {e:#}");
            None
        }
    };
    println!(
        "bulk benchmark: one {} MiB file, {} rounds alternating, medians; {} cores\n  tmpfs: {} ({})\n  disk:  {} ({})",
        size >> 20,
        runs,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        tmpfs.path().display(),
        fs_type(tmpfs.path()),
        disk.path().display(),
        fs_type(disk.path()),
    );

    const RAW: [(&str, &str); 4] = [
        ("qxfer-s1", "raw quinn, qxfer's windows, qxfer's threads"),
        ("quinn-s1", "raw quinn, quinn's windows, qxfer's threads"),
        ("qxfer-1t", "raw quinn, qxfer's windows, one thread each"),
        ("quinn-1t", "raw quinn, quinn's windows, one thread each"),
    ];
    let names: Vec<&str> = RAW
        .iter()
        .map(|r| r.1)
        .chain([
            "qxfer send to tmpfs",
            "qxfer send to disk",
            "dd conv=fsync to disk (floor)",
            "qxfer send to tmpfs, listen --threads 1",
        ])
        .chain(if sshd.is_some() { vec!["scp aes128-gcm to tmpfs", "scp aes128-gcm to disk"] } else { vec![] })
        .collect();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); names.len()];
    for round in 0..runs {
        let mut row = Vec::new();
        for (variant, _) in RAW {
            row.push(raw_sample(&exe, size, variant)?);
        }
        row.push(qxfer_sample(&bin, &tmpfs.path().join(format!("q{round}")), &big, &[])?);
        sync_filesystem(disk.path())?;
        row.push(qxfer_sample(&bin, &disk.path().join(format!("q{round}")), &big, &[])?);
        sync_filesystem(disk.path())?;
        let floor = disk.path().join("floor.bin");
        row.push(machine_timed(
            Command::new("dd").arg(format!("if={}", big.display())).arg(format!("of={}", floor.display())).args([
                "bs=1M",
                "conv=fsync",
                "status=none",
            ]),
        )?);
        std::fs::remove_file(&floor)?;
        sync_filesystem(disk.path())?;
        row.push(qxfer_sample(&bin, &tmpfs.path().join(format!("t{round}")), &big, &["--threads", "1"])?);
        if let Some(sshd) = &sshd {
            for dir in [tmpfs.path(), disk.path()] {
                let to = dir.join("scp.bin");
                row.push(machine_timed(&mut sshd.scp(&big, &to))?);
                std::fs::remove_file(&to)?;
                sync_filesystem(disk.path())?;
            }
        }
        for (i, s) in row.into_iter().enumerate() {
            samples[i].push(s);
        }
    }

    let gib = size as f64 / f64::from(1u32 << 30);
    let med = |i: usize, f: fn(&Sample) -> f64| median(samples[i].iter().map(f).collect());
    let rate = |i: usize| size as f64 / med(i, |s| s.secs) / 1e6;
    println!("{:<46} {:>9} {:>14} {:>12}", "figure (whole command)", "MB/s", "busy CPU-s/GiB", "own CPU-s/GiB");
    for (i, name) in names.iter().enumerate() {
        let own = med(i, |s| s.own);
        let own = if own > 0.0 { format!("{:.2}", own / gib) } else { "-".into() };
        println!("{name:<46} {:>9.1} {:>14.2} {own:>12}", rate(i), med(i, |s| s.busy) / gib);
    }
    let (q_tmpfs, q_disk, floor, one) = (RAW.len(), RAW.len() + 1, RAW.len() + 2, RAW.len() + 3);
    let scp = one + 1;
    println!("ratios (throughput):");
    println!("  ceiling, qxfer's windows / quinn's windows (qxfer's threads): {:.3}", rate(0) / rate(1));
    println!("  ceiling, qxfer's windows / quinn's windows (one thread each): {:.3}", rate(2) / rate(3));
    println!(
        "  qxfer send to tmpfs / ceiling with qxfer's windows and threads: {:.3} (target 0.85)",
        rate(q_tmpfs) / rate(0)
    );
    println!("  qxfer send to tmpfs / best ceiling with qxfer's windows: {:.3}", rate(q_tmpfs) / rate(0).max(rate(2)));
    println!("  qxfer send to disk / dd conv=fsync floor: {:.3} (target 0.95)", rate(q_disk) / rate(floor));
    println!("  qxfer send to disk / to tmpfs: {:.3}", rate(q_disk) / rate(q_tmpfs));
    println!("  qxfer send to tmpfs, listen --threads 1 / default: {:.3}", rate(one) / rate(q_tmpfs));
    if sshd.is_some() {
        println!("  qxfer send / scp, to tmpfs: {:.3}", rate(q_tmpfs) / rate(scp));
        println!("  qxfer send / scp, to disk (scp does not fsync): {:.3}", rate(q_disk) / rate(scp + 1));
        println!("  busy CPU-s per GiB, qxfer / scp, to tmpfs: {:.3}", med(q_tmpfs, |s| s.busy) / med(scp, |s| s.busy));
    }
    println!(
        "peak RSS during the tmpfs send: client {:.1} MiB, listener {:.1} MiB (limit 32 each)",
        med(q_tmpfs, |s| s.client_kib as f64) / 1024.0,
        med(q_tmpfs, |s| s.listener_kib as f64) / 1024.0
    );
    Ok(())
}
