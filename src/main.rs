//! The `qxfer` binary: parse arguments, set up logging, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use qxfer::cli::{self, Cli, Command};
use qxfer::client::{exit, ClientError};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let default_level = match cli.verbose {
        0 if matches!(cli.command, Command::Listen(_)) => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QXFER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("qxfer={default_level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();

    // Handing packets between threads costs more than it gains for one connection
    // (measured: the raw ceiling on one thread at both ends is about a third faster and 15 %
    // cheaper in CPU on two cores). A client command is one connection whose disk work runs
    // on blocking threads: one thread. The listener serves many connections and keeps one
    // thread per core, so a flood on some connections cannot take the thread another one's
    // transfer runs on; `listen --threads 1` trades that for about 10 % more speed alone
    // (docs/benchmarks.md).
    let threads = match &cli.command {
        Command::Listen(a) => {
            cli::listen_threads(a.threads, std::thread::available_parallelism().map_or(1, |n| n.get()))
        }
        _ => 1,
    };
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("qxfer: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ERROR as u8);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    if let Err(e) = &result {
        // Interrupted: work still running on the blocking pool (hashing a held part, a
        // prompt) is not waited for; what was transferred is kept and resumes.
        if e.downcast_ref::<cli::Exit>().is_some_and(|x| x.code == exit::INTERRUPTED) {
            runtime.shutdown_background();
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let text = message(&e);
            if !text.is_empty() {
                eprintln!("qxfer: {text}");
            }
            let code = match e.downcast_ref::<cli::Exit>() {
                Some(x) => x.code,
                None => e.downcast_ref::<ClientError>().map_or(exit::ERROR, ClientError::exit_code),
            };
            ExitCode::from(code as u8)
        }
    }
}

/// The error and its causes on one line, each text once: a cause whose text the line
/// already holds (a wrapper that repeats its source) is not printed again.
fn message(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(io).context("reading x: no such file").context("sending");
        assert_eq!(message(&e), "sending: reading x: no such file");
        let e = anyhow::anyhow!("plain");
        assert_eq!(message(&e), "plain");
    }

    #[test]
    fn listener_threads_default_to_the_cores() {
        use qxfer::cli::listen_threads;
        assert_eq!(listen_threads(None, 0), 1);
        assert_eq!(listen_threads(None, 2), 2);
        assert_eq!(listen_threads(Some(1), 16), 1);
        assert_eq!(listen_threads(Some(4), 2), 4);
    }
}
